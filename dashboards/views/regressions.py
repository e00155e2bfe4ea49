"""Regressions: each spec's measured figure over time and commits, with the regression gate's thresholds."""

from __future__ import annotations

import streamlit as st

from dashboards import charts, gate_view, loaders, tables, ui
from dashboards.display import display, header

KINDS = {
    "Training": ("train", tables.TRAIN_SPEC, tables.TRAIN_METRICS, "tokens_per_s"),
    "Inference": ("infer", tables.INFER_SPEC, tables.INFER_METRICS, "ms_per_token"),
}

st.title("Regressions")
st.caption(
    "The same spec (same spec hash) measured again over time: one line per spec, one point per row. "
    "Rows with measured windows show the windows' median (the gate's figure) and a shaded noise band "
    "from their lowest to their highest window."
)

choice = st.segmented_control("Rows", list(KINDS), default="Training", key="reg-kind") or "Training"
kind, spec_fields, metric_names, default_metric = KINDS[choice]
frame = loaders.load_frame(kind)
if frame.empty:
    ui.need_rows(kind, f"{choice.lower()} rows", loaders.results_path())
    st.stop()

rows = tables.view(frame, spec_fields, metric_names)
for name in metric_names:  # the gate judges a row by its windows where it has them
    rows[f"{name}_windows"] = tables.column(frame, f"metrics.{name}_windows")
rows = rows[rows["status"] == "ok"]
rows = rows.assign(spec=tables.spec_labels(rows, kind), commit=rows["git_commit"].astype(str).str[:10])
rows["commit"] = rows["commit"].where(rows["git_dirty"] != True, rows["commit"] + " (dirty)")  # noqa: E712
metrics = tables.numeric_metrics(rows, metric_names)
if not metrics:
    st.warning("No successful rows with figures yet.")
    st.stop()

left, right = st.columns([1, 2])
metric = left.selectbox(
    "Metric",
    metrics,
    index=metrics.index(default_metric) if default_metric in metrics else 0,
    format_func=lambda name: header(name)[0],
)
label = header(metric)[0]
counts = rows.dropna(subset=[metric])["spec"].value_counts()
specs = right.multiselect(
    "Specs",
    counts.index.tolist(),
    default=counts.index[:6].tolist(),
    key="reg-specs",
    help="Specs with the most rows first.",
)
data = gate_view.with_noise(rows[rows["spec"].isin(specs)], metric).sort_values("time")
if data.empty:
    st.info("Pick at least one spec.")
    st.stop()
if counts.max() < 2:
    st.info("Each spec has one row so far; a trend appears once a suite is run again on a later commit.")

gates = gate_view.thresholds(loaders.THRESHOLDS_TOML)
gate = gates.get(metric) if gates else None
lower = gate.better == "lower" if gate else metric in tables.LOWER_IS_BETTER

fig = charts.grouped(
    data,
    "time",
    metric,
    group="spec",
    title=f"{label} over time",
    x_title="measured at (UTC)",
    y_title=label,
    basis="measured",
    kind="line",
    hover="commit",
)
gate_view.add_noise_bands(fig, data)
# long spec names: the legend below the chart, full width
fig.update_layout(legend={"orientation": "h", "yanchor": "top", "y": -0.45})  # under the axis title
verdicts = gate_view.steps(data, metric, gate) if gate else None
if gate:
    for spec, part in data.groupby("spec"):
        if len(part) >= 2:  # the newest row is judged against the one before it
            limit = gate_view.worst_allowed(float(part[metric].iloc[-2]), gate)
            charts.add_limit(fig, part["time"].iloc[-2], part["time"].iloc[-1], limit, f"gate limit: {spec}")
    flagged = verdicts[verdicts["verdict"] == "regressed"]
    if not flagged.empty:
        charts.add_markers(
            fig, flagged["time"].tolist(), flagged["new"].tolist(), "regressed", color="#C0392B"
        )
note = f"{'lower' if lower else 'higher'} is better · {ui.hardware_note(data)}"
charts.show(
    fig,
    data[
        [
            "spec",
            "spec_hash",
            "time",
            metric,
            "low",
            "high",
            "spread_pct",
            "windows",
            "git_commit",
            "git_dirty",
            "device_name",
            "file",
        ]
    ],
    key=f"regressions-{kind}-{metric}",
    basis="measured",
    note=note,
)

st.subheader("Regression gate")
if gates is None:
    st.info(
        f"No thresholds file yet: the regression gate reads its thresholds from {loaders.THRESHOLDS_TOML}. "
        "Until it exists the chart shows the figures without a gate."
    )
elif gate is None:
    st.info(f"The gate does not check {label}; it checks: {', '.join(header(m)[0] for m in gates)}.")
else:
    st.markdown(
        f"{label}: {gate.better} is better; a row regresses when its median moves the wrong way by more "
        f"than {gate.tolerance:.0%} from its baseline's and its windows separate from the baseline's (`peftplan "
        "results compare BASELINE NEW`); a larger move inside the noise is `noisy`. Dashed: the limit for each "
        "spec's newest row against the row before it; red diamonds: steps the gate calls regressed."
    )
    if verdicts.empty:
        st.caption("No spec has two rows yet, so there is no step to judge.")
    else:
        st.dataframe(display(verdicts), hide_index=True)
