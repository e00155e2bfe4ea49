"""Training: measured tokens/s, MFU and peak memory across models, methods, ranks and sequence lengths, with
the planner's predicted memory terms beside each measured peak."""

from __future__ import annotations

import streamlit as st

from dashboards import charts, loaders, tables, ui, yours
from dashboards.display import display
from dashboards.memory_view import show_memory_terms

X_CHOICES = {
    "configuration": "configuration",
    "sequence length (tokens)": "seq_len",
    "LoRA rank": "rank",
    "micro-batch (sequences)": "micro_batch",
    "model": "model",
}
GROUP_CHOICES = {
    "method": "method",
    "hardware": "device_name",
    "model": "model",
    "profile": "profile",
    "CUDA allocator": "allocator",
}

st.title("Training")
st.caption("Measured fine-tuning runs: one row per spec, each run in its own process on the hardware named.")

frame = loaders.load_frame("train")
mine = yours.frame("train", key="train")
if frame.empty and mine.empty:
    ui.need_rows("train", "training rows", loaders.results_path())
    st.stop()

rows = tables.with_labels(tables.view(yours.combined(frame, mine), tables.TRAIN_SPEC, tables.TRAIN_METRICS))
ok_rows = rows[rows["status"] == "ok"]
shown = ui.filters(
    ok_rows,
    {
        "hardware": "device_name",
        "model": "model",
        "method": "method",
        "rank": "rank",
        "sequence length": "seq_len",
        "profile": "profile",
        "CUDA allocator": "allocator",
    },
    key="train",
)
latest_only = st.toggle("Newest row per spec", value=True, help="Older rows of a spec: see Regressions.")
if latest_only:
    shown = tables.latest_per_spec(shown)
if shown.empty:
    st.warning("No successful training rows match these filters.")
    st.stop()
shown = shown.assign(mfu_pct=shown["mfu"] * 100.0)
hardware = ui.hardware_note(shown)

x_label = st.segmented_control("Compare across", list(X_CHOICES), default="configuration", key="train-x")
x_label = x_label or "configuration"  # a segmented control can be cleared
x = X_CHOICES[x_label]
group = GROUP_CHOICES[
    st.segmented_control("Colour by", list(GROUP_CHOICES), default="method", key="train-g") or "method"
]
kind = "bar" if x in ("configuration", "model") else "scatter"
data = shown.sort_values([x, "configuration"], key=lambda s: s.astype(str) if s.dtype == object else s)
data = data.assign(colour=data[group].astype(str) + yours.mark(data))
hover = {"configuration": "configuration", **tables.PROVENANCE_HOVER}
plots = (
    ("tokens_per_s", "Training throughput", "tokens/s (whole job)", "tokens/s"),
    ("mfu_pct", "Model FLOPs utilisation", "MFU (% of the bf16 matmul peak measured in the same run)", "%"),
    ("peak_allocated_gib", "Peak memory per GPU", "peak allocated (GiB)", "GiB"),
)
tabs = st.tabs([title for _, title, _, _ in plots])
for tab, (metric, title, y_title, unit) in zip(tabs, plots, strict=True):
    with tab:
        fig = charts.grouped(
            data.dropna(subset=[metric]),
            x,
            metric,
            group="colour",
            title=title,
            x_title=x_label,
            y_title=y_title,
            basis="measured",
            kind=kind,
            hover=hover,
            unit=unit,
        )
        cols = [
            "configuration",
            x,
            group,
            metric,
            "source",
            "device_name",
            "git_commit",
            "timestamp",
            "torch",
            "transformers",
            "peft",
            "bitsandbytes",
        ]
        charts.show(
            fig, data[list(dict.fromkeys(cols))], key=f"train-{metric}", basis="measured", note=hardware
        )

st.subheader("Predicted memory terms beside the measured peak")
show_memory_terms(shown)

bad = rows[rows["status"] != "ok"]
if not bad.empty:
    st.subheader("Runs that did not finish")
    st.caption("An `oom` row means the configuration does not fit on that GPU.")
    st.dataframe(
        display(bad, ["configuration", "status", "error", "device_name", "timestamp"]), hide_index=True
    )

with st.expander("All training rows (with provenance)"):
    st.dataframe(display(rows.drop(columns=["time", "measured_at"], errors="ignore")), hide_index=True)
