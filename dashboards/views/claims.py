"""Claims: what is commonly said about PEFT, each held against the measurements (or, where no row measures it,
the planner's projection, labelled), with its verdict, the figure behind it and what would measure it.
The verdicts come from planner.claims; the job size is this session's scenario (Cost page)."""

from __future__ import annotations

import streamlit as st

from dashboards import loaders, plans, state, ui

ICONS = {
    "holds": ":material/check_circle:",
    "holds under conditions": ":material/rule:",
    "does not hold": ":material/cancel:",
    "not measured yet": ":material/help:",
}
COLOURS = {
    "holds": "green",
    "holds under conditions": "orange",
    "does not hold": "red",
    "not measured yet": "gray",
}

st.title("Claims")
st.caption(
    "What is commonly claimed about LoRA and QLoRA, held against this project's measurements. Where no row "
    "measures a claim, the planner's projection stands in and says so."
)
scn = state.current()
claims = plans.claims(scn)
counts = {v: sum(c.verdict == v for c in claims) for v in COLOURS}
cols = st.columns(len(counts))
for col, (verdict, n) in zip(cols, counts.items(), strict=True):
    col.metric(verdict.capitalize(), n)

for claim in claims:
    with st.container(border=True):
        colour = COLOURS.get(claim.verdict, "gray")
        st.markdown(
            f":{colour}-badge[{ICONS.get(claim.verdict, '')} {claim.verdict}] {ui.basis_badge(claim.basis)}"
        )
        st.subheader(claim.claim, anchor=False)
        st.text(f"Figure: {claim.figure}")
        st.caption("How it is tested, and where the figure comes from:")
        st.text(f"{claim.test}\n{claim.evidence}".strip())
        st.caption("What would measure it (better):")
        st.text(claim.to_measure)
st.caption(f"Result rows: {loaders.results_path()}")
