"""Overview: the verdict for the default scenario (self-hosted on the cheapest GPU that fits against each
managed API, with the break-even), and the headline measured figures with their hardware."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards import cost_view, loaders, plans, tables, ui

scn = plans.DEFAULT_SCENARIO
st.title("Fine-tune on your own GPUs, or pay a managed API?")
st.markdown(
    f"**Scenario:** {scn['model']} {ui.METHOD_NAMES[scn['method']]} (rank 16, all linear layers, batch 4 × 2048), "
    f"{scn['tokens'] / 1e6:,.0f}M tokens × {scn['epochs']:g} epochs per run, {scn['runs_per_month']:g} runs a "
    "month. Change any of it on the **Cost** page."
)

plan = plans.training(scn)
if not cost_view.show_verdict(plan):
    st.stop()
best_self = plan["best_self"]
options = plan["options"]
shown = pd.concat([options[options["kind"] == "self-hosted"].head(1), options[options["kind"] == "on-prem"].head(1),
                   options[options["kind"] == "managed"]])  # fmt: skip
cost_view.show_cost_chart(shown, runs=scn["runs_per_month"], key="overview-cost", self_basis=best_self.basis)

st.subheader("Break-even against each managed API")
cost_view.show_break_even(plan["break_even"], kinds=("self-hosted",))
for note in plan["comparison"].notes:
    st.caption(note)

st.subheader("Headline measurements")
train = loaders.load_frame("train")
if train.empty:
    ui.need_rows("train", "training rows", loaders.results_path())
else:
    heads = tables.headline_train(tables.view(train, tables.TRAIN_SPEC, tables.TRAIN_METRICS))
    st.dataframe(heads, hide_index=True, column_config={
        "tokens_per_s": st.column_config.NumberColumn("tokens/s", format="%.0f"),
        "mfu_pct": st.column_config.NumberColumn("MFU (%)", format="%.1f"),
        "peak_allocated_gib": st.column_config.NumberColumn("peak GiB", format="%.1f")})  # fmt: skip
    st.markdown(f"{ui.basis_badge('measured')} {ui.hardware_note(train)}")
infer = loaders.load_frame("infer")
if not infer.empty:
    decode = tables.headline_decode(tables.view(infer, tables.INFER_SPEC, tables.INFER_METRICS))
    if not decode.empty:
        st.caption("Decode at batch 1, ms per token by mode (measured):")
        st.dataframe(decode, hide_index=True)
