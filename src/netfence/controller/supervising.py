"""The controller as a child process of the console's server, kept running.

The console and the controller share no event loop: a burst of console traffic cannot
delay a reconcile, and the two use a core each. The child is an ordinary
`netfence controller` (leader-elected, so a restart is safe); it is restarted with backoff
when it stops by itself, stopped with SIGTERM (which releases its Lease) when the server
stops, and killed if it outlives a grace period. On Linux it also gets SIGTERM if the
server dies without stopping it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import signal
import sys
import time
from collections.abc import Sequence

logger = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
# A child that ran this long before it stopped is restarted at once, not after backoff.
_HEALTHY_SECONDS = 60.0


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the parent goes, however it goes."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class ChildProcess:
    """Runs `command` until cancelled, restarting it when it exits."""

    def __init__(self, command: Sequence[str], *, name: str, grace_seconds: float = 15.0) -> None:
        self._command = list(command)
        self._name = name
        self._grace = grace_seconds
        self.restarts = 0
        self.pid: int | None = None

    async def run(self) -> None:
        failures = 0
        while True:
            started = time.monotonic()
            process = await asyncio.create_subprocess_exec(
                *self._command, preexec_fn=_die_with_parent
            )
            self.pid = process.pid
            logger.info("started the %s (pid %d)", self._name, process.pid)
            try:
                code = await process.wait()
            except asyncio.CancelledError:
                await self._stop(process)
                raise
            failures = 0 if time.monotonic() - started > _HEALTHY_SECONDS else failures + 1
            delay = min(30.0, 0.5 * 2**failures)
            logger.error(
                "the %s stopped by itself (exit code %s); restarting it in %.1fs",
                self._name,
                code,
                delay,
            )
            self.restarts += 1
            await asyncio.sleep(delay)

    async def _stop(self, process: asyncio.subprocess.Process) -> None:
        if process.returncode is not None:
            return
        process.terminate()
        try:
            await asyncio.wait_for(asyncio.shield(process.wait()), self._grace)
        except TimeoutError:
            logger.warning("the %s did not stop within %.0fs; killing it", self._name, self._grace)
            process.kill()
            await process.wait()
