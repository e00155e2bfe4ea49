"""Overview: the verdict for the session's scenario (the default until changed on the Cost page or by a
link), what it rests on, the ranking beside a cost-versus-time chart, and the headline measured figures."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards import cost_view, loaders, plans, state, tables, ui
from dashboards.display import display, usd
from planner import scenario as scenario_mod

scn = state.current()
st.title("Fine-tune on your own GPUs, or pay a managed API?")
state.link_error()
st.markdown(
    f"**Scenario:** {ui.plain(scn['model'])} {ui.METHOD_NAMES[scn['method']]} (rank {scn['rank']}, all linear layers, "
    f"requested batch {scn['micro_batch']} × {scn['seq_len']}), {scn['tokens'] / 1e6:,.0f}M tokens × "
    f"{scn['epochs']:g} epochs per run, {scn['runs_per_month']:g} runs a month. Change any of it on the "
    "**Cost** page; the link of either page carries it."
)
changed = scenario_mod.changes(scn)
if changed:
    st.caption(f"Changed from the catalog and defaults ({len(changed)}):")
    st.text("\n".join(changed))

plan = plans.training(scn)
if not cost_view.show_verdict(plan, scn):
    st.stop()
best_self = plan["best_self"]
options = plan["options"]
shown = pd.concat(
    [
        options[options["kind"] == "self-hosted"].head(3),
        options[options["kind"] == "on-prem"].head(1),
        options[options["kind"] == "managed"],
    ]
)
with ui.wrapping_row("overview-charts", 2) as (left, right):
    with left:
        cost_view.show_cost_chart(
            shown, runs=scn["runs_per_month"], key="overview-cost", self_basis=best_self.basis
        )
    with right:
        cost_view.show_pareto(options, runs=scn["runs_per_month"], key="overview-pareto")

st.subheader("Break-even against each managed API")
# the Overview's tables as text: they wrap on a narrow window and load no grid code (the rest is on Cost);
# every row is against the cheapest self-hosted option, named once above the table
against = plan["break_even"]
if not against.empty:
    against = against[against["self_kind"] == "self-hosted"][["self_option", "self_usd_total"]]
if len(against.drop_duplicates()) == 1:
    name, total = against.iloc[0]
    st.caption(f"Against {ui.plain(name)}, {usd(total)} a month.")
cost_view.show_break_even(
    plan["break_even"],
    kinds=("self-hosted",),
    columns=["managed_option", "managed_usd_total", "verdict", "break_even_runs_per_month"],
    grid=False,
)
for note in plan["comparison"].notes:
    st.caption(note)

st.subheader("Headline measurements")
train = loaders.load_frame("train")
if train.empty:
    ui.need_rows("train", "training rows", loaders.results_path())
else:
    heads = tables.headline_train(tables.view(train, tables.TRAIN_SPEC, tables.TRAIN_METRICS))
    ui.text_table(display(heads))
    st.markdown(
        f"{ui.basis_badge('measured')} {ui.hardware_note(train)}"
    )  # hardware_note escapes device names
infer = loaders.load_frame("infer")
if not infer.empty:
    decode = tables.headline_decode(tables.view(infer, tables.INFER_SPEC, tables.INFER_METRICS))
    if not decode.empty:
        st.caption("Decode at batch 1, ms per token by mode (measured; plain is eager generate):")
        ui.text_table(display(decode, rename={"base": "base weights"}))
