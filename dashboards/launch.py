"""`streamlit run` for `peftplan dashboard`, set up for a fast first view.

serve(["run", APP, options...]) is `streamlit run APP [options]` in this process, with
- TCP_NODELAY on the listening socket (accepted connections inherit it). Streamlit creates that socket
  without naming TCP as its protocol, so asyncio leaves Nagle's algorithm on for every connection: each
  answer after a connection's first (a header write, then a body write) then waits for the browser's
  delayed acknowledgement, 40 ms on Linux, and the first view's ~75 files took most of a second;
- two pieces of Streamlit's start-up put off, each about 0.1 s before the server listened: its plotly
  theme (a template built when streamlit is imported) and its scan of installed packages for components
  (the app uses none). A background thread sets the theme once the browser has asked for every file the
  page names (run earlier, it slowed those answers), while the browser runs their code; app.py runs it
  first if it is still pending (run_pending), so every figure is made with the theme set. The scan waits
  until the first script run has ended (first_run_done) and the browser has had AFTER_FIRST_RUN_S to draw
  it: it is not needed for the first view;
- in that same spell, before the browser asks for the first script run, two things that run would do
  itself: loading Streamlit's emoji catalog (set_page_config checks the page icon against it) and its
  one-time check for an interactive prompt (inspect.stack() over the script's deep stack), each about
  0.03 s (ahead_of_first_run).
The first HTML response also starts the browser loading the first view's chart code, and Streamlit's files
are served in one step each (dashboards.preload).

The first page's imports (pandas, plotly, the planner) are not warmed ahead: measured, importing them while
the browser loads the page slows the server's answers (an import holds the interpreter's lock), and the
script run imports them while the browser runs the chart code anyway. Warming them (and the default
scenario's plan) once the page's files were answered did not help either: the script run now sends the first
chart before the browser has run the chart code, so the browser's main thread is the first view's critical
path. torch is never imported.

The first view is bound by the machine's work, not by waiting: on two cores, from starting the server to the
first chart, the machine is 94-96 % busy (dashboards.speed counts it: the server's processes 1.55-1.8
CPU-seconds, the browser's 3.2-3.5), so work moved earlier only takes a core from other work; less work in
that spell is what helps. The component scan's wait for the browser to draw (AFTER_FIRST_RUN_S) and no full
garbage collection after each script run (dashboards.cli) took the server's share from 1.60 to 1.40
CPU-seconds, the first chart's median from 2.54 and 2.62 s to 2.47 and 2.40, and a Cost-page change's from
0.50 s to 0.48 and 0.46 (two interleaved rounds of four servers each). Measured and not kept: answering the page and Streamlit's files from a process forked before Streamlit is imported (the
page's first byte at 0.1 s instead of 0.5 s; but the import then shared the cores with the browser's
loading, ended at 0.5-1.3 s instead of 0.45, and the first chart came no sooner: median 2.90 s against 2.71
without it, interleaved over four rounds; with the Overview's modules also imported as soon as Streamlit had
the socket, 2.64 s: within the rounds' spread, which ran from 2.5 to 3.8 s as the machine's speed drifted).
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import socket
import sys
import threading
import time

from dashboards import preload

WAIT_FOR_SERVER_S = 30.0
# With no browser after WAIT_FOR_PAGE_S, or no script run ended after WAIT_FOR_FIRST_RUN_S, the work put off
# runs anyway.
WAIT_FOR_PAGE_S = 5.0
WAIT_FOR_FIRST_RUN_S = 30.0
# The work put off until the first script run has ended waits this much longer: the browser is drawing the
# page the run sent (about half a second on two cores, which the 0.2 s of the component scan would share).
AFTER_FIRST_RUN_S = 5.0
_deferred: list = []  # work put off until the page has loaded (callables)
_after_first_run: list = []  # work put off until the first script run has ended (callables)
_pending = threading.Lock()
_first_run = threading.Event()
THEME_MODULE = "streamlit.elements.lib.streamlit_plotly_theme"


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


def run_deferred(host: str, port: int) -> None:
    """Once the server listens and the browser has loaded the page's files: the work put off until then;
    then, once the first script run has ended, the work put off until that."""
    _wait_until_listening(host, port, WAIT_FOR_SERVER_S)
    preload.wait_until_loaded(WAIT_FOR_PAGE_S)
    run_pending()
    ahead_of_first_run()
    _first_run.wait(WAIT_FOR_FIRST_RUN_S)
    time.sleep(AFTER_FIRST_RUN_S)  # the browser draws the first page meanwhile, on the same cores
    while _after_first_run:
        _after_first_run.pop(0)()


def first_run_done() -> None:
    """Called by app.py at the end of every script run: the work put off until the first has ended may run."""
    _first_run.set()


def ahead_of_first_run() -> None:
    """Streamlit's emoji catalog loaded and its check for an interactive prompt made (it finds none here, as
    it would in the script's thread), so that the first script run does neither."""
    import streamlit.emojis  # noqa: F401  (set_page_config checks the page icon against it)
    from streamlit import delta_generator

    check = getattr(delta_generator, "_maybe_print_use_warning", None)
    if check is not None:  # once per process: inspect.stack(), cheap from this thread's short stack
        check()


