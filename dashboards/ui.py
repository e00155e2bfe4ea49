"""Small pieces every page shares: the error guard, empty-state messages, measured/projected badges."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import streamlit as st

from core.errors import InputError
from dashboards import preload

log = logging.getLogger("peftplan.dashboard")

# Every ASCII punctuation mark that Markdown, Streamlit's directives (:red[...], :material/x:, $math$) or
# HTML can give a meaning to; a backslash makes each one a literal character.
_MARKUP = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~:$&\"'=^@/;?%,])")


def plain(value: object) -> str:
    """Text from a file (a device name, a status, an error message, a file name) as text: every character
    that Markdown or Streamlit would read as markup is escaped, and line breaks become spaces. Use it for
    every piece of data that goes into st.markdown, st.error, st.warning, st.info, st.success, st.caption or
    an expander's label."""
    text = " ".join(str(value).split())
    return _MARKUP.sub(r"\\\1", text)


# What fills each kind of result row (shown when a page has nothing to show).
FILL_COMMANDS = {
    "train": (
        "peftplan bench train --suite cpu-smoke --device cpu",
        "peftplan bench train --suite h200-standard --device cuda",
    ),
    "infer": (
        "peftplan bench infer --suite cpu-smoke --device cpu",
        "peftplan bench infer --suite h200-standard --device cuda",
    ),
}
METHOD_NAMES = {"lora": "LoRA", "qlora": "QLoRA", "full": "full fine-tuning"}
BASIS = {
    "measured": ":blue-badge[measured]",
    "projected": ":orange-badge[projected]",
    "mixed": ":gray-badge[measured and projected]",
    "catalog": ":gray-badge[catalog price]",
}


@contextmanager
def guard() -> Iterator[None]:
    """Show bad input as its message, and anything unforeseen as one line (the traceback goes to the log)."""
    try:
        yield
    except InputError as exc:
        st.error(plain(exc), icon=":material/error:")
    except Exception as exc:  # noqa: BLE001 - no traceback may reach the user
        log.exception("dashboard page failed")
        st.error(f"Unexpected error ({type(exc).__name__}): {plain(exc)}. Details are in the server log.")


@contextmanager
def lazy_expander(label: str, key: str) -> Iterator[bool]:
    """An expander whose content is computed and sent only while it is open (opening it reruns the page):
    a closed one costs a run nothing. Yields whether it is open."""
    with st.expander(label, key=key, on_change="rerun") as box:
        yield bool(box.open)


def need_rows(kind: str, what: str, results: str) -> None:
    """Say that no rows of `kind` are there, and which command writes them."""
    cpu, gpu = FILL_COMMANDS[kind]
    st.info(
        f"No {what} in `{results}` yet. Fill it with\n\n"
        f"```\n{cpu}\n```\n"
        f"on any machine (tiny models), or on a GPU machine with\n\n```\n{gpu}\n```\n"
        "then reload this page.",
        icon=":material/info:",
    )


def basis_badge(basis: str) -> str:
    """A coloured badge saying whether a figure is measured or projected."""
    return BASIS.get(basis, f":gray-badge[{basis}]")


def as_of_note(frame, date_col: str = "as_of", source_col: str = "source") -> str:
    """'prices as of A–B' for a table of prices, or '' when the table carries no dates."""
    if frame is None or getattr(frame, "empty", True) or date_col not in frame:
        return ""
    dates = sorted({plain(d) for d in frame[date_col].dropna()})
    if not dates:
        return ""
    span = dates[0] if len(dates) == 1 else f"{dates[0]} to {dates[-1]}"
    return f"prices as of {span}"


def hardware_note(frame) -> str:
    """Where a set of rows was measured (device names), for a flat or a display frame."""
    if frame.empty:
        return ""
    name = "provenance.device_name" if "provenance.device_name" in frame else "device_name"
    if name not in frame:
        return ""
    devices = ", ".join(sorted({plain(d) for d in frame[name].dropna()}))
    return f"measured on {devices}" if devices else ""


def short_path(path: Path) -> str:
    """A path relative to the working folder when it lies inside it (data/results), else whole."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def text_table(frame) -> None:
    """A short table of text (a display() frame) as a Markdown table: it wraps its cells instead of cutting
    columns off on a narrow window, and needs none of the grid's JavaScript (the Overview's first view)."""
    if frame.empty:
        return
    rows = [list(frame.columns), *frame.astype(str).values.tolist()]
    lines = ["| " + " | ".join(plain(cell) for cell in row) + " |" for row in rows]
    lines.insert(1, "|" + " --- |" * len(frame.columns))
    st.markdown("\n".join(lines))


FILTER_WIDTH_PX = 170


def filters(frame, fields: dict[str, str], *, key: str):
    """A row of multiselects, one per (label → column); an empty selection keeps every value."""
    if frame.empty:
        return frame
    keep = frame.index == frame.index
    row = st.container(horizontal=True, gap="small")  # fixed widths: they wrap on a narrow window
    for label, name in fields.items():
        if name not in frame:
            continue
        options = sorted({v for v in frame[name].dropna().tolist()}, key=str)
        chosen = row.multiselect(
            label, options, key=f"{key}-{name}", placeholder="all", width=FILTER_WIDTH_PX
        )
        if chosen:
            keep &= frame[name].isin(chosen)
    return frame[keep]


WRAP_PREFIX = "wrap-"  # the key of a row (st.container(horizontal=True)) whose parts go one under another
_STYLE = f"""<style>
/* a part of a wrapping row keeps 26rem: side by side on a wide window, one under the other on a narrow one */
[class*="st-key-{WRAP_PREFIX}"] > div {{ min-width: min(26rem, 100%); }}
</style>"""


def page_style() -> None:
    """The app's few style rules (a style-only st.html takes no room on the page)."""
    st.html(_STYLE)


@contextmanager
def wrapping_row(key: str, parts: int) -> Iterator[list]:
    """`parts` containers side by side that wrap one under another when the window is too narrow for each
    to keep 26rem (st.columns never wraps above 640 px)."""
    with st.container(horizontal=True, gap="medium", key=WRAP_PREFIX + key):
        yield [st.container() for _ in range(parts)]


def load_chart_code_early() -> None:
    """Start the browser loading the plotly chart code as the script run begins, not when the first chart
    arrives: it takes the browser about half a second to load and run it, which then overlaps the server
    computing the page. Streamlit's own import of the same file finds it loaded. Nothing is drawn; where the
    file is not found (another Streamlit build), the chart code loads with the first chart as before.
    Under `peftplan dashboard` the first HTML response has already started it (dashboards.preload): this
    covers `streamlit run dashboards/app.py`."""
    name = preload.plotly_chunk()
    if name:  # import() of a module already loaded does nothing: later runs cost nothing
        st.sidebar.html(f'<script>import("./static/js/{name}")</script>', unsafe_allow_javascript=True)
