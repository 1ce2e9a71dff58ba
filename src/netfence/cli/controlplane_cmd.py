"""`netfence controlplane up|down`: the local kube-apiserver for demos and tests."""

from __future__ import annotations

import typer

app = typer.Typer(help="Run a local kube-apiserver with embedded etcd (for demos and tests).")
