"""Cost: what-if controls over a training scenario; the cost table and chart, the break-even curve, the
sensitivity tornado and on-prem payback, all computed by the planner."""

from __future__ import annotations

import streamlit as st

from core.vocab import METHODS, PROFILES
from dashboards import cost_view, loaders, plans, ui
from planner.config import parse_tokens
from planner.cost import DEFAULT_UTILISATION, cloud_ops_usd_per_month

KINDS = ("on-demand", "spot", "reserved", "on-prem")
default = plans.DEFAULT_SCENARIO

st.title("Cost")
st.caption("A training job is tokens × epochs; each option is priced per month for the runs you expect.")

models = plans.released_models()
top = st.columns([2, 2, 1.3, 1, 1])
model = top[0].selectbox("Model", models, index=models.index(default["model"]), key="cost-model")
method = top[1].segmented_control("Method", list(METHODS), default=default["method"], key="cost-method",
                                  format_func=ui.METHOD_NAMES.get) or default["method"]  # fmt: skip
tokens_text = top[2].text_input("Tokens per epoch", "100M", key="cost-tokens", help="e.g. 250k, 100M, 1.5B")
epochs = top[3].number_input("Epochs", 0.1, 100.0, default["epochs"], 0.5, key="cost-epochs")
runs = top[4].number_input("Runs per month", 0.1, 1000.0, default["runs_per_month"], 1.0, key="cost-runs")

catalog = loaders.catalog()
mid = st.columns([3, 2, 2])
gpus = mid[0].multiselect("GPUs", list(catalog.gpus), key="cost-gpus", placeholder="all GPUs in the catalog")
kinds = mid[1].multiselect("Pricing kinds", KINDS, key="cost-kinds", placeholder="all kinds",
                           help="Self-hosted and on-prem options; managed offers are always priced.")  # fmt: skip
utilisation = mid[2].slider("Utilisation of billed GPU-hours", 0.3, 1.0, DEFAULT_UTILISATION, 0.05,
                            key="cost-util", help="Share of paid hours spent in training steps.")  # fmt: skip

with st.expander("Training configuration"):
    cfg = st.columns(5)
    rank = cfg[0].selectbox("LoRA rank", [4, 8, 16, 32, 64, 128], index=2, key="cost-rank")
    seq_len = cfg[1].selectbox("Sequence length", [512, 1024, 2048, 4096, 8192], index=2, key="cost-seq")
    micro_batch = cfg[2].selectbox("Micro-batch", [1, 2, 4, 8, 16], index=2, key="cost-batch")
    profile = cfg[3].selectbox("Profile", list(PROFILES), key="cost-profile")
    scope = cfg[4].selectbox("Managed offers", ["all", "same-model"], key="cost-scope",
                             help="same-model: only offers that tune this open model")  # fmt: skip
    ops = st.number_input("Fixed cost of running self-hosted jobs (USD per month)", 0.0, 1e6,
                          cloud_ops_usd_per_month(catalog), 100.0, key="cost-ops",
                          help="Engineering time, storage, monitoring (default: data/catalog/defaults.csv).")  # fmt: skip

with st.expander("On-prem assumptions"):
    onprem = {}
    if st.toggle("Replace the catalog's on-prem assumptions", key="cost-onprem"):
        site = next(iter(catalog.onprem.values()))
        row = st.columns(4)
        onprem = {"years": row[0].number_input("Depreciation (years)", 1.0, 10.0, float(site.years), 0.5, key="cost-years"),
                  "usd_per_kwh": row[1].number_input("Power (USD per kWh)", 0.01, 1.0, float(site.usd_per_kwh), 0.01, key="cost-kwh"),
                  "pue": row[2].number_input("PUE", 1.0, 3.0, float(site.pue), 0.05, key="cost-pue"),
                  "utilisation": row[3].number_input("Utilisation of the hardware", 0.05, 1.0,
                                                     float(site.utilisation), 0.05, key="cost-hw-util")}  # fmt: skip
    capex = st.slider("Server price (× catalog)", 0.5, 2.0, 1.0, 0.05, key="cost-capex")
    st.dataframe(cost_view.onprem_table(catalog), hide_index=True)

scenario = {"model": model, "method": method, "tokens": parse_tokens(tokens_text), "epochs": float(epochs),
            "runs_per_month": float(runs), "rank": rank, "seq_len": seq_len, "micro_batch": micro_batch,
            "profile": profile, "utilisation": float(utilisation), "ops_usd_per_month": float(ops),
            "managed_scope": scope, "onprem_capex_factor": float(capex)}  # fmt: skip
selection = plans.Selection(tuple(gpus), tuple(kinds), tuple(sorted(onprem.items())))
plan = plans.training(scenario, selection)
cost_view.show_verdict(plan)

options = plan["options"]
if options.empty:
    st.warning("Nothing is priced for this selection.")
    st.stop()
tab_cost, tab_even, tab_sens = st.tabs(["Cost by option", "Break-even", "Sensitivity and payback"])
with tab_cost:
    cost_view.show_cost_chart(options, runs=runs, key="cost-options",
                              self_basis=plan["best_self"].basis if plan["best_self"] else "projected")  # fmt: skip
    st.dataframe(options, hide_index=True, column_config={"usd_total": st.column_config.NumberColumn(
        "USD per month", format="dollar"), "usd_per_run": st.column_config.NumberColumn(format="dollar")})  # fmt: skip
    skipped = plan["comparison"].skipped
    if skipped:
        with st.expander(f"{len(skipped)} options not priced, and why"):
            st.dataframe([{"option": o, "why": w} for o, w in skipped], hide_index=True)
with tab_even:
    cost_view.show_curves(plan["curves"], runs, key="cost-curves")
    cost_view.show_break_even(plan["break_even"])
with tab_sens:
    sens = plans.sensitivity(scenario, selection)
    if sens.empty or sens["base_saving_usd"].isna().all():
        st.info("Sensitivity needs a self-hosted and a managed option in the selection.")
    else:
        cost_view.show_tornado(sens, key="cost-tornado")
    st.subheader("On-prem payback")
    pay = plans.payback(scenario, selection)
    if pay.empty:
        st.info("No on-prem option in the selection.")
    else:
        st.caption(
            "Months for an owned server set, kept busy, to pay for itself against renting the same work."
        )
        st.dataframe(pay, hide_index=True)
for note in plan["comparison"].notes:
    st.caption(note)
