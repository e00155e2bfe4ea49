"""The first HTML response starts loading the first view's chart code (dashboards.preload), served by
Streamlit's own static file handler."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from dashboards import preload

HTML = b"<html><head><title>t</title></head><body></body></html>"


def test_the_chart_import_goes_at_the_end_of_the_head_once():
    out = preload.with_preload(HTML, "PlotlyChart.abc.js", ("Metric.x.js",))
    head, body = out.split(b"</head>")
    assert b'import("./static/js/PlotlyChart.abc.js")' in head
    assert b'<link rel="modulepreload" crossorigin href="./static/js/Metric.x.js">' in head
    assert out.count(b"PlotlyChart.abc.js") == 1 and body == b"<body></body></html>"


@pytest.mark.parametrize("html, chart", [(HTML, None), (b"<p>no head</p>", "PlotlyChart.abc.js")])
def test_without_a_chart_file_or_a_head_the_page_is_unchanged(html, chart):
    assert preload.with_preload(html, chart, ("Metric.x.js",)) == html


def test_every_first_view_chunk_is_in_this_streamlit_build():
    found = preload.first_view_chunks()
    missing = [p for p in preload.FIRST_VIEW_CHUNKS if not any(n.startswith(p) for n in found)]
    assert not missing, f"Streamlit's build has no {missing}: update FIRST_VIEW_CHUNKS"
    assert preload.plotly_chunk() in found


@pytest.fixture(scope="module")
def static():
    from streamlit import file_util
    from streamlit.web.server.starlette import starlette_static_routes as routes

    assert preload.install() and preload.install()  # a second call changes nothing
    return TestClient(routes.create_streamlit_static_handler(file_util.get_static_dir(), None))


@pytest.mark.parametrize("path", ["/", "/cost"])  # a page's own address is served index.html too
def test_streamlit_serves_index_html_with_the_chart_import(static, path):
    page = static.get(path)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert int(page.headers["content-length"]) == len(page.content)
    assert page.headers["cache-control"] == "no-cache"
    assert f'import("./static/js/{preload.plotly_chunk()}")' in page.text
    assert page.text.count("<head>") == 1 and "static/js/index." in page.text  # Streamlit's own page


def test_every_file_the_head_names_is_served(static):
    named = re.findall(r'\./(static/js/[^"]+\.js)', static.get("/").text)
    assert len(named) > len(preload.FIRST_VIEW_CHUNKS)
    for path in named:
        assert static.get("/" + path).status_code == 200, path
