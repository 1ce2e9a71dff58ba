"""`python -m netfence.cli`."""

from netfence.cli.main import main

main()
