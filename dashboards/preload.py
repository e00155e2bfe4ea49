"""The first HTML response starts loading the Overview's front-end code (dashboards.launch installs it).

Streamlit's front end fetches the code of each kind of element (its plotly chart code is about 5 MB of
JavaScript, some 0.75 s of the browser's main thread on a 2-core machine) only when the script run's first
element of that kind arrives. Here index.html, as Streamlit serves it, also carries modulepreload links for
the chunks the Overview's first run needs (fetched and compiled while the rest of the front end loads, not
run) and a module script that runs the chart code as soon as the front end has asked for the script run, so
that it runs while the server runs the page's script. Streamlit's own imports later find the code loaded.
Nothing is drawn and no content changes. Where Streamlit's static files are laid out otherwise (another
Streamlit build), the page is served unchanged and the code loads with the first elements as before.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

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


def install() -> bool:
    """Serve index.html with the chart code's import; False (nothing changed) where Streamlit's static file
    handler is not the one this was written against."""
    try:
        from starlette.responses import FileResponse, Response
        from streamlit.web.server.starlette import starlette_static_routes as routes
    except ImportError:
        return False
    original = getattr(routes, "create_streamlit_static_handler", None)
    name = plotly_chunk()
    if original is None or name is None:
        return False
    if getattr(original, "preloads", False):  # installed already
        return True

    def create(directory: str, base_url: str | None):
        handler = original(directory, base_url)
        index = Path(directory) / "index.html"
        served = handler.get_response

        async def get_response(path: str, scope) -> Response:
            response = await served(path, scope)
            if scope.get("method") != "GET" or not isinstance(response, FileResponse):
                return response
            if Path(response.path) != index:
                return response
            headers = {
                k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "etag")
            }
            body = with_preload(index.read_bytes(), name, first_view_chunks())
            return Response(body, status_code=response.status_code, headers=headers, media_type="text/html")

        handler.get_response = get_response
        return handler

    create.preloads = True
    routes.create_streamlit_static_handler = create
    return True
