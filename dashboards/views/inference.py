"""Inference: merged vs dynamic vs base adapters. Decode latency and prefill throughput by batch, the overhead
of dynamic over merged in %, mixed-adapter batches, adapter load and swap times, and merge fidelity."""

from __future__ import annotations

import streamlit as st

from dashboards import charts, loaders, tables, ui

FILL = f"The inference suites measure every task: `{ui.FILL_COMMANDS['infer'][1]}`."

st.title("Inference")
st.caption(
    "Serving a LoRA adapter merged into the base (one model per adapter), dynamic (one base, adapters beside "
    "it), or the base alone. Each row measured in its own process on the hardware named."
)

frame = loaders.load_frame("infer")
if frame.empty:
    ui.need_rows("infer", "inference rows", loaders.results_path())
    st.stop()

rows = tables.view(frame, tables.INFER_SPEC, tables.INFER_METRICS)
rows = tables.latest_per_spec(rows[rows["status"] == "ok"])
rows = ui.filters(rows, {"hardware": "device_name", "model": "model", "base weights": "base", "profile": "profile"},
                  key="infer")  # fmt: skip
rows = rows.assign(
    series=rows["model"].astype(str) + " · " + rows["mode"].astype(str) + " · " + rows["base"].astype(str)
    + " · " + rows["profile"].astype(str)
)
hardware = ui.hardware_note(rows)


def task_rows(task: str, metric: str):
    return rows[(rows["task"] == task)].dropna(subset=[metric]).sort_values("batch")


def chart(data, x, y, *, key, title, x_title, y_title, group="series", kind="line", hover="model"):
    if data.empty:
        st.info(f"No rows for this chart match these filters. {FILL}")
        return
    if kind == "line" and data[x].nunique() < 2:  # one point per series: bars read better than dots
        kind = "bar"
    fig = charts.grouped(data, x, y, group=group, title=title, x_title=x_title, y_title=y_title,
                         basis="measured", kind=kind, hover=hover)  # fmt: skip
    charts.show(fig, data, key=key, basis="measured", note=hardware)


tabs = st.tabs(
    ["Decode", "Prefill", "Dynamic overhead", "Mixed adapters", "Adapter load and swap", "Merge fidelity"]
)
with tabs[0]:
    chart(task_rows("decode", "ms_per_token"), "batch", "ms_per_token", key="decode-latency",
          title="Decode latency", x_title="batch (sequences)", y_title="ms per token (one decode step)")  # fmt: skip
with tabs[1]:
    chart(task_rows("prefill", "prefill_tokens_per_s"), "batch", "prefill_tokens_per_s", key="prefill-throughput",
          title="Prefill throughput", x_title="batch (sequences)", y_title="prompt tokens/s")  # fmt: skip
    chart(task_rows("prefill", "ttft_ms"), "batch", "ttft_ms", key="prefill-ttft",
          title="Time to first token", x_title="batch (sequences)", y_title="ms")  # fmt: skip
with tabs[2]:
    st.caption("Derived from pairs of rows with equal spec and hardware except the mode; not stored.")
    from planner.inference import dynamic_overhead

    for model in sorted(rows["model"].dropna().unique()):
        used = {task: dynamic_overhead(model, task, loaders.measurements()) for task in ("decode", "prefill")}
        st.markdown(f"The serving cost model uses, for **{ui.plain(model)}**: " + "; ".join(
            f"{task} {fig.value:+.0%} {ui.basis_badge(fig.basis)} ({fig.model})" for task, fig in used.items()))  # fmt: skip
    for task, metric, lower in (("decode", "ms_per_token", True), ("prefill", "prefill_tokens_per_s", False)):
        pairs = tables.mode_overhead(rows[rows["task"] == task], metric, lower_is_better=lower)
        pairs = pairs.assign(case=pairs["model"] + " · " + pairs["base"] + " · " + pairs["profile"])
        chart(pairs, "batch", "overhead_pct", key=f"{task}-overhead", title=f"Dynamic over merged: {task}",
              x_title="batch (sequences)", y_title="overhead (%)", group="case", kind="bar", hover="prompt_len")  # fmt: skip
with tabs[3]:
    chart(task_rows("mixed", "decode_tokens_per_s").sort_values("n_adapters"), "n_adapters", "decode_tokens_per_s",
          key="mixed-throughput", title="Mixed-adapter batches", x_title="distinct adapters in the batch",
          y_title="decode tokens/s", hover="batch")  # fmt: skip
with tabs[4]:
    ops = rows[rows["task"] == "adapters"]
    chart(ops.dropna(subset=["adapter_load_s"]), "model", "adapter_load_s", key="adapters-load", kind="bar",
          title="Adapter load from disk", x_title="model", y_title="seconds", hover="rank")  # fmt: skip
    swaps = ops.melt(id_vars=["model", "base", "profile", "device_name", "git_commit", "rank"],
                     value_vars=["switch_ms", "hotswap_ms"], var_name="operation", value_name="ms").dropna(subset=["ms"])  # fmt: skip
    chart(swaps, "model", "ms", key="adapters-swap", kind="bar", group="operation",
          title="Adapter switch (set_adapter) and hot-swap", x_title="model", y_title="ms", hover="rank")  # fmt: skip
with tabs[5]:
    fidelity = rows[rows["task"] == "fidelity"].dropna(subset=["logit_rel_diff_max"])
    chart(fidelity, "model", "logit_rel_diff_max", key="fidelity-logits", kind="bar", group="base",
          title="Merged vs dynamic: worst relative logit difference", x_title="model",
          y_title="max relative logit difference (fraction)", hover="token_agreement")  # fmt: skip
    if not fidelity.empty:
        st.dataframe(fidelity[["model", "base", "logit_rel_diff_max", "logit_rel_diff_mean", "token_agreement",
                               "device_name"]], hide_index=True)  # fmt: skip

with st.expander("All inference rows (with provenance)"):
    st.dataframe(tables.view(frame, tables.INFER_SPEC, tables.INFER_METRICS), hide_index=True)
