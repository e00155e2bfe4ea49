"""The planner's predicted memory terms beside each measured peak (Training page).

For each shown row, planner.memory.predict_memory projects the peak of the same configuration from its named
terms (weights, adapter, gradients, optimizer, activations, logits, fitted overhead), with the overhead fitted
on the other configurations' rows only; the measured peak is drawn beside the stack, so the gap is the
model's error on a configuration it was not fitted on.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.errors import InputError
from dashboards import charts, loaders, tables, ui


def _spec(row: pd.Series) -> dict:
    return {k: row[k] for k in tables.TRAIN_SPEC if k in row and row[k] is not None and row[k] == row[k]}


def memory_terms_frame(shown: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Long frame (configuration, term, gib, measured_peak_gib, basis) and the rows the planner could not read."""
    from planner.config import config_from_spec
    from planner.memory import predict_memory

    meas = loaders.measurements()
    out, skipped = [], []
    for _, row in shown.dropna(subset=["peak_allocated_gib"]).iterrows():
        try:
            config = config_from_spec(_spec(row))
            others = meas.without(lambda r, key=config.key: r.config.key == key)  # out of the fit
            pred = predict_memory(config, meas=others)
        except InputError as exc:
            skipped.append(f"{row['configuration']}: {exc}")
            continue
        for term, gib in pred.breakdown.items():
            out.append(
                {
                    "configuration": row["configuration"],
                    "term": term.removesuffix("_gib").replace("_", " "),
                    "gib": gib,
                    "basis": pred.basis,
                    "measured_peak_gib": row["peak_allocated_gib"],
                    "device_name": row["device_name"],
                    "model_note": pred.model,
                }
            )
    return pd.DataFrame(out), skipped


def show_memory_terms(shown: pd.DataFrame) -> None:
    terms, skipped = memory_terms_frame(shown)
    for message in skipped:
        st.warning(f"No prediction for {ui.plain(message)}")
    if terms.empty:
        st.info("No measured peak memory among the shown rows.")
        return
    fig = charts.grouped(
        terms,
        "configuration",
        "gib",
        group="term",
        basis="projected terms, measured peak",
        title="Predicted memory terms and measured peak",
        x_title="configuration",
        y_title="memory per GPU (GiB)",
    )
    fig.update_layout(barmode="stack")
    peaks = terms.drop_duplicates("configuration")
    charts.add_markers(
        fig, peaks["configuration"].tolist(), peaks["measured_peak_gib"].tolist(), "measured peak"
    )
    charts.show(fig, terms, key="train-memory-terms", basis="mixed", note=terms["model_note"].iloc[0])
