"""What a user waits for: `netfence connectivity -f FILE` from the files to the last byte.

Writes the generated cluster (`connectivity_cluster`: 25 pods per namespace, 7 declared
ports, a policy for every five pods) as one YAML file per size, then runs the real command
as a child process, once per output form and run:

* `-o json` (every verdict), `-o json --compact`, and the table;
* the time from starting the process to the end of its output, read through a pipe as a
  script or `> file` would, the child's CPU time and its peak RSS (`wait4`'s rusage);
* then, in this process, where the CPU time goes: decoding and reading the files, the
  matrix, and each writer into a sink that only counts bytes.

Prints the figures, medians of the runs; asserts nothing. Every verdict at 20,000 pods is
about 86 GB of JSON and its table about 5 GB, so those two run only when asked for.

    python benchmarks/connectivity_e2e_bench.py [--sizes 500,2000,5000,20000] [--runs 3]
"""

from __future__ import annotations

import argparse
import gc
import io
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import connectivity_cluster

from netfence.cli import connectivity_output
from netfence.core import manifests
from netfence.core.evaluation.matrices import Matrix
from netfence.usecases import connectivity as cases

FORMS: dict[str, list[str]] = {
    "json": ["-o", "json"],
    "compact": ["-o", "json", "--compact"],
    "table": [],
}
# Past this many pods, only the compact form runs unless --every-form is given.
_LARGE = 5_000


class _Counter(io.RawIOBase):
    """A sink that keeps nothing but the number of bytes written to it."""

    def __init__(self) -> None:
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        self.size += len(data)
        return len(data)


def _run(path: Path, form: list[str]) -> tuple[float, float, float, int]:
    """(seconds to the last byte of output, the child's CPU seconds, its peak RSS in MB,
    bytes of output)."""
    command = [sys.executable, "-m", "netfence", "connectivity", "-f", str(path), *form]
    environment = {**os.environ, "KUBECONFIG": "/nonexistent", "NO_COLOR": "1"}
    start = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, env=environment)
    assert child.stdout is not None
    size = 0
    while chunk := child.stdout.read(1 << 20):
        size += len(chunk)
    elapsed = time.perf_counter() - start
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(command)} exited with {child.returncode}")
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, size


def _timed(action: Callable[[], object]) -> float:
    """CPU seconds, which other processes on a shared machine disturb less than wall time."""
    gc.collect()
    start = time.process_time()
    action()
    return time.process_time() - start


def _in_process(path: Path) -> None:
    text = path.read_bytes()
    inventory: list[manifests.Inventory] = []
    reading = _timed(lambda: inventory.append(manifests.read_texts([(str(path), text)])))
    result: list[Matrix] = []
    computing = _timed(
        lambda: result.append(cases.connectivity(inventory[0], workloads=False).matrix)
    )
    matrix = result[0]
    writers: dict[str, Callable[[Matrix, BinaryIO], None]] = {
        "compact": connectivity_output.write_compact,
        "table": lambda m, out: connectivity_output.write_table(m, out, colour=False),
    }
    if len(matrix.endpoints) <= _LARGE:
        writers["json"] = connectivity_output.write_verdicts
    written = []
    for name, writer in writers.items():
        sink = _Counter()
        seconds = _timed(lambda writer=writer, sink=sink: writer(matrix, sink))  # type: ignore[misc]
        written.append(f"{name} {seconds:.2f} s")
    print(
        f"  in process, CPU: reading the file {reading:.2f} s, the matrix {computing:.2f} s, "
        f"writing {', '.join(written)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="500,2000,5000,20000", help="pods, comma-separated")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--forms", default="json,compact,table", help=", ".join(FORMS))
    parser.add_argument(
        "--every-form", action="store_true", help="also every verdict and the table past 5,000"
    )
    options = parser.parse_args()
    forms = options.forms.split(",")
    print(
        f"connectivity end to end: Python {platform.python_version()}, {platform.machine()}, "
        f"{os.cpu_count()} cores; medians of {options.runs} runs"
    )
    with tempfile.TemporaryDirectory(prefix="netfence-bench-") as directory:
        for pods in (int(n) for n in options.sizes.split(",")):
            namespaces = pods // connectivity_cluster.PODS_PER_NAMESPACE
            documents = connectivity_cluster.manifests(namespaces=namespaces)
            path = Path(directory) / f"cluster-{pods}.yaml"
            connectivity_cluster.write(path, documents)
            count = sum(1 for _ in connectivity_cluster.policies(documents))
            del documents
            # The machine may be shared: the load says how much the figures are worth.
            print(
                f"\n{pods:,} pods, {namespaces:,} namespaces, {count:,} policies: "
                f"{path.stat().st_size / 2**20:.1f} MiB of YAML "
                f"(load average {os.getloadavg()[0]:.1f})"
            )
            for form in forms:
                if pods > _LARGE and form != "compact" and not options.every_form:
                    print(f"  {form}: skipped past {_LARGE:,} pods (--every-form runs it)")
                    continue
                runs = [_run(path, FORMS[form]) for _ in range(options.runs)]
                seconds = [r[0] for r in runs]
                cpu = [r[1] for r in runs]
                peaks = [r[2] for r in runs]
                print(
                    f"  {form}: {statistics.median(seconds):.2f} s "
                    f"({', '.join(f'{s:.2f}' for s in seconds)}), CPU "
                    f"{statistics.median(cpu):.2f} s, peak RSS "
                    f"{statistics.median(peaks):.0f} MB ({', '.join(f'{p:.0f}' for p in peaks)}), "
                    f"{runs[0][3] / 2**20:,.1f} MiB of output"
                )
            _in_process(path)
            path.unlink()


if __name__ == "__main__":
    main()
