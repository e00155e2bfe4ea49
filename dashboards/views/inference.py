"""Inference: merged vs dynamic vs base adapters. Decode latency and prefill throughput by batch (one series per
prompt length), the overhead of dynamic over merged in %, mixed-adapter batches, adapter load and swap times,
and merge fidelity, each with its caveat written beside it. Your own results file can be shown beside."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards import charts, loaders, tables, ui, yours
from dashboards.display import display

FILL = f"The inference suites measure every task: `{ui.FILL_COMMANDS['infer'][1]}`."
PLAIN_NOTE = (
    "plain: eager generate (PyTorch, dynamic cache), bound by kernel launches at small batch, not a "
    "serving engine; tuned: static cache, compiled"
)


def series_names(frame, fields=("model", "mode", "base", "profile"), *, prompt: bool = False):
    """'8B · dynamic · bf16 · plain · prompt 512 ★ yours': one name per row, from the fields, the prompt length
    (each prompt its own series) and the mark of your file."""
    if frame.empty:
        return pd.Series("", index=frame.index, dtype=object)
    names = frame[list(fields)].astype(str).agg(" · ".join, axis=1)
    if prompt:
        names = names + " · prompt " + frame["prompt_len"].map(lambda p: f"{int(p):,}" if p == p else "?")
    return names + yours.mark(frame)


st.title("Inference")
st.caption(
    "Serving a LoRA adapter merged into the base (one model per adapter), dynamic (one base, adapters beside "
    "it), or the base alone. Each row measured in its own process on the hardware named; each dot is one "
    "measured point (nothing is drawn between them)."
)

frame = loaders.load_frame("infer")
mine = yours.frame("infer", key="infer")
if frame.empty and mine.empty:
    ui.need_rows("infer", "inference rows", loaders.results_path())
    st.stop()

rows = tables.view(yours.combined(frame, mine), tables.INFER_SPEC, tables.INFER_METRICS)
rows = tables.latest_per_spec(rows[rows["status"] == "ok"])
rows = ui.filters(
    rows,
    {"hardware": "device_name", "model": "model", "base weights": "base", "profile": "profile"},
    key="infer",
)


rows = rows.assign(series=series_names(rows))
hardware = ui.hardware_note(rows)


def task_rows(task: str, metric: str, by_prompt: bool = False):
    """Rows of one task with the metric; with by_prompt, each prompt length its own series."""
    found = rows[(rows["task"] == task)].dropna(subset=[metric]).sort_values("batch")
    return found.assign(series=series_names(found, prompt=True)) if by_prompt else found


def chart(data, x, y, *, key, title, x_title, y_title, unit, group="series", kind="scatter", note=""):
    if data.empty:
        st.info(f"No rows for this chart match these filters. {FILL}")
        return
    hover = {"prompt (tokens)": "prompt_len", "batch": "batch", **tables.PROVENANCE_HOVER}
    fig = charts.grouped(
        data,
        x,
        y,
        group=group,
        title=title,
        x_title=x_title,
        y_title=y_title,
        basis="measured",
        kind=kind,
        hover=hover,
        unit=unit,
    )
    if kind == "scatter" and x == "batch":
        fig.update_xaxes(type="log", dtick=0.30103)  # batches double: 1, 2, 4, 8 …
    charts.show(fig, data, key=key, basis="measured", note="; ".join(n for n in (hardware, note) if n))


def single_figures(ops, columns: dict[str, tuple[str, str]]) -> None:
    """One metric per figure (a single number needs no chart), with where it was measured."""
    marks = yours.mark(ops)
    for index, row in ops.iterrows():
        shown = {label: (row[c], unit) for c, (label, unit) in columns.items() if row.get(c) == row.get(c)}
        if not shown:
            continue
        cols = st.columns(len(shown) + 1)
        for col, (label, (value, unit)) in zip(cols, shown.items(), strict=False):  # the last column: where
            col.metric(f"{label} ({unit})", f"{value:,.3g}")
        where = (
            f"{row['model']} · rank {row['rank']} · {row['device_name']} · commit "
            f"{str(row['git_commit'])[:10]} · {row.get('measured_at', '')}"
        )
        cols[-1].caption(ui.plain(where) + marks[index])


tabs = st.tabs(
    ["Decode", "Prefill", "Dynamic overhead", "Mixed adapters", "Adapter load and swap", "Merge fidelity"]
)
with tabs[0]:
    chart(
        task_rows("decode", "ms_per_token", by_prompt=True),
        "batch",
        "ms_per_token",
        key="decode-latency",
        title="Decode latency",
        x_title="batch (sequences, log scale)",
        y_title="ms per token (one decode step)",
        unit="ms per token",
        note=PLAIN_NOTE,
    )
with tabs[1]:
    chart(
        task_rows("prefill", "prefill_tokens_per_s", by_prompt=True),
        "batch",
        "prefill_tokens_per_s",
        key="prefill-throughput",
        title="Prefill throughput",
        x_title="batch (sequences, log scale)",
        y_title="prompt tokens/s",
        unit="tokens/s",
        note=PLAIN_NOTE,
    )
    chart(
        task_rows("prefill", "ttft_ms", by_prompt=True),
        "batch",
        "ttft_ms",
        key="prefill-ttft",
        title="Time to first token",
        x_title="batch (sequences, log scale)",
        y_title="time to first token (ms)",
        unit="ms",
    )
with tabs[2]:
    st.caption(
        "Derived from pairs of rows with equal spec and hardware except the mode; not stored. "
        "One bar per batch and prompt length."
    )
    from planner.inference import dynamic_overhead

    for model in sorted(rows["model"].dropna().unique()):
        used = {task: dynamic_overhead(model, task, loaders.measurements()) for task in ("decode", "prefill")}
        st.markdown(
            f"The serving cost model uses, for **{ui.plain(model)}**: "
            + "; ".join(
                f"{task} {fig.value:+.0%} {ui.basis_badge(fig.basis)} ({fig.model})"
                for task, fig in used.items()
            )
        )
    for task, metric, lower in (("decode", "ms_per_token", True), ("prefill", "prefill_tokens_per_s", False)):
        pairs = tables.mode_overhead(rows[rows["task"] == task], metric, lower_is_better=lower)
        pairs = pairs.assign(case=series_names(pairs, ("model", "base", "profile"), prompt=True))
        chart(
            pairs,
            "batch",
            "overhead_pct",
            key=f"{task}-overhead",
            title=f"Dynamic over merged: {task}",
            x_title="batch (sequences)",
            y_title="overhead (% of merged)",
            group="case",
            kind="bar",
            unit="%",
            note=PLAIN_NOTE if task == "decode" else "",
        )
with tabs[3]:
    chart(
        task_rows("mixed", "decode_tokens_per_s").sort_values("n_adapters"),
        "n_adapters",
        "decode_tokens_per_s",
        key="mixed-throughput",
        title="Mixed-adapter batches",
        x_title="distinct adapters in the batch",
        y_title="decode tokens/s",
        unit="tokens/s",
        note="measured only at the adapter counts shown; nothing between them",
    )
with tabs[4]:
    ops = rows[rows["task"] == "adapters"]
    if ops.empty:
        st.info(f"No adapter load or swap rows. {FILL}")
    single_figures(
        ops,
        {
            "adapter_load_s": ("load from disk", "s"),
            "switch_ms": ("switch (set_adapter)", "ms"),
            "hotswap_ms": ("hot-swap", "ms"),
            "adapter_mib": ("adapter file", "MiB"),
        },
    )
with tabs[5]:
    fidelity = rows[rows["task"] == "fidelity"].dropna(subset=["logit_rel_diff_max"])
    st.warning(
        "The adapters here have random weights: the argmax token is then a near-tie, so token agreement "
        "(shown in the table) says little. The logit difference is the figure to read.",
        icon=":material/warning:",
    )
    chart(
        fidelity,
        "model",
        "logit_rel_diff_max",
        key="fidelity-logits",
        kind="bar",
        group="base",
        title="Merged vs dynamic: worst relative logit difference",
        x_title="model",
        unit="",
        y_title="max relative logit difference (fraction)",
    )
    if not fidelity.empty:
        st.dataframe(
            display(
                fidelity,
                [
                    "model",
                    "base",
                    "logit_rel_diff_max",
                    "logit_rel_diff_mean",
                    "token_agreement",
                    "device_name",
                    "git_commit",
                    "timestamp",
                ],
                rename={"base": "base weights"},
            ),
            hide_index=True,
        )

with st.expander("All inference rows (with provenance)"):
    st.dataframe(
        display(
            tables.view(frame, tables.INFER_SPEC, tables.INFER_METRICS).drop(columns=["time", "measured_at"])
        ),
        hide_index=True,
    )
