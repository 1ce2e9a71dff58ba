"""Build the Go control plane once and cache it: one binary that runs etcd and
kube-apiserver, or (`netfence-controlplane controller-manager|scheduler`) one of
kube-controller-manager and kube-scheduler.

The binary lands in ``<cache>/controlplane/<hash>/netfence-controlplane`` where
``<hash>`` covers the Go sources (go.mod, go.sum, *.go), so a second call costs
nothing and a changed source builds a new binary beside the old one.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

BINARY_NAME = "netfence-controlplane"
_OUTPUT_TAIL_LINES = 40


class BuildError(RuntimeError):
    """The Go control plane could not be located or built."""


def source_dir() -> Path:
    """The Go module of the control plane: $NETFENCE_CONTROLPLANE_SRC or <repo>/controlplane."""
    override = os.environ.get("NETFENCE_CONTROLPLANE_SRC")
    # src/netfence/localcluster/building.py -> the repository root is three levels up.
    src = Path(override) if override else Path(__file__).resolve().parents[3] / "controlplane"
    if not (src / "go.mod").is_file():
        raise BuildError(
            f"control plane sources not found at {src} (no go.mod); "
            "set NETFENCE_CONTROLPLANE_SRC to the controlplane/ directory"
        )
    return src


def cache_dir() -> Path:
    """$NETFENCE_CACHE_DIR, else $XDG_CACHE_HOME/netfence, else ~/.cache/netfence."""
    if explicit := os.environ.get("NETFENCE_CACHE_DIR"):
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "netfence"


def source_hash(src: Path) -> str:
    """A sha256 over the names and contents of go.mod, go.sum and *.go in ``src``
    (and over the linker flags, which follow from go.mod and this module)."""
    digest = hashlib.sha256(_ldflags(src).encode() + b"\0")
    files = [src / "go.mod", src / "go.sum", *sorted(src.glob("*.go"))]
    for path in files:
        digest.update(path.name.encode() + b"\0")
        digest.update(path.read_bytes() if path.is_file() else b"")
        digest.update(b"\0")
    return digest.hexdigest()[:20]


def binary_path() -> Path:
    """Where the binary for the current sources is (or will be) cached."""
    src = source_dir()
    return cache_dir() / "controlplane" / source_hash(src) / BINARY_NAME


def needs_build() -> bool:
    """True when ensure_binary() would have to run ``go build`` (minutes the first time)."""
    return not _usable(binary_path())


def ensure_binary() -> Path:
    """Return the cached binary, building it with ``go build`` first if needed."""
    src = source_dir()
    target = cache_dir() / "controlplane" / source_hash(src) / BINARY_NAME
    if _usable(target):
        return target
    go = shutil.which("go")
    if go is None:
        raise BuildError(
            "the Go toolchain (`go`) is not on PATH; it is needed to build " + str(src)
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    # One build at a time per source hash; whoever waited finds the binary ready.
    with (target.parent / ".build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _usable(target):
            return target
        fd, tmp_name = tempfile.mkstemp(prefix=f".{BINARY_NAME}.", dir=target.parent)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            _go_build(go, src, tmp)
            tmp.chmod(0o755)
            tmp.replace(target)
        finally:
            tmp.unlink(missing_ok=True)
    return target


def _ldflags(src: Path) -> str:
    """Strip symbols, and stamp the Kubernetes version that go.mod pins so that /version
    reports it (a plain `go build` reports v0.0.0-master)."""
    flags = "-s -w"
    match = re.search(
        r"^\s*k8s\.io/kubernetes\s+v(\d+)\.(\d+)\.(\d+)\s*$",
        (src / "go.mod").read_text(),
        re.MULTILINE,
    )
    if match:
        major, minor, patch = match.groups()
        pkg = "k8s.io/component-base/version"
        flags += (
            f" -X {pkg}.gitVersion=v{major}.{minor}.{patch}"
            f" -X {pkg}.gitMajor={major} -X {pkg}.gitMinor={minor}"
            f" -X {pkg}.gitTreeState=clean"
        )
    return flags


def _go_build(go: str, src: Path, output: Path) -> None:
    cmd = [go, "build", "-trimpath", "-buildvcs=false", f"-ldflags={_ldflags(src)}"]
    cmd += ["-o", str(output), "."]
    proc = subprocess.run(
        cmd, cwd=src, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        output_lines = (proc.stdout + proc.stderr).strip().splitlines()
        tail = "\n".join(output_lines[-_OUTPUT_TAIL_LINES:])
        raise BuildError(f"`{' '.join(cmd)}` failed in {src} (exit {proc.returncode}):\n{tail}")


def _usable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)
