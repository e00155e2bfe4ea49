"""The regression gate: compare the rows of a new run with a baseline, spec by spec, on the same device.

Thresholds are data (benchmarks/regression-thresholds.toml): for each metric, which direction is better and
the relative tolerance. A spec whose baseline row is `ok` but whose new row is not (or is missing from a
run that covered it) is a failure too.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from core.errors import InputError
from core.paths import REPO_ROOT

THRESHOLDS_TOML = REPO_ROOT / "benchmarks" / "regression-thresholds.toml"


@dataclass(frozen=True)
class Threshold:
    metric: str
    better: str  # "higher" | "lower"
    tolerance: float


@dataclass(frozen=True)
class Finding:
    name: str
    spec_hash: str
    device_name: str
    metric: str
    baseline: float | None
    new: float | None
    change: float | None  # relative change, new / baseline - 1
    verdict: str  # "regressed" | "improved" | "ok" | "failed"


def load_thresholds(path: str | Path = THRESHOLDS_TOML) -> list[Threshold]:
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"cannot read thresholds ({exc})", file=str(path)) from None
    out = []
    for metric, spec in doc.get("metrics", {}).items():
        if spec.get("better") not in ("higher", "lower"):
            raise InputError("bad value", file=str(path), field=f"metrics.{metric}.better", value=spec.get("better"),
                             accepted="higher or lower")  # fmt: skip
        tol = spec.get("tolerance")
        if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not 0 <= tol < 1:
            raise InputError("bad value", file=str(path), field=f"metrics.{metric}.tolerance", value=tol,
                             accepted="a fraction in [0, 1)")  # fmt: skip
        out.append(Threshold(metric, spec["better"], float(tol)))
    return out


def _latest(rows: list[dict]) -> dict[tuple[str, str], dict]:
    """The latest row per (spec_hash, device), by timestamp."""
    latest: dict[tuple[str, str], dict] = {}
    for row in sorted(rows, key=lambda r: r["provenance"].get("timestamp") or ""):
        latest[(row["spec_hash"], row["provenance"].get("device_name") or "")] = row
    return latest


def judge(threshold: Threshold, baseline: float, new: float) -> tuple[float, str]:
    change = new / baseline - 1.0 if baseline else 0.0
    worse = -change if threshold.better == "higher" else change
    if worse > threshold.tolerance:
        return change, "regressed"
    if -worse > threshold.tolerance:
        return change, "improved"
    return change, "ok"


def compare(baseline_rows: list[dict], new_rows: list[dict], thresholds: list[Threshold]) -> list[Finding]:
    """One finding per (spec, device, metric) present in both runs, plus `failed` for specs that broke."""
    base, new = _latest(baseline_rows), _latest(new_rows)
    findings = []
    for key, b in base.items():
        n = new.get(key)
        if n is None or b["status"] != "ok":
            continue  # not covered by the new run, or nothing to compare against
        name = n.get("name") or b.get("name") or key[0]
        if n["status"] != "ok":
            findings.append(Finding(name, key[0], key[1], "status", None, None, None, "failed"))
            continue
        for t in thresholds:
            bv, nv = b["metrics"].get(t.metric), n["metrics"].get(t.metric)
            if isinstance(bv, (int, float)) and isinstance(nv, (int, float)):
                change, verdict = judge(t, float(bv), float(nv))
                findings.append(Finding(name, key[0], key[1], t.metric, bv, nv, change, verdict))
    return findings