def run_pending() -> None:
    """Run the work put off at start, now, each once: called by run_deferred, and by app.py before a page
    draws anything (the plotly theme must be set before the first figure is made)."""
    with _pending:
        while _deferred:
            _deferred.pop(0)()


def no_delay() -> bool:
    """Streamlit's listening socket with TCP_NODELAY (inherited by every accepted connection); False where
    Streamlit binds it otherwise than this was written against."""
    try:
        from streamlit.web.server.starlette import starlette_server
    except ImportError:
        return False

    def make(bind):
        def bind_no_delay(address: str, port: int, backlog: int) -> socket.socket:
            sock = bind(address, port, backlog)
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock

        return bind_no_delay

    return preload.replace_once(starlette_server, "_bind_socket", make)


def defer_component_scan() -> bool:
    """Streamlit's scan of installed packages for components, run by run_deferred() after the first script
    run instead of before the server listens; False where Streamlit has no such scan."""
    try:
        from streamlit.components.v2.component_manager import BidiComponentManager
    except ImportError:
        return False

    def make(scan):
        def later(self, **kwargs) -> None:
            _after_first_run.append(lambda: scan(self, **kwargs))

        return later

    return preload.replace_once(BidiComponentManager, "discover_and_register_components", make)


class _DeferTheme(importlib.abc.MetaPathFinder):
    """Loads Streamlit's plotly theme module with its configure function (which `import streamlit` calls,
    building a plotly template: about 0.1 s before the server listens) put off until run_pending."""

    def find_spec(self, name, path, target=None):
        if name != THEME_MODULE:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        run = getattr(getattr(spec, "loader", None), "exec_module", None)
        if run is None:
            return spec

        def exec_module(module) -> None:
            run(module)
            preload.replace_once(
                module,
                "configure_streamlit_plotly_theme",
                lambda configure: lambda: _deferred.append(configure),
            )

        spec.loader.exec_module = exec_module
        return spec


def defer_plotly_theme() -> bool:
    """Streamlit's plotly theme set by run_pending() instead of on `import streamlit`; False where Streamlit is
    imported already (its theme is set)."""
    if THEME_MODULE in sys.modules:
        return False
    if not any(isinstance(finder, _DeferTheme) for finder in sys.meta_path):
        sys.meta_path.insert(0, _DeferTheme())
    return True


def serve(args: list[str]) -> int:
    """Run Streamlit's command line with `args` (e.g. ["run", app, "--server.port", "8501"])."""
    host = _option(args, "--server.address", "127.0.0.1")
    port = int(_option(args, "--server.port", "8501"))
    defer_plotly_theme()  # before anything imports streamlit
    preload.install()
    no_delay()
    defer_component_scan()
    threading.Thread(target=run_deferred, args=(host, port), name="deferred-start-up", daemon=True).start()
    from streamlit.web.cli import main as streamlit_main

    sys.argv = ["streamlit", *args]
    try:
        streamlit_main()
    except SystemExit as exc:  # click ends with sys.exit
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0
