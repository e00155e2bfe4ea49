"""Cost: what-if controls over a training scenario; the cost table and chart, the break-even curve, the
sensitivity tornado and on-prem payback, all computed by the planner."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards import cost_view, loaders, plans, scenario_view, state, ui
from dashboards.display import display

st.title("Cost")
st.caption(
    "A training job is tokens × epochs; each option is priced per month for the runs you expect. Every "
    "assumption below starts from the catalog; the page's link carries your changes."
)
state.link_error()
scn = dict(state.current())
catalog = loaders.catalog()
scenario_view.job_controls(scn, plans.released_models())
# Assumptions behind closed expanders are not drawn (nor computed): a change reruns only what is shown. Their
# values live in the scenario, and a reopened expander starts from it.
with ui.lazy_expander("Training configuration", "cost-open-config") as shown:
    if shown:
        scenario_view.config_controls(scn)
with ui.lazy_expander(
    "Scaling: prices and throughput (× catalog or projection)", "cost-open-scaling"
) as shown:
    if shown:
        scenario_view.cost_controls(scn)
with ui.lazy_expander("Prices", "cost-open-prices") as shown:
    if shown:
        unchanged = plans.training({**scn, "prices": {}})["best_self"]
        scenario_view.price_controls(scn, catalog, plans.price_key_of(unchanged, catalog))
with ui.lazy_expander("People and spot assumptions", "cost-open-people") as shown:
    if shown:
        scenario_view.defaults_controls(scn, catalog)
with ui.lazy_expander("On-prem assumptions", "cost-open-onprem") as shown:
    if shown:
        scenario_view.onprem_controls(scn, catalog)
        st.dataframe(display(cost_view.onprem_table(catalog)), hide_index=True)
state.save(scn)
scenario_view.file_controls(scn)

plan = plans.training(scn)
runs = scn["runs_per_month"]
cost_view.show_verdict(plan, scn)
options = plan["options"]
if options.empty:
    st.warning("Nothing is priced for this selection.")
    st.stop()
# one view at a time: only the chosen one is computed and drawn, so a change reruns in a fraction of the time
VIEWS = ("Cost by option", "Cost against time", "Break-even", "Sensitivity and payback")
view = st.segmented_control("Show", VIEWS, default=VIEWS[0], key="cost-view") or VIEWS[0]
if view == VIEWS[0]:
    cost_view.show_cost_chart(
        options,
        runs=runs,
        key="cost-options",
        self_basis=plan["best_self"].basis if plan["best_self"] else "projected",
    )
    cost_view.show_options_table(options)
    cost_view.show_unranked(plan["comparison"])
    skipped = plan["comparison"].skipped
    if skipped:
        with ui.lazy_expander(f"{len(skipped)} options not priced, and why", "cost-open-skipped") as shown:
            if shown:
                st.dataframe(
                    pd.DataFrame(skipped, columns=["option", "why it is not priced"]), hide_index=True
                )
elif view == VIEWS[1]:
    cost_view.show_pareto(options, runs=runs, key="cost-pareto")
elif view == VIEWS[2]:
    cost_view.show_curves(plan["curves"], runs, key="cost-curves")
    cost_view.show_break_even(plan["break_even"])
else:
    sens = plans.sensitivity(scn)
    if sens.empty or sens["base_saving_usd"].isna().all():
        st.info("Sensitivity needs a self-hosted and a managed option in the selection.")
    else:
        cost_view.show_tornado(sens, key="cost-tornado")
    st.subheader("On-prem payback")
    pay = plans.payback(scn)
    if pay.empty:
        st.info("No on-prem option in the selection.")
    else:
        st.caption(
            "Months for an owned server set, kept busy, to pay for itself against renting the same work."
        )
        st.dataframe(display(pay), hide_index=True)
for note in plan["comparison"].notes:
    st.caption(note)
