"""`streamlit run` for `peftplan dashboard`, with the first page's imports warmed once the server listens.

serve(["run", APP, options...]) is `streamlit run APP [options]` in this process plus one background thread.
As soon as the server accepts connections, the thread imports what the first page needs (pandas, pyarrow,
plotly, the planner) while the browser loads the app's JavaScript, so the first script run finds them in
sys.modules instead of paying for them before the first chart. It waits for the server first so as not to
slow its start. Dashboard modules are not warmed (their st.cache_data functions belong to the running app),
and torch is never imported. The first HTML response also starts the browser loading the first view's chart
code (dashboards.preload).
"""

from __future__ import annotations

import importlib
import socket
import sys
import threading
import time

from dashboards import preload

WARM_MODULES = (
    "pandas",
    "pyarrow",
    "plotly.graph_objects",
    "plotly.io",
    "planner.catalog",
    "planner.measured",
    "planner.cost",
    "planner.breakeven",
    "planner.capacity",
    "planner.scenario",
)
WAIT_FOR_SERVER_S = 30.0


def _option(argv: list[str], name: str, default: str) -> str:
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return default


def _wait_until_listening(host: str, port: int, timeout_s: float) -> None:
    host = "127.0.0.1" if host in ("", "0.0.0.0") else ("::1" if host == "::" else host)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)


def warm(host: str, port: int, modules: tuple[str, ...] = WARM_MODULES) -> None:
    _wait_until_listening(host, port, WAIT_FOR_SERVER_S)
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a page that needs the module reports the failure itself
            pass


def serve(args: list[str]) -> int:
    """Run Streamlit's command line with `args` (e.g. ["run", app, "--server.port", "8501"])."""
    host = _option(args, "--server.address", "127.0.0.1")
    port = int(_option(args, "--server.port", "8501"))
    preload.install()
    threading.Thread(target=warm, args=(host, port), name="warm-imports", daemon=True).start()
    from streamlit.web.cli import main as streamlit_main

    sys.argv = ["streamlit", *args]
    try:
        streamlit_main()
    except SystemExit as exc:  # click ends with sys.exit
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0
