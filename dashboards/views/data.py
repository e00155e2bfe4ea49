"""Data: the catalogs and result files behind every figure, with their provenance; view an uploaded results
file (validated in memory, never written to disk)."""

from __future__ import annotations

import streamlit as st

from core.errors import InputError
from dashboards import catalog_view, charts, loaders, tables, ui
from dashboards.display import display


def show_rows(frame, *, key: str, source: str, base: str | None = None) -> None:
    """Summary per file, rows per status as a chart, and the rows themselves."""
    st.dataframe(display(tables.file_summary(frame, base)), hide_index=True)
    counts = tables.status_counts(frame)
    fig = charts.grouped(
        counts,
        "file",
        "rows",
        group="status",
        title="Rows per file and status",
        x_title="results file",
        y_title="rows (count)",
        basis="measured",
    )
    fig.update_layout(barmode="stack")
    charts.show(fig, counts, key=key, basis="measured", note=f"rows stored in {source}")
    for kind, spec, metrics in (
        ("train", tables.TRAIN_SPEC, tables.TRAIN_METRICS),
        ("infer", tables.INFER_SPEC, tables.INFER_METRICS),
    ):
        part = frame[tables.column(frame, "kind") == kind]
        if part.empty:
            continue
        with st.expander(
            f"{len(part)} {'training' if kind == 'train' else 'inference'} rows, with provenance and library versions"
        ):
            shown = tables.view(part, spec, metrics).drop(columns=["time", "measured_at"], errors="ignore")
            st.dataframe(display(shown.dropna(axis=1, how="all")), hide_index=True)


st.title("Data")
st.caption("Everything the dashboard shows comes from these files. Catalog rows carry `source` and `as_of`.")

st.header("Result files")
results = loaders.results_path()
files = loaders.result_file_list()
if not files:
    ui.need_rows("train", "result files", results)
else:
    good, bad, skipped = [], [], []
    for path in files:
        try:
            rows = loaders.load_file(path)
        except InputError as exc:
            bad.append(str(exc))
            continue
        good.extend(rows)
        skipped.extend(rows.problems)
    for message in bad:
        st.error(ui.plain(message), icon=":material/error:")
    for problem in skipped:  # the other rows are shown; `peftplan results repair FILE` moves these aside
        st.warning(f"Skipped a bad line: {ui.plain(problem)}", icon=":material/warning:")
    if good:
        base = str(results if results.is_dir() else results.parent)
        show_rows(loaders.frame_of(good), key="data-results", source=str(results), base=base)

st.header("View a results file")
upload = st.file_uploader(
    "Results file (JSON Lines, as written by `peftplan bench`)",
    type=["jsonl", "json", "txt"],
    key="data-upload",
    help="Validated in memory; never written to disk.",
)
if upload is not None:
    try:
        uploaded = loaders.parse_upload(upload.name, upload.getvalue())
    except InputError as exc:
        st.error(f"This file cannot be read as results: {ui.plain(exc)}", icon=":material/error:")
    else:
        st.success(f"{len(uploaded)} valid rows in {ui.plain(upload.name)}.")
        show_rows(loaders.frame_of(uploaded), key="data-upload", source=f"the uploaded file {upload.name}")

st.header("Catalogs")
catalog_view.show_catalogs()
