"""Starting `peftplan dashboard` and loading it in Debian's Chromium: shared by the real-browser test
(tests/test_browser.py) and the speed benchmark (dashboards/speed.py). Playwright is imported by the callers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from dashboards import RESULTS_ENV

CHROMIUM = Path("/usr/bin/chromium")
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
PEFTPLAN = Path(sys.executable).parent / "peftplan"
CHART = '[data-testid="stPlotlyChart"] .main-svg'


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_dashboard(port: int, log: Path, results: Path | None = None) -> subprocess.Popen:
    """`peftplan dashboard` on a port, in its own process group (stop() ends the group)."""
    command = [str(PEFTPLAN), "dashboard", "--port", str(port)]
    if results is not None:
        command += ["--results", str(results)]
    env = {k: v for k, v in os.environ.items() if k != RESULTS_ENV}
    with log.open("w") as out:
        return subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


class ServerExited(RuntimeError):
    pass


def _accepts(url: str) -> bool:
    """Whether the server of `url` accepts a TCP connection now."""
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=0.5):
            return True
    except OSError:
        return False


def goto_when_up(page, url: str, proc: subprocess.Popen, log: Path, deadline_s: float) -> None:
    """Load `url` as soon as the server accepts connections (polled every 10 ms: a browser navigation that
    is refused costs far longer than that before it can be tried again)."""
    while True:
        if proc.poll() is not None:
            raise ServerExited(f"peftplan dashboard exited with {proc.returncode}:\n{log.read_text()}")
        if not _accepts(url):
            if time.perf_counter() > deadline_s:
                raise TimeoutError(f"{url} did not answer in time:\n{log.read_text()}")
            time.sleep(0.01)
            continue
        try:
            page.goto(url, wait_until="commit", timeout=5000)
            return
        except Exception:  # accepted, then closed while Streamlit starts
            if time.perf_counter() > deadline_s:
                raise
            time.sleep(0.01)
