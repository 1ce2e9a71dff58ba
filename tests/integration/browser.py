"""The console in a real browser: Debian's chromium driven by Playwright, and `netfence serve`.

Playwright's own browser downloads need the internet; these tests launch the system's
chromium instead (`apt-get install chromium`). Screenshots go to test-output/screenshots/
at the repository root (git ignores test-output/).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, Playwright, ViewportSize

CHROMIUM = Path(os.environ.get("NETFENCE_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}


async def launch(playwright: Playwright) -> Browser:
    """Debian's chromium, headless, with a fresh temporary profile (Playwright makes one)."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"no chromium at {CHROMIUM}: install Debian's (apt-get install -y chromium) or "
            "point NETFENCE_TEST_CHROMIUM at one"
        )
    return await playwright.chromium.launch(
        executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
    )


async def screenshot(page: Page, name: str, *, full_page: bool = True) -> Path:
    """Save what the page shows now: the whole page, or (for dialogs) the window."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=full_page)
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Console:
    url: str
    log: Path


@contextlib.contextmanager
def serve(kubeconfig: Path, log: Path, *extra: str) -> Iterator[Console]:
    """`netfence serve` (API, console and controller) as its own process, stopped at the end."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "netfence",
        "--kubeconfig",
        str(kubeconfig),
        "serve",
        "--port",
        str(port),
        *extra,
    ]
    with log.open("w") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_serving(process, url, log)
        yield Console(url=url, log=log)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_serving(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"netfence serve exited with {process.returncode}:\n{_tail(log)}")
        try:
            if httpx.get(f"{url}/api/v1/session", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"netfence serve did not answer within 30s:\n{_tail(log)}")
        time.sleep(0.2)


def _tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
