"""The first HTML response starts loading the Overview's front-end code, and Streamlit's files are served
without waiting on threads (dashboards.launch installs both).

Streamlit's front end fetches the code of each kind of element (its plotly chart code is about 5 MB of
JavaScript, some 0.75 s of the browser's main thread on a 2-core machine) only when the script run's first
element of that kind arrives. Here index.html, as Streamlit serves it, also carries modulepreload links for
the chunks the Overview's first run needs (fetched and compiled while the rest of the front end loads, not
run) and a module script that runs the chart code as soon as the front end has asked for the script run, so
that it runs while the server runs the page's script. Streamlit's own imports later find the code loaded.
Nothing is drawn and no content changes. (V8's compile hint, a first line `//# allFunctionsCalledOnLoad`,
was measured on the chart code and on Streamlit's entry chunk: running the chart code took 0.55 s instead
of 0.82 s, but compiling all of it in the background ended later, and on two shared cores the first chart
came no sooner; it is not used.) Where Streamlit's static files are laid out otherwise (another
Streamlit build), the page is served unchanged and the code loads with the first elements as before.

Each of Streamlit's files (some 75 for the first view) is answered from one read on the server's event loop,
not through the three or more worker-thread hops of a streamed file response (find it, open it, read each
64-KiB chunk, close it), which wait on the busy server. The bytes and headers are the file's own; ranged
requests and HEAD are left to Streamlit. The handler also notes which files the browser has asked for
(wait_until_loaded): once it has every file the first page names, the server can do work that was put off
without slowing those answers (the browser is then running their code).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

_HEAD_END = b"</head>"
# The front end's code chunks that the Overview's first run needs beyond those index.html already preloads
# (its chart, metrics, HTML and download button), by the start of their file names.
FIRST_VIEW_CHUNKS = (
    "PlotlyChart.",
    "withFullScreenWrapper.",
    "printWidthCap.",
    "resolveDefaultExport.",
    "Html.",
    "purify.es.",
    "Metric.",
    "loadVegaEmbed.",  # Metric's own imports: modulepreload fetches a chunk, not what it imports
    "styled-components.",
    "WidgetLabelHelpIconInline.",
    "CustomTheme.",
    "formatNumber.",
    "numbro.",
    "sprintfjs.",
    "DownloadButton.",
    "createDownloadLinkElement.",
)


def _js_dir() -> Path:
    import streamlit

    return Path(streamlit.__file__).parent / "static" / "static" / "js"


@cache
def plotly_chunk() -> str | None:
    """The file name of Streamlit's plotly chart code, or None if not found."""
    found = sorted(_js_dir().glob("PlotlyChart.*.js"))
    return found[0].name if found else None


@cache
def first_view_chunks() -> tuple[str, ...]:
    """The file names of FIRST_VIEW_CHUNKS in this Streamlit build (those found)."""
    names = sorted(path.name for path in _js_dir().glob("*.js"))
    return tuple(name for name in names if name.startswith(FIRST_VIEW_CHUNKS))


# Run the chart code once the front end has sent its first message over the websocket (its request for the
# script run: the server then runs the page's script meanwhile), not before: run earlier, it would hold the
# browser's one main thread, and the request would wait for it. Five seconds after loading it runs anyway.
# A Proxy keeps WebSocket's constants and prototype; the socket's own send is restored at its first call.
_IMPORT_SCRIPT = """<script type="module">
const load = () => import("./static/js/CHART");
const Native = window.WebSocket;
window.WebSocket = new Proxy(Native, {
  construct(target, args) {
    window.WebSocket = Native;
    const socket = Reflect.construct(target, args);
    socket.send = function (...message) {
      delete socket.send;
      setTimeout(load, 0);
      return socket.send(...message);
    };
    return socket;
  },
});
setTimeout(load, 5000);
</script>"""


