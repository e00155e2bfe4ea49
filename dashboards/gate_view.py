"""The regression gate's view of a spec's history (Regressions page).

The gate (planner.regress, thresholds in data/regression/thresholds.toml) compares a new row of a spec with a
baseline row of the same spec on the same device class, by the medians of their measured windows and whether
those windows separate. Here each row of a series is judged against the row before it with the gate's own
`judge`, so the page shows the verdicts the gate would give, step by step, and each row's noise band (the
lowest and highest of its windows) around its median.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from planner.regress import Sample, Threshold, device_class, judge, load_thresholds


def thresholds(path: Path) -> dict[str, Threshold] | None:
    """The gate's thresholds by metric; None when the file does not exist (InputError when it is bad)."""
    if not path.is_file():
        return None
    return {t.metric: t for t in load_thresholds(path)}


def sample_of(value: object, windows: object) -> Sample | None:
    """A row's figure as the gate reads it: its windows where it has them, else its one figure."""
    if isinstance(windows, list) and windows and all(isinstance(w, (int, float)) for w in windows):
        return Sample(tuple(float(w) for w in windows))
    return None if value is None or pd.isna(value) else Sample((float(value),))


def with_noise(data: pd.DataFrame, metric: str) -> pd.DataFrame:
    """The rows with the gate's figure (the windows' median) in `metric`, the band's edges in `low` / `high`
    and the relative spread, from the `<metric>_windows` column where rows carry windows."""
    windows = (
        data[f"{metric}_windows"]
        if f"{metric}_windows" in data
        else pd.Series([None] * len(data), index=data.index)
    )
    samples = [sample_of(v, w) for v, w in zip(data[metric], windows, strict=True)]
    out = data.assign(sample=samples).dropna(subset=["sample"])
    return out.assign(
        **{
            metric: [s.value for s in out["sample"]],
            "low": [min(s.windows) for s in out["sample"]],
            "high": [max(s.windows) for s in out["sample"]],
            "spread_pct": [(s.spread or 0.0) * 100 for s in out["sample"]],
            "windows": [len(s.windows) for s in out["sample"]],
        }
    )


def steps(data: pd.DataFrame, metric: str, threshold: Threshold) -> pd.DataFrame:
    """Each row of each spec series (one device class) against the row before it: change and verdict."""
    out = []
    data = data.assign(device_class=[device_class(d) for d in data["device_name"]])
    for (spec, device), part in data.sort_values("time").groupby(["spec", "device_class"], sort=False):
        samples, commits, times = part["sample"].tolist(), part["commit"].tolist(), part["time"].tolist()
        for i in range(1, len(samples)):
            change, verdict = judge(threshold, samples[i - 1], samples[i])
            out.append(
                {
                    "spec": spec,
                    "device_class": device,
                    "from_commit": commits[i - 1],
                    "to_commit": commits[i],
                    "time": times[i],
                    "baseline": samples[i - 1].value,
                    "new": samples[i].value,
                    "change_pct": change * 100.0,
                    "new_spread_pct": (samples[i].spread or 0.0) * 100,
                    "verdict": verdict,
                }
            )
    columns = [
        "spec",
        "device_class",
        "from_commit",
        "to_commit",
        "time",
        "baseline",
        "new",
        "change_pct",
        "new_spread_pct",
        "verdict",
    ]
    return pd.DataFrame(out, columns=columns)


def worst_allowed(baseline: float, threshold: Threshold) -> float:
    """The figure at the edge of the gate's tolerance around a baseline (for a dashed line)."""
    sign = -1.0 if threshold.better == "higher" else 1.0
    return baseline * (1.0 + sign * threshold.tolerance)


def add_noise_bands(fig, data: pd.DataFrame) -> None:
    """A shaded band per spec from its rows' lowest to highest window (only where rows carry windows)."""
    import plotly.graph_objects as go

    for spec, part in data[data["windows"] > 1].sort_values("time").groupby("spec"):
        x = part["time"].tolist()
        fig.add_trace(
            go.Scatter(
                x=x + x[::-1],
                y=part["high"].tolist() + part["low"].tolist()[::-1],
                fill="toself",
                mode="lines",
                line={"width": 0},
                opacity=0.2,
                name=f"noise band: {spec}",
                hoverinfo="skip",
            )
        )
