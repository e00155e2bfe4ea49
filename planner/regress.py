"""The regression gate: the rows of a new run against a baseline of the same device class, spec by spec.

The decision rule (README, "Regression gate"). Each gated metric of a row is a set of windows: the figures of
consecutive groups of measured steps or runs (`<metric>_windows`), or the one figure where a row has none
(peak memory). The gate compares the windows' medians. A metric *regressed* when both hold:
- the new median is worse than the baseline's by more than the metric's tolerance (thresholds file), and
- the windows separate: every new window is worse than every baseline window.
The second condition is the noise test (asv's `compare` likewise reports a change only when its factor is
exceeded *and* the two samples differ statistically). Were both runs' windows drawn from one distribution,
a separation in a given direction happens with probability 1 / C(w_b + w_n, w_n) — 1/252 with five windows
a side — whatever the shape of the noise; the tolerance then keeps out shifts too small to matter. A change
beyond the tolerance whose windows overlap is `noisy`: reported, not failed. `improved` is the mirror image.

What else fails the gate, each with its own exit code (EXIT_CODES): no baseline for the run's device class,
an empty new run, rows of several device classes in one run, thresholds that gate nothing, a spec that
failed (error / oom / timeout) where its baseline was ok, a spec on one side only, a gated metric that is
null or missing in the new row. `accept_first_run` turns "no baseline" into a pass (the first run of a
device class, whose rows become its baseline).

Device classes: a GPU's name, lower-cased, without the vendor's prefix, other characters as dashes
("NVIDIA H200" → "h200", "NVIDIA H200 NVL" → "h200-nvl"). Variants of a GPU run at other clocks and power
limits, so each is its own class with its own baseline; a run on a class without one fails, it does not pass.
"""

from __future__ import annotations

import math
import re
import statistics
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import InputError
from core.paths import DATA_DIR

REGRESSION_DIR = DATA_DIR / "regression"
THRESHOLDS_TOML = REGRESSION_DIR / "thresholds.toml"
BASELINES_DIR = REGRESSION_DIR / "baselines"
# Exit codes of `peftplan results compare`, in order of precedence when several problems occur.
EXIT_CODES = {
    "no_baseline": 3,
    "empty_run": 4,
    "mixed_devices": 9,
    "thresholds_unused": 8,
    "spec_failed": 6,
    "spec_missing": 5,
    "metric_missing": 7,
    "regressed": 1,
}
BAD_INPUT_EXIT = 2  # InputError: a malformed thresholds or rows file
VENDOR_PREFIX = re.compile(r"^(nvidia|amd|intel)\s+", re.IGNORECASE)


@dataclass(frozen=True)
class Threshold:
    metric: str
    better: str  # "higher" | "lower"
    tolerance: float


@dataclass(frozen=True)
class Sample:
    """One metric of one row: its windows and their median."""

    windows: tuple[float, ...]

    @property
    def value(self) -> float:
        return statistics.median(self.windows)

    @property
    def spread(self) -> float | None:
        """(max − min) / median of the windows: the run's own noise, relative."""
        return (max(self.windows) - min(self.windows)) / self.value if self.value else None


@dataclass(frozen=True)
class Finding:
    name: str
    spec_hash: str
    metric: str
    baseline: Sample | None
    new: Sample | None
    change: float | None  # new median / baseline median − 1
    verdict: str  # regressed | improved | noisy | ok | failed | missing_spec | missing_metric


@dataclass
class GateResult:
    device_class: str | None
    findings: list[Finding] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (EXIT_CODES key, message)
    notes: list[str] = field(default_factory=list)

    def fail(self, kind: str, message: str) -> None:
        self.problems.append((kind, message))

    @property
    def exit_code(self) -> int:
        kinds = {kind for kind, _ in self.problems}
        return next((code for kind, code in EXIT_CODES.items() if kind in kinds), 0)


def device_class(device_name: str | None) -> str | None:
    """The class a device name belongs to (module docstring); None for a row without a device."""
    if not device_name or not device_name.strip():
        return None
    name = VENDOR_PREFIX.sub("", device_name.strip())
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or None


