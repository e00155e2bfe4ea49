"""`peftplan dashboard`: start the Streamlit app over a results folder.

Streamlit runs headless on 127.0.0.1 unless told otherwise: no browser is opened and no usage statistics are
sent. The results folder (data/results/ by default) reaches the app through the PEFTPLAN_RESULTS_DIR
environment variable. Streamlit is imported only when the command runs.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from core.errors import InputError
from core.paths import RESULTS_DIR
from dashboards import RESULTS_ENV

APP_PATH = Path(__file__).resolve().parent / "app.py"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8501


def register(subparsers) -> None:
    """Add the `dashboard` sub-command to the root parser's sub-parsers."""
    parser = subparsers.add_parser(
        "dashboard",
        help="start the Streamlit dashboard",
        description="Start the dashboard (Streamlit) over a results folder; open the printed address.",
    )
    parser.add_argument(
        "--results",
        default=None,
        metavar="DIR",
        help=f"results folder or .jsonl file (default: {RESULTS_DIR})",
    )
    parser.add_argument(
        "--host", default=DEFAULT_HOST, help=f"address to listen on (default: {DEFAULT_HOST})"
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default: {DEFAULT_PORT})")
    parser.set_defaults(func=run)


def resolve_results(results: str | None) -> Path:
    """The results path the app reads. The default folder may not exist yet (the app then says what to run);
    a path given on the command line must exist."""
    if results is None:
        return RESULTS_DIR
    path = Path(results).expanduser().resolve()
    if not path.exists():
        raise InputError(
            "results path not found",
            field="--results",
            value=results,
            accepted="a folder of .jsonl result files or one .jsonl file",
        )
    return path


def streamlit_args(host: str, port: int) -> list[str]:
    """Arguments of `streamlit run`: headless, no usage statistics, no file watcher, no tracebacks, no
    collection after each run."""
    if not 1 <= port <= 65535:
        raise InputError("port out of range", field="--port", value=port, accepted="1 to 65535")
    if not host.strip():
        raise InputError("empty host", field="--host", value=host, accepted="an address such as 127.0.0.1")
    return [
        "run",
        str(APP_PATH),
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
        "--server.runOnSave",
        "false",
        "--client.toolbarMode",
        "viewer",
        # Pages catch their own errors; anything unforeseen shows a short message, never a traceback.
        "--client.showErrorDetails",
        "none",
        "--global.developmentMode",
        "false",
        # No full garbage collection after every script run: with pandas and plotly loaded it takes about
        # 0.1 s of a core while the browser draws what the run sent (Python's own collection still runs).
        "--runner.postScriptGC",
        "false",
    ]


def launch(args: list[str]) -> int:
    """Run Streamlit in this process (dashboards.launch: `streamlit run` set up for a fast first view)."""
    from dashboards.launch import serve

    return serve(args)


def run(args: argparse.Namespace) -> int:
    results = resolve_results(args.results)
    streamlit = streamlit_args(args.host, args.port)
    os.environ[RESULTS_ENV] = str(results)
    print(f"peftplan dashboard: http://{args.host}:{args.port}  (results: {results})", flush=True)
    return launch(streamlit)
