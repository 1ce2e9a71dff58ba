"""`python -m netfence`."""

from netfence.composition import main

main()