def _threshold(path: Path, metric: str, entry: object) -> Threshold:
    where = f"metrics.{metric}"
    if not isinstance(entry, dict):
        raise InputError(
            "must be a table",
            file=str(path),
            field=where,
            value=entry,
            accepted='[metrics.NAME] with better = "higher" | "lower" and tolerance = 0.05',
        )
    unknown = sorted(set(entry) - {"better", "tolerance", "description"})
    if unknown:
        raise InputError(
            "unknown key",
            file=str(path),
            field=f"{where}.{unknown[0]}",
            accepted="better, tolerance, description",
        )
    if entry.get("better") not in ("higher", "lower"):
        raise InputError(
            "bad value",
            file=str(path),
            field=f"{where}.better",
            value=entry.get("better"),
            accepted="higher or lower",
        )
    tol = entry.get("tolerance")
    if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not 0 <= tol < 1:
        raise InputError(
            "bad value",
            file=str(path),
            field=f"{where}.tolerance",
            value=tol,
            accepted="a fraction in [0, 1), e.g. 0.05 for 5%",
        )
    return Threshold(metric, entry["better"], float(tol))


def load_thresholds(path: str | Path = THRESHOLDS_TOML) -> list[Threshold]:
    """The gated metrics; a missing, malformed or empty file is one InputError naming file, field and value."""
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"cannot read thresholds ({exc})", file=str(path), accepted="a TOML file") from None
    unknown = sorted(set(doc) - {"metrics"})
    if unknown:
        raise InputError("unknown table", file=str(path), field=unknown[0], accepted="metrics")
    metrics = doc.get("metrics")
    if not isinstance(metrics, dict) or not metrics:
        raise InputError(
            "no metrics to gate",
            file=str(path),
            field="metrics",
            value=metrics,
            accepted="one [metrics.NAME] table per gated metric",
        )
    return [_threshold(path, metric, entry) for metric, entry in metrics.items()]


