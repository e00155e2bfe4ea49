"""`peftplan dashboard` starts Streamlit set up for a fast first view (dashboards.launch, dashboards.preload):
no Nagle delay on its connections, the plotly theme and the component scan put off, Streamlit's files served in
one step."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from dashboards import launch, preload

APP = Path(launch.__file__).with_name("app.py")


def test_accepted_connections_send_without_nagles_delay(monkeypatch):
    from streamlit.web.server.starlette import starlette_server

    monkeypatch.setattr(starlette_server, "_bind_socket", starlette_server._bind_socket)
    plain = starlette_server._bind_socket("127.0.0.1", 0, 8)
    assert not plain.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)  # why the fix exists
    plain.close()
    assert launch.no_delay() and launch.no_delay()  # a second call changes nothing
    listener = starlette_server._bind_socket("127.0.0.1", 0, 8)
    listener.setblocking(True)
    with listener, socket.create_connection(listener.getsockname()):
        accepted, _ = listener.accept()
        with accepted:
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


def test_the_component_scan_waits_until_the_first_script_run_has_ended(monkeypatch):
    from streamlit.components.v2.component_manager import BidiComponentManager

    scans = []
    monkeypatch.setattr(
        BidiComponentManager, "discover_and_register_components", lambda self, **kw: scans.append(kw)
    )
    monkeypatch.setattr(launch, "_after_first_run", [])
    monkeypatch.setattr(launch, "_first_run", threading.Event())
    assert launch.defer_component_scan() and launch.defer_component_scan()
    BidiComponentManager().discover_and_register_components(start_file_watching=False)
    assert scans == [] and len(launch._after_first_run) == 1
    monkeypatch.setattr(preload, "wait_until_loaded", lambda timeout_s: True)
    monkeypatch.setattr(launch, "_wait_until_listening", lambda host, port, timeout_s: None)
    monkeypatch.setattr(launch, "AFTER_FIRST_RUN_S", 0.5)
    deferred = threading.Thread(target=launch.run_deferred, args=("127.0.0.1", 1))
    deferred.start()
    deferred.join(0.3)
    assert deferred.is_alive() and scans == []  # the page has loaded; no script run has ended
    launch.first_run_done()
    deferred.join(0.2)
    assert deferred.is_alive() and scans == []  # the run has ended; the browser is drawing what it sent
    deferred.join(10)
    assert scans == [{"start_file_watching": False}] and launch._after_first_run == []


def test_ahead_of_the_first_run_the_emoji_catalog_and_the_prompt_check():
    """In a fresh interpreter: what set_page_config and the first element would do once, done already."""
    code = """
import sys
from dashboards import launch
from streamlit import delta_generator
assert "streamlit.emojis" not in sys.modules and not delta_generator._use_warning_has_been_displayed
launch.ahead_of_first_run()
assert "streamlit.emojis" in sys.modules and delta_generator._use_warning_has_been_displayed
"""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]


def test_loaded_means_every_file_the_first_page_names_asked_for(monkeypatch):
    for name, value in [("page_asked", threading.Event()), ("files_asked", threading.Event())]:
        monkeypatch.setattr(preload, name, value)
    monkeypatch.setattr(preload, "_unasked", set())
    assert not preload.wait_until_loaded(0.05)  # no browser came
    page = b'<head><script src="./static/js/a.js"></script><link href="./static/css/b.css"></head>'
    preload._asked(".", page=page)
    preload._asked("static/js/a.js")
    preload._asked("favicon.png")  # not a file the page names
    assert not preload.wait_until_loaded(0.05)  # b.css not asked for yet
    preload._asked("cost", page=b'<script src="./static/js/c.js"></script>')  # only the first page counts
    preload._asked("static/css/b.css")
    assert preload.wait_until_loaded(0.05)


@pytest.fixture(scope="module")
def static():
    from streamlit import file_util
    from streamlit.web.server.starlette import starlette_static_routes as routes

    assert preload.install()
    return TestClient(routes.create_streamlit_static_handler(file_util.get_static_dir(), None))


def test_a_file_is_served_whole_with_its_own_headers(static):
    chart = preload.plotly_chunk()
    path = preload._js_dir() / chart
    answer = static.get(f"/static/js/{chart}")
    assert answer.status_code == 200 and answer.content == path.read_bytes()
    assert int(answer.headers["content-length"]) == path.stat().st_size
    assert answer.headers["content-type"].startswith(("application/javascript", "text/javascript"))
    assert "immutable" in answer.headers["cache-control"] and answer.headers["etag"]
    again = static.get(f"/static/js/{chart}", headers={"if-none-match": answer.headers["etag"]})
    assert again.status_code == 304


def test_ranges_and_head_are_left_to_streamlit(static):
    chart = preload.plotly_chunk()
    part = static.get(f"/static/js/{chart}", headers={"range": "bytes=0-9"})
    assert part.status_code == 206 and part.content == (preload._js_dir() / chart).read_bytes()[:10]
    head = static.head(f"/static/js/{chart}")
    assert head.status_code == 200 and head.content == b""


def test_a_whole_file_is_answered_in_one_step_not_streamed():
    import asyncio

    from starlette.responses import FileResponse
    from streamlit import file_util
    from streamlit.web.server.starlette import starlette_static_routes as routes

    assert preload.install()
    handler = routes.create_streamlit_static_handler(file_util.get_static_dir(), None)
    chart = f"static/js/{preload.plotly_chunk()}"

    def answer(method: str, headers: list) -> object:
        scope = {"type": "http", "method": method, "path": "/" + chart, "headers": headers}
        return asyncio.run(handler.get_response(chart, scope))

    assert not isinstance(answer("GET", []), FileResponse)
    assert isinstance(answer("GET", [(b"range", b"bytes=0-9")]), FileResponse)
    assert isinstance(answer("HEAD", []), FileResponse)


def test_the_plotly_theme_is_put_off_and_set_before_a_page_draws():
    """In a fresh interpreter (this one has imported streamlit): `import streamlit` leaves the theme to
    run_pending, which app.py calls before the Overview makes its figures."""
    code = f"""
import json
from dashboards import launch
assert launch.defer_plotly_theme()
import plotly.io as pio
import streamlit
assert pio.templates.default != "streamlit" and len(launch._deferred) == 1, pio.templates.default
from streamlit.testing.v1 import AppTest
at = AppTest.from_file({str(APP)!r}, default_timeout=60).run()
assert not at.exception, at.exception
assert pio.templates.default == "streamlit" and launch._deferred == []
figure = json.loads(at.get("plotly_chart")[0].proto.spec)
assert figure["layout"]["template"]["layout"]["colorway"][0] == "#000001", figure["layout"]["template"]
"""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
