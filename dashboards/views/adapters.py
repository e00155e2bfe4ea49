"""Adapters: the adapter registry (which adapter, trained on which data, against which base, deployed where),
the base check of every deployment, and which adapters a base upgrade would break."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.errors import InputError
from registry import store
from registry.db import default_location, open_registry
from registry.fingerprint import describe, digest_of
from registry.tables import summary

st.title("Adapters")
st.caption(
    "The adapter registry: each LoRA adapter by the hash of its weights, the base model it was saved for "
    "(by fingerprint), the data it was trained on and where it is deployed. A base with another fingerprint "
    "(a new release, a re-quantised copy) changes outputs without an error: deployments are checked here."
)


@st.cache_resource(show_spinner=False)
def _registry(location: str):
    """One engine per registry for the app's life: opening runs the migration check, which takes SQLite's
    write lock, so it is not done again on every rerun (a missing registry raises and is not cached)."""
    return open_registry(location, create=False)


location = default_location()
st.sidebar.caption(f"Registry: `{location}`")
try:
    entries = store.entries(_registry(location))
except InputError as exc:
    if "no registry here yet" not in str(exc):
        raise
    entries = []
if not entries:
    st.info(
        f"No adapters registered in `{location}` yet. Record one with\n\n"
        "```\npeftplan adapters register ADAPTER_FOLDER --data DATA\n```\n"
        "(`--registry PATH|URL` or `PEFTPLAN_REGISTRY` for another registry), then reload this page.",
        icon=":material/info:",
    )
    st.stop()

st.header("Registry")
st.dataframe(pd.DataFrame([summary(e) for e in entries]), hide_index=True, key="adapters-table")

st.header("Deployments: base check")
checks = [c for e in entries for c in store.coupling(e)]
if not checks:
    st.info(
        "No adapter is deployed (`peftplan adapters deploy ADAPTER --name N --base BASE --mode dynamic`)."
    )
else:
    frame = pd.DataFrame(checks)
    frame.insert(0, "check", frame["ok"].map({True: "same base", False: "MISMATCH"}))
    bad = frame[~frame["ok"]]
    if bad.empty:
        st.success(f"All {len(frame)} deployments run on the base their adapter was saved for.")
    else:
        st.error(
            f"{len(bad)} of {len(frame)} deployments run on another base than their adapter was saved for."
        )
    st.dataframe(frame.drop(columns=["ok"]), hide_index=True, key="coupling-table")

st.header("If a base were upgraded")
active = [e for e in entries if e["status"] == "active"]
bases = sorted({e["base_model"] for e in active})
if not bases:
    st.info("No active adapters.")
    st.stop()
base = st.selectbox("Base model", bases, key="upgrade-base")
coupled = [e for e in active if e["base_model"] == base]
unknown = [e for e in coupled if not digest_of(e["base_fingerprint"])]
st.markdown(
    f"Replacing **{base}** by a build with another fingerprint would break these {len(coupled)} active "
    "adapters: each was saved for the fingerprint shown and would need retraining, or a check against the "
    "new base, before its deployments move."
)
st.dataframe(
    pd.DataFrame(
        [
            {
                "id": e["id"],
                "weights": e["weights_sha256"][:12],
                "saved for": describe(e["base_fingerprint"]),
                "deployments": ", ".join(d["name"] for d in e["deployments"]) or "-",
                "data": e["data_label"],
            }
            for e in coupled
        ]
    ),
    hide_index=True,
    key="upgrade-table",
)
if unknown:
    st.warning(f"{len(unknown)} of them record no base fingerprint: they cannot be checked against any base.")