def _number(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def sample(metrics: dict, metric: str) -> Sample | None:
    """The metric's windows (`<metric>_windows`), or its one figure; None when null, missing or not a number."""
    windows = metrics.get(f"{metric}_windows")
    if isinstance(windows, list) and windows and all(_number(x) for x in windows):
        return Sample(tuple(float(x) for x in windows))
    value = metrics.get(metric)
    return Sample((float(value),)) if _number(value) else None


def judge(threshold: Threshold, base: Sample, new: Sample) -> tuple[float, str]:
    """(relative change of the medians, verdict) by the module's rule."""
    change = new.value / base.value - 1.0 if base.value else 0.0
    sign = 1.0 if threshold.better == "higher" else -1.0  # +: the new figure is better
    if abs(change) <= threshold.tolerance:
        return change, "ok"
    worse = sign * change < 0
    low, high = (new, base) if (sign > 0) == worse else (base, new)  # the side that should lie below
    separated = max(low.windows) < min(high.windows)
    if not separated:
        return change, "noisy"
    return change, "regressed" if worse else "improved"


def _latest(rows: list[dict]) -> dict[str, dict]:
    """The latest row per spec hash, by timestamp."""
    latest: dict[str, dict] = {}
    for row in sorted(rows, key=lambda r: r["provenance"].get("timestamp") or ""):
        latest[row["spec_hash"]] = row
    return latest


def _classes(rows: list[dict]) -> set[str]:
    return {c for r in rows if (c := device_class(r["provenance"].get("device_name"))) is not None}


def _run_class(new_rows: list[dict], baseline_rows: list[dict], result: GateResult) -> str | None:
    """The new run's device class; rows without a device (crashed before they saw one) belong to it."""
    classes = _classes(new_rows)
    if len(classes) > 1:
        result.fail(
            "mixed_devices",
            f"the new run mixes device classes {', '.join(sorted(classes))}: "
            "run one device class per results file",
        )
        return None
    if classes:
        return classes.pop()
    base = _classes(baseline_rows)
    result.notes.append("no new row names its device (every spec failed before it saw one)")
    return base.pop() if len(base) == 1 else None


def _check_baseline(rows: list[dict], result: GateResult) -> None:
    slowed = [r for r in rows if r["provenance"].get("test_slowdown")]
    if slowed:
        fraction = slowed[0]["provenance"]["test_slowdown"]
        raise InputError(
            "baseline measured with the testing-only slowdown switch",
            file=slowed[0].get("_file"),
            field="provenance.test_slowdown",
            value=fraction,
            accepted="rows measured without PEFTPLAN_TEST_SLOWDOWN",
        )
    for row in rows:
        if row["status"] != "ok":
            result.fail(
                "spec_missing",
                f"{row.get('name') or row['spec_hash']}: the baseline row is "
                f"'{row['status']}', not ok: nothing to compare with; refresh the baseline",
            )


def _judge_spec(b: dict, n: dict, thresholds: list[Threshold], result: GateResult) -> None:
    """Findings of one spec whose baseline row is ok."""
    name = n.get("name") or b.get("name") or b["spec_hash"]
    if n["status"] != "ok":
        result.findings.append(Finding(name, b["spec_hash"], "status", None, None, None, "failed"))
        result.fail(
            "spec_failed",
            f"{name}: '{n['status']}' where the baseline was ok ({(n.get('error') or '')[:200]})",
        )
        return
    for t in thresholds:
        base = sample(b["metrics"], t.metric)
        if base is None:
            continue  # not a figure of this kind of spec
        new = sample(n["metrics"], t.metric)
        if new is None:
            result.findings.append(
                Finding(name, b["spec_hash"], t.metric, base, None, None, "missing_metric")
            )
            result.fail(
                "metric_missing",
                f"{name}: metric '{t.metric}' is {n['metrics'].get(t.metric, 'missing')!r} "
                "in the new row (null, renamed or not measured); the baseline has it",
            )
            continue
        change, verdict = judge(t, base, new)
        result.findings.append(Finding(name, b["spec_hash"], t.metric, base, new, change, verdict))
        if verdict == "regressed":
            result.fail(
                "regressed",
                f"{name}: {t.metric} {change:+.1%} ({t.better} is better; tolerance "
                f"{t.tolerance:.0%}; the windows separate)",
            )


def _check_gated(base: dict[str, dict], thresholds: list[Threshold], result: GateResult) -> None:
    """Every ok baseline row carries a gated metric, and every gated metric is carried by some row."""
    used: set[str] = set()
    for b in base.values():
        if b["status"] != "ok":
            continue
        carried = {t.metric for t in thresholds if sample(b["metrics"], t.metric) is not None}
        if not carried:
            result.fail(
                "thresholds_unused",
                f"{b.get('name') or b['spec_hash']}: its baseline row carries none "
                f"of the gated metrics ({', '.join(t.metric for t in thresholds)})",
            )
        used |= carried
    unused = [t.metric for t in thresholds if t.metric not in used]
    if base and not used:
        result.fail(
            "thresholds_unused",
            f"no gated metric appears in the baseline's rows: the thresholds name {', '.join(unused)}",
        )
    elif unused:
        result.notes.append(f"gated metrics no spec of this suite carries: {', '.join(unused)}")


def _pair_specs(
    base: dict[str, dict], new: dict[str, dict], thresholds: list[Threshold], result: GateResult
) -> None:
    _check_gated(base, thresholds, result)
    for spec_hash, b in base.items():
        n = new.get(spec_hash)
        if n is None:
            result.findings.append(
                Finding(b.get("name") or spec_hash, spec_hash, "spec", None, None, None, "missing_spec")
            )
            result.fail("spec_missing", f"{b.get('name') or spec_hash}: in the baseline, not in the new run")
        elif b["status"] == "ok":
            _judge_spec(b, n, thresholds, result)
    for spec_hash, n in new.items():
        if spec_hash not in base:
            result.findings.append(
                Finding(n.get("name") or spec_hash, spec_hash, "spec", None, None, None, "missing_spec")
            )
            result.fail(
                "spec_missing",
                f"{n.get('name') or spec_hash}: in the new run, not in the baseline "
                "(a new or changed spec: refresh the baseline)",
            )


def compare(
    baseline_rows: list[dict],
    new_rows: list[dict],
    thresholds: list[Threshold],
    *,
    accept_first_run: bool = False,
) -> GateResult:
    """The gate's verdict on a new run against the baseline rows (of any device classes)."""
    result = GateResult(device_class=None)
    if not new_rows:
        result.fail("empty_run", "the new run has no rows: nothing was measured")
        return result
    result.device_class = cls = _run_class(new_rows, baseline_rows, result)
    if result.problems:
        return result
    base_rows = [r for r in baseline_rows if device_class(r["provenance"].get("device_name")) == cls]
    if not base_rows:
        known = ", ".join(sorted(_classes(baseline_rows))) or "none"
        if accept_first_run:
            result.notes.append(
                f"first run of device class '{cls}' accepted: no baseline to compare with "
                f"(baselines exist for: {known}); commit these rows as its baseline"
            )
        else:
            result.fail(
                "no_baseline",
                f"no baseline for device class '{cls}' (baselines exist for: {known}); "
                "a first run passes with --accept-first-run",
            )
        return result
    _check_baseline(base_rows, result)
    _pair_specs(_latest(base_rows), _latest(new_rows), thresholds, result)
    return result
