"""A results file of your own beside the shipped rows (Training and Inference pages): validated in memory by
core.rows, kept in this browser session only (never written to disk), marked "yours" on every chart."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.errors import InputError
from dashboards import loaders, ui
from dashboards.charts import YOURS_MARK

KEY = "your-rows"
SOURCE_SHIPPED, SOURCE_YOURS = "shipped", "yours"


def _clear() -> None:
    st.session_state.pop(KEY, None)


def frame(kind: str, *, key: str) -> pd.DataFrame:
    """An uploader, and the flat frame of your rows of `kind` (empty when none), each with source 'yours'."""
    with st.expander("Compare with your results file", expanded=KEY in st.session_state):
        upload = st.file_uploader(
            "Your results file (JSON Lines, as written by `peftplan bench`)",
            type=["jsonl", "json", "txt"],
            key=f"{key}-upload",
            help="Checked in memory and kept for this browser session; never written to disk.",
        )
        if upload is not None and st.session_state.get(f"{KEY}-id") != upload.file_id:
            st.session_state[f"{KEY}-id"] = upload.file_id
            try:
                st.session_state[KEY] = (upload.name, loaders.parse_upload(upload.name, upload.getvalue()))
            except InputError as exc:
                _clear()
                st.error(f"This file cannot be read as results: {exc}", icon=":material/error:")
        if KEY in st.session_state:
            name, rows = st.session_state[KEY]
            st.button(
                f"Stop comparing with {ui.plain(name)}",
                on_click=_clear,
                key=f"{key}-clear",
                icon=":material/close:",
            )
    if KEY not in st.session_state:
        return pd.DataFrame()
    name, rows = st.session_state[KEY]
    mine = [r for r in rows if r["kind"] == kind]
    if not mine:
        st.info(f"Your file {ui.plain(name)} holds no {kind} rows.")
        return pd.DataFrame()
    st.caption(f"Marked ★ yours: {len(mine)} {kind} rows of {ui.plain(name)} (not stored).")
    return loaders.frame_of(mine).assign(source=SOURCE_YOURS)


def combined(shipped: pd.DataFrame, mine: pd.DataFrame) -> pd.DataFrame:
    """Shipped rows (source 'shipped') and yours in one frame."""
    shipped = shipped.assign(source=SOURCE_SHIPPED)
    return shipped if mine.empty else pd.concat([shipped, mine], ignore_index=True)


def mark(frame: pd.DataFrame) -> pd.Series:
    """' ★ yours' for each row of your file, '' for a shipped one: the suffix of a series name."""
    if "source" not in frame:
        return pd.Series("", index=frame.index, dtype=object)
    return frame["source"].map({SOURCE_YOURS: YOURS_MARK}).fillna("")