def head_tags(chart: str, chunks: tuple[str, ...]) -> bytes:
    """Modulepreload links (fetched and compiled, not run) for `chunks`, and a module script that imports
    the chart code once the websocket is asked for; Streamlit's own later imports find them loaded."""
    links = "".join(f'<link rel="modulepreload" crossorigin href="./static/js/{c}">' for c in chunks)
    return (links + _IMPORT_SCRIPT.replace("CHART", chart)).encode()


def with_preload(html: bytes, chart: str | None, chunks: tuple[str, ...] = ()) -> bytes:
    """Streamlit's index.html with the first view's code loaded from its head (unchanged without `chart`)."""
    if not chart or _HEAD_END not in html:
        return html
    return html.replace(_HEAD_END, head_tags(chart, chunks) + _HEAD_END, 1)


# The browser has loaded the page's files once it has asked for every file of Streamlit's that the first page
# served names (its code, style sheet and font): it then runs that code, and the server's hands are free.
_NAMED = re.compile(rb'(?:href|src)="\./(static/[^"]+)"')
_unasked: set[str] = set()
page_asked = threading.Event()
files_asked = threading.Event()


def _asked(path: str, page: bytes | None = None) -> None:
    """Note that the browser asked for `path`; `page`: the page served, whose named files it asks for next."""
    if page is not None and not page_asked.is_set():
        _unasked.update(name.decode() for name in _NAMED.findall(page))
        page_asked.set()
    _unasked.discard(path)
    if page_asked.is_set() and not _unasked:
        files_asked.set()


def wait_until_loaded(timeout_s: float) -> bool:
    """Block until the browser has asked for the first page served and every file it names; False after
    `timeout_s` without that (no browser came, or it left a file unasked)."""
    return files_asked.wait(timeout_s)


def _whole_file(scope) -> bool:
    """A GET of a whole file (not a range of it)."""
    headers = scope.get("headers") or ()
    return scope.get("method") == "GET" and not any(name.lower() == b"range" for name, _ in headers)


def replace_once(owner: object, attribute: str, make: Callable[[Any], Any]) -> bool:
    """Set owner.attribute to make(its value), once (a second call changes nothing); False where owner has
    no such attribute (a Streamlit other than the one this was written against)."""
    original = getattr(owner, attribute, None)
    if original is None:
        return False
    if not getattr(original, "replaced", False):
        replacement = make(original)
        replacement.replaced = True
        setattr(owner, attribute, replacement)
    return True


def install() -> bool:
    """Serve index.html with the chart code's import and every file in one step; False (nothing changed)
    where Streamlit's static file handler is not the one this was written against."""
    try:
        from starlette.responses import FileResponse, Response
        from streamlit.web.server.starlette import starlette_static_routes as routes
    except ImportError:
        return False
    name = plotly_chunk()
    if name is None:
        return False

    def make(original):
        def create(directory: str, base_url: str | None):
            return _serving(original(directory, base_url), Path(directory) / "index.html")

        return create

    def _serving(handler, index: Path):
        served = handler.get_response

        async def get_response(path: str, scope) -> Response:
            response = await served(path, scope)
            if not isinstance(response, FileResponse):
                return response
            file = Path(response.path)
            if response.status_code != 200 or not _whole_file(scope):
                _asked(path)
                return response
            # the page's etag would name Streamlit's file, not the page served; the length is counted again
            dropped = ("content-length", "etag") if file == index else ("content-length",)
            headers = {k: v for k, v in response.headers.items() if k.lower() not in dropped}
            if file == index:
                body = with_preload(index.read_bytes(), name, first_view_chunks())
                _asked(path, page=body)
                return Response(body, status_code=200, headers=headers, media_type="text/html")
            _asked(path)
            return Response(
                file.read_bytes(), status_code=200, headers=headers, media_type=response.media_type
            )

        handler.get_response = get_response
        return handler

    return replace_once(routes, "create_streamlit_static_handler", make)
