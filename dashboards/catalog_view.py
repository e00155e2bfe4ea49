"""The catalog files of data/catalog/ as tables, each with its dates and sources."""

from __future__ import annotations

import streamlit as st

from core.errors import InputError
from dashboards import loaders, ui
from dashboards.display import display


def show_catalogs() -> None:
    files = loaders.catalog_files()
    if not files:
        st.info("No catalog files in data/catalog/.")
        return
    try:
        catalog = loaders.catalog()
    except InputError as exc:
        st.error(f"The planner rejects a catalog: {ui.plain(exc)}", icon=":material/error:")
    else:
        st.markdown(
            f"{ui.basis_badge('validated')} The planner reads {len(catalog.gpus)} GPUs, {len(catalog.prices)} "
            f"GPU prices, {len(catalog.managed)} managed offers and {len(catalog.onprem)} on-prem sites from "
            "these files (types, ranges, known GPU names and dates checked)."
        )
    for path in files:
        try:
            table = loaders.catalog_table(path)
        except InputError as exc:
            st.error(ui.plain(exc), icon=":material/error:")
            continue
        # as_of_note escapes the dates it quotes; escaping them again would show the backslashes
        dates = ui.as_of_note(table).replace("prices as of", "as of") or ui.plain("no as_of column")
        sources = table["source"].nunique() if "source" in table else 0
        with st.expander(f"**{ui.plain(path.name)}** · {len(table)} rows · {dates} · {sources} sources"):
            st.dataframe(display(table), hide_index=True)
