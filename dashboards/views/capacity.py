"""Capacity: a monthly workload and a deadline give the GPUs needed per GPU type; the fits-in-memory matrix
(GPU × model × method) is coloured by the headroom left. Both come from planner.capacity."""

from __future__ import annotations

import streamlit as st

from core.vocab import METHODS
from dashboards import charts, plans, ui
from dashboards.display import display
from planner.config import parse_tokens

default = plans.DEFAULT_SCENARIO

st.title("Capacity")
st.caption("How many GPUs of each type a month's fine-tuning needs, and which models fit on which GPU.")

st.header("GPUs for a workload")
models = plans.released_models()
row = st.columns([2, 2, 1.3, 1, 1, 1.3])
model = row[0].selectbox("Model", models, index=models.index(default["model"]), key="cap-model")
method = (
    row[1].segmented_control(
        "Method", list(METHODS), default=default["method"], key="cap-method", format_func=ui.METHOD_NAMES.get
    )
    or default["method"]
)
tokens_text = row[2].text_input(
    "Tokens per job", "100M", key="cap-tokens", help="per epoch: 250k, 100M, 1.5B"
)
epochs = row[3].number_input("Epochs", 0.1, 100.0, default["epochs"], 0.5, key="cap-epochs")
jobs = row[4].number_input("Jobs per month", 0.1, 10000.0, default["runs_per_month"], 1.0, key="cap-jobs")
deadline = row[5].number_input(
    "Deadline (hours)",
    1.0,
    730.0,
    72.0,
    1.0,
    key="cap-deadline",
    help="Wall-clock hours in which the month's jobs must be done (730 = the month).",
)

workload = {
    "model": model,
    "method": method,
    "tokens_per_job": parse_tokens(tokens_text, "tokens per job"),
    "epochs": float(epochs),
    "jobs_per_month": float(jobs),
    "deadline_hours": float(deadline),
}
need = plans.gpus_needed(workload)
if "gpus_needed" not in need or need["gpus_needed"].isna().all():
    st.warning(
        "No GPU type meets this deadline with up to 8 GPUs per job. "
        + "; ".join(need["note"].dropna().unique())
    )
else:
    planned = need.dropna(subset=["gpus_needed"]).assign(basis=lambda f: f["basis"].fillna("projected"))
    hover = {"hours per job": "job_hours", "GPUs per job": "gpus_per_job", "configuration": "config"}
    fig = charts.grouped(
        planned,
        "gpu",
        "gpus_needed",
        group="basis",
        hover=hover,
        unit="GPUs",
        title="GPUs needed to meet the deadline",
        x_title="GPU type",
        y_title="GPUs (count)",
        basis="throughput projected, or measured where a row exists",
    )
    charts.show(
        fig,
        need,
        key="capacity-gpus",
        basis="mixed",
        note="colour: whether the tokens/s behind each bar was measured on that GPU or projected",
    )
    cols = [
        "gpu",
        "gpus_needed",
        "gpus_per_job",
        "groups",
        "rounds",
        "finish_hours",
        "job_hours",
        "gpu_hours_per_month",
        "tokens_per_s_per_job",
        "basis",
        "peak_allocated_gib",
        "memory_basis",
        "memory_gib",
        "config",
        "note",
    ]
    st.dataframe(display(need, cols), hide_index=True)

st.header("What fits in which GPU's memory")
row = st.columns([3, 1, 1])
methods = row[0].multiselect(
    "Methods", list(METHODS), default=list(METHODS), key="cap-fit-methods", format_func=ui.METHOD_NAMES.get
)
seq_len = row[1].selectbox("Sequence length", [512, 1024, 2048, 4096, 8192], index=2, key="cap-fit-seq")
micro_batch = row[2].selectbox("Micro-batch", [1, 2, 4, 8], index=2, key="cap-fit-batch")
if not methods:
    st.info("Pick at least one method.")
    st.stop()
matrix = plans.fits(tuple(methods), seq_len, micro_batch)
if matrix.empty:
    st.info(f"No released model accepts sequences of {seq_len} tokens.")
    st.stop()
charts.show(
    charts.fits_heatmap(matrix),
    matrix,
    key="capacity-fits",
    basis="mixed",
    note=f"cell text: GiB to spare on one GPU (negative: short by that much; {charts.CELL_SHORT}: short by "
    "100 GiB or more); colour: headroom as a share of the GPU's memory. Hover for the figure and the "
    "configuration that fits (checkpointing, smaller batch) or the GPUs it needs.",
)
