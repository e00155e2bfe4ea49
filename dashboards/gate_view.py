"""The regression gate's view of a spec's history (Regressions page).

The gate (planner.regress, thresholds in benchmarks/regression-thresholds.toml) compares a new row of a spec
with a baseline row of the same spec on the same device. Here each row of a series is judged against the row
before it with the gate's own `judge`, so the page shows the verdicts the gate would give, step by step.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from planner.regress import Threshold, judge, load_thresholds


def thresholds(path: Path) -> dict[str, Threshold] | None:
    """The gate's thresholds by metric; None when the file does not exist (InputError when it is bad)."""
    if not path.is_file():
        return None
    return {t.metric: t for t in load_thresholds(path)}


def steps(data: pd.DataFrame, metric: str, threshold: Threshold) -> pd.DataFrame:
    """Each row of each spec series against the row before it: change and the gate's verdict."""
    out = []
    for (spec, device), part in data.sort_values("time").groupby(["spec", "device_name"], sort=False):
        values, commits, times = part[metric].tolist(), part["commit"].tolist(), part["time"].tolist()
        for i in range(1, len(values)):
            change, verdict = judge(threshold, float(values[i - 1]), float(values[i]))
            out.append({"spec": spec, "device_name": device, "from_commit": commits[i - 1], "to_commit": commits[i],
                        "time": times[i], "baseline": values[i - 1], "new": values[i],
                        "change_pct": change * 100.0, "verdict": verdict})  # fmt: skip
    columns = [
        "spec",
        "device_name",
        "from_commit",
        "to_commit",
        "time",
        "baseline",
        "new",
        "change_pct",
        "verdict",
    ]
    return pd.DataFrame(out, columns=columns)


def worst_allowed(baseline: float, threshold: Threshold) -> float:
    """The figure at the edge of the gate's tolerance around a baseline (for a dashed line)."""
    sign = -1.0 if threshold.better == "higher" else 1.0
    return baseline * (1.0 + sign * threshold.tolerance)
