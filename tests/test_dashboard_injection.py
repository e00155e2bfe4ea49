"""Text from files is shown as text: a device name, an error message or a bad line carrying Markdown, link,
image, HTML or Streamlit directive syntax is never rendered as such on any page (AppTest).

An injected image URL would be fetched by every browser that opens the page, and an injected link can pose as
the app ("Click to re-authenticate"). Every element that Streamlit renders as Markdown (markdown, captions,
alerts, expander labels) must hold the hostile text only in escaped form.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from test_dashboard_rows import fixture_rows

from dashboards import RESULTS_ENV
from dashboards.ui import plain

APP = Path(__file__).resolve().parent.parent / "dashboards" / "app.py"
HOSTILE = (
    "![x](http://evil.example/pixel.png) [Click to re-authenticate](http://evil.example/login) "
    "<img src=http://evil.example/i.png> :red[alert] **bold** $x^2$ `code` # heading"
)
PAGES = (None, "views/training.py", "views/inference.py", "views/regressions.py", "views/data.py")
# What a rendered element may not hold: link or image syntax, raw HTML, a Streamlit colour directive.
MARKUP = re.compile(r"(?<!\\)\]\(|(?<!\\)<img|(?<!\\):red\[|(?<!\\)\*\*bold")


def hostile_results(folder: Path) -> Path:
    folder.mkdir(parents=True)
    train, infer = fixture_rows()
    for row in train + infer:
        row["provenance"]["device_name"] = HOSTILE
        if row["status"] != "ok":
            row["error"] = HOSTILE
    lines = [json.dumps(r) for r in train]
    lines.append(json.dumps({**train[0], "kind": HOSTILE}))  # a bad line whose reason quotes it
    (folder / "train.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "infer.jsonl").write_text("".join(json.dumps(r) + "\n" for r in infer), encoding="utf-8")
    return folder


def rendered_texts(at: AppTest) -> list[str]:
    """The bodies of every element Streamlit renders as Markdown."""
    texts = []
    for kind in (
        "markdown",
        "caption",
        "error",
        "warning",
        "info",
        "success",
        "title",
        "header",
        "subheader",
    ):
        texts += [str(el.value) for el in at.get(kind)]
    texts += [str(el.proto.label) for el in at.get("expandable")]
    return texts


def test_plain_escapes_every_markup_character():
    assert plain("[a](http://x)") == r"\[a\]\(http\:\/\/x\)"
    assert plain("line\nbreak") == "line break"
    assert MARKUP.search(plain(HOSTILE)) is None and "evil.example" not in plain(HOSTILE)


@pytest.mark.parametrize("page", PAGES)
def test_file_text_is_shown_as_text_on_every_page(tmp_path, monkeypatch, page):
    monkeypatch.setenv(RESULTS_ENV, str(hostile_results(tmp_path / "results")))
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    texts = rendered_texts(at)
    leaks = [t for t in texts if MARKUP.search(t) or "evil.example" in t]
    assert not leaks, leaks
    if page in (None, "views/data.py"):  # the hostile text is on the page, escaped
        assert any(r"evil\.example" in t for t in texts), texts
