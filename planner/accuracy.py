"""How well the planner predicts what was measured: leave one out.

Each measured training row on a catalog GPU is predicted from all the others (its own spec left out,
repeats included, so a repeated measurement cannot vouch for itself), and the relative error of peak memory
and tokens/s is reported with its median and worst. Goals: median error at most 5 % for memory (allocated and
reserved) and 10 % for tokens/s; worst at most 10 % and 20 %. The figures are what they are; nothing is tuned to the goal.

Public:
    GOALS                                          metric -> (median goal, worst goal), fractions
    AccuracyReport(rows, summary, message)         DataFrames: one row per row and metric; one per metric
    leave_one_out(meas, catalog=None) -> AccuracyReport
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any

from planner.catalog import Catalog, load_catalog
from planner.measured import MEASURE_HINT, Measurements
from planner.memory import predict_memory
from planner.throughput import predict_tokens_per_s

GOALS = {"peak_allocated_gib": (0.05, 0.10), "peak_reserved_gib": (0.05, 0.10), "tokens_per_s": (0.10, 0.20)}


@dataclass(frozen=True)
class AccuracyReport:
    rows: Any  # DataFrame: spec fields, gpu, metric, measured, predicted, error_frac, model_note
    summary: Any  # DataFrame: metric, n, median_abs_error, worst_abs_error, goals, met
    message: str  # what was checked, or why nothing was

    @property
    def empty(self) -> bool:
        return self.rows.empty


def _predict(record, meas: Measurements, catalog: Catalog, cache: dict) -> dict[str, tuple[float, str]]:
    """The predictions for `record` from every row but those of its own spec on its GPU. Records of one spec
    on one GPU share those others, and equal configurations share their predictions: each is worked out
    once (`cache`), which keeps leave-one-out near linear in the rows when specs repeat."""
    group = (record.gpu, record.config.key)
    if group not in cache:
        cache[group] = meas.without(lambda r: r.gpu == record.gpu and r.config.key == record.config.key)
    others, gpu = cache[group], catalog.gpus[record.gpu]
    out = {}
    for metric, predict in (
        ("peak_allocated_gib", _memory),
        ("peak_reserved_gib", _reserved),
        ("tokens_per_s", _speed),
    ):
        if getattr(record, metric) is not None:
            key = (record.gpu, record.config, metric)
            if key not in cache:
                cache[key] = predict(record.config, gpu, others, catalog)
            out[metric] = cache[key]
    return out


def summarise(frame, goals: dict[str, tuple[float, float]]):
    """Median and worst absolute relative error per metric of a frame of (metric, error_frac) rows, against
    (median, worst) goals; rows without a measurement (error_frac None) are left out."""
    import pandas as pd

    summary = []
    for metric, (goal_median, goal_worst) in goals.items():
        picked = frame.loc[frame["metric"] == metric, "error_frac"] if not frame.empty else []
        errors = [abs(e) for e in picked if e is not None and not math.isnan(e)]
        if not errors:
            continue
        median, worst = statistics.median(errors), max(errors)
        summary.append(
            {
                "metric": metric,
                "n": len(errors),
                "median_abs_error": median,
                "worst_abs_error": worst,
                "goal_median": goal_median,
                "goal_worst": goal_worst,
                "met": median <= goal_median and worst <= goal_worst,
            }
        )
    return pd.DataFrame(summary)


def _memory(config, gpu, others, catalog) -> tuple[float, str]:
    mem = predict_memory(config, gpu, others, catalog)
    return mem.peak_allocated_gib, mem.model


def _reserved(config, gpu, others, catalog) -> tuple[float, str]:
    mem = predict_memory(config, gpu, others, catalog)
    return mem.reserved_gib, mem.reserved_derivation


def _speed(config, gpu, others, catalog) -> tuple[float, str]:
    tput = predict_tokens_per_s(config, gpu, others, catalog)
    return tput.tokens_per_s, tput.model


def leave_one_out(meas: Measurements, catalog: Catalog | None = None) -> AccuracyReport:
    """Predict every measured GPU training row from the others and report the errors."""
    import pandas as pd

    catalog = catalog or load_catalog()
    records = meas.gpu_train()
    if not records:
        return AccuracyReport(
            pd.DataFrame(),
            pd.DataFrame(),
            f"no measured rows on a catalog GPU in {meas.source or 'the results'}: nothing to "
            f"check. {MEASURE_HINT}",
        )
    rows, cache = [], {}
    for rec in records:
        for metric, (predicted, note) in _predict(rec, meas, catalog, cache).items():
            measured = getattr(rec, metric)
            rows.append(
                {
                    **rec.config.describe(),
                    "gpu": rec.gpu,
                    "metric": metric,
                    "measured": measured,
                    "predicted": predicted,
                    "error_frac": (predicted - measured) / measured,
                    "model_note": note,
                    "spec_hash": rec.spec_hash,
                }
            )
    frame = pd.DataFrame(rows)
    summary = summarise(frame, GOALS)
    message = f"{len(records)} measured GPU row(s) from {meas.source}, each predicted from the others"
    if len(records) == 1:
        message += " (one row: its prediction falls back to the defaults)"
    return AccuracyReport(frame, summary, message)
