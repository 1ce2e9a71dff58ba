"""Helm for the tests: built once from the Go module proxy, cached, then run as a tool.

There is no helm binary on the machines this project runs on, so the first use builds it
with ``go install helm.sh/helm/v3/cmd/helm@<HELM_VERSION>`` into
``<cache>/helm/<HELM_VERSION>/helm`` (``<cache>`` as for the control plane:
$NETFENCE_CACHE_DIR, else $XDG_CACHE_HOME/netfence, else ~/.cache/netfence). The build
takes a few minutes; a second call finds the binary and costs nothing.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from netfence.localcluster.building import cache_dir

HELM_VERSION = "v3.22.0"
HELM_PACKAGE = "helm.sh/helm/v3/cmd/helm"
# The Kubernetes version helm assumes when it talks to no cluster (`helm template`, `helm
# lint`'s deprecation checks). helm's own Makefile derives it from the k8s.io/client-go that
# HELM_VERSION requires (v0.37 -> 1.37) and sets it with -X, as it does the version; a bare
# `go install` would leave the fallbacks in the source (Kubernetes 1.20, version "v3.22").
HELM_KUBE_VERSION = ("1", "37")
_LDFLAGS = " ".join(
    [
        "-s",
        "-w",
        f"-X helm.sh/helm/v3/internal/version.version={HELM_VERSION}",
        *(
            f"-X helm.sh/helm/v3/pkg/{package}.k8sVersion{part}={value}"
            for package in ("chartutil", "lint/rules")
            for part, value in zip(("Major", "Minor"), HELM_KUBE_VERSION, strict=True)
        ),
    ]
)
BUILD_TIMEOUT_SECONDS = 1200
CHART_DIR = Path(__file__).resolve().parents[2] / "deploy" / "helm" / "netfence"

Manifest = dict[str, Any]


class HelmError(RuntimeError):
    """helm could not be built, or a helm command failed."""


def binary_path() -> Path:
    return cache_dir() / "helm" / HELM_VERSION / "helm"


def needs_build() -> bool:
    return not os.access(binary_path(), os.X_OK)


def ensure_helm() -> Path:
    """The path of the pinned helm, built first if it is not in the cache yet."""
    target = binary_path()
    if not needs_build():
        return target
    go = shutil.which("go")
    if go is None:
        raise HelmError(f"helm {HELM_VERSION} is not cached at {target} and there is no `go`")
    target.parent.mkdir(parents=True, exist_ok=True)
    with _locked(target.parent / ".build.lock"):
        if not needs_build():  # built by someone else while we waited for the lock
            return target
        with tempfile.TemporaryDirectory(dir=target.parent, prefix=".build-") as tmp:
            # go install writes the binary into GOBIN; building into a private directory
            # and renaming means nobody ever sees a half-written helm.
            env = {**os.environ, "GOBIN": tmp, "CGO_ENABLED": "0"}
            try:
                subprocess.run(
                    [
                        go,
                        "install",
                        "-trimpath",
                        f"-ldflags={_LDFLAGS}",
                        f"{HELM_PACKAGE}@{HELM_VERSION}",
                    ],
                    env=env,
                    cwd=tmp,
                    check=True,
                    capture_output=True,
                    text=True,
                    timeout=BUILD_TIMEOUT_SECONDS,
                )
            except subprocess.CalledProcessError as e:
                tail = "\n".join((e.stderr or "").splitlines()[-40:])
                raise HelmError(f"building helm {HELM_VERSION} failed:\n{tail}") from e
            except subprocess.TimeoutExpired as e:
                raise HelmError(
                    f"building helm {HELM_VERSION} took over {BUILD_TIMEOUT_SECONDS}s"
                ) from e
            Path(tmp, "helm").replace(target)
    return target


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def run(*args: str) -> str:
    """Run helm with ``args`` and return its stdout; HelmError with its output on failure.

    helm's own config, cache and data directories point into a private temporary directory,
    so nothing from (or into) the user's helm setup takes part.
    """
    helm = ensure_helm()
    with tempfile.TemporaryDirectory(prefix="netfence-helm-") as home:
        env = {
            **os.environ,
            "HELM_CONFIG_HOME": str(Path(home, "config")),
            "HELM_CACHE_HOME": str(Path(home, "cache")),
            "HELM_DATA_HOME": str(Path(home, "data")),
        }
        env.pop("KUBECONFIG", None)
        proc = subprocess.run(
            [str(helm), *args], env=env, capture_output=True, text=True, timeout=120, check=False
        )
    if proc.returncode != 0:
        raise HelmError(
            f"helm {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
        )
    return proc.stdout


def lint(chart_dir: Path = CHART_DIR, values: Mapping[str, Any] | None = None) -> str:
    """``helm lint --strict`` on the chart; returns its report."""
    with _values_file(values) as path:
        return run("lint", "--strict", str(chart_dir), "--values", str(path))


def render(
    chart_dir: Path = CHART_DIR,
    release: str = "netfence",
    namespace: str = "netfence-system",
    values: Mapping[str, Any] | None = None,
) -> list[Manifest]:
    """The chart's manifests as ``helm template`` renders them for this release."""
    with _values_file(values) as path:
        out = run(
            "template",
            release,
            str(chart_dir),
            "--namespace",
            namespace,
            "--values",
            str(path),
        )
    return [doc for doc in yaml.safe_load_all(out) if doc]


@contextmanager
def _values_file(values: Mapping[str, Any] | None) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="netfence-values-") as tmp:
        path = Path(tmp, "values.yaml")
        path.write_text(json.dumps(dict(values or {})))  # JSON is YAML
        yield path
