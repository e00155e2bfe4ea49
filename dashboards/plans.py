"""Planner calls behind the Overview, Cost and Capacity pages, cached on their inputs and on the stamps of
the files they read (result rows and catalogs).

The dashboard does no cost arithmetic: every figure comes from planner.cost, planner.breakeven and
planner.capacity. A scenario (planner.scenario: the job, assumptions, GPU and pricing-kind selection, price
overrides) is applied by planner.scenario.apply as a narrowed copy of the catalog, so every planner function
sees the same choices.
"""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from dashboards import loaders
from planner import scenario as scenario_mod

# The question the Overview answers before anything is changed (the Cost page starts from it too).
DEFAULT_SCENARIO = {
    k: scenario_mod.default_scenario()[k] for k in ("model", "method", "tokens", "epochs", "runs_per_month")
}


def _stamp() -> tuple:
    files = loaders.catalog_files()
    path = loaders.results_path()
    return (str(path), loaders.fingerprint(path), tuple((str(f), f.stat().st_mtime_ns) for f in files))


def _key(scn: dict) -> str:
    return scenario_mod.to_json(scenario_mod.validate(scn))


def _applied(key: str):
    return scenario_mod.apply(json.loads(key), loaders.catalog())


@st.cache_data(show_spinner="Pricing the options…", max_entries=32)
def _training(key: str, stamp: tuple) -> dict:
    from planner.breakeven import break_even_table, cost_curves, savings
    from planner.cost import compare_training

    comparison = compare_training(*_applied(key), loaders.measurements())
    saving, best_self, best_managed = savings(comparison)
    return {
        "comparison": comparison,
        "options": comparison.frame("ranked"),
        "break_even": break_even_table(comparison),
        "curves": cost_curves(comparison),
        "saving": saving,
        "best_self": best_self,
        "best_managed": best_managed,
    }


def training(scn: dict) -> dict:
    """compare_training and its break-even table, cost curves and saving for one scenario
    (planner.scenario: a partial dict is completed with the defaults)."""
    return _training(_key(scn), _stamp())


@st.cache_data(show_spinner="Moving each input by ±25 %…", max_entries=16)
def _sensitivity(key: str, stamp: tuple) -> pd.DataFrame:
    from planner.breakeven import sensitivity

    return sensitivity(*_applied(key), loaders.measurements())


def sensitivity(scn: dict) -> pd.DataFrame:
    return _sensitivity(_key(scn), _stamp())


@st.cache_data(show_spinner=False, max_entries=16)
def _payback(key: str, stamp: tuple) -> pd.DataFrame:
    from dataclasses import asdict

    from planner.breakeven import payback

    found = payback(*_applied(key), loaders.measurements())
    return pd.DataFrame([asdict(p) for p in found])


def payback(scn: dict) -> pd.DataFrame:
    return _payback(_key(scn), _stamp())


@st.cache_data(show_spinner="Holding each claim against the measurements…", max_entries=8)
def _claims(key: str, stamp: tuple) -> list:
    from planner.claims import evaluate

    train, catalog = _applied(key)
    return evaluate(loaders.load_rows(), train, catalog, loaders.measurements())


def claims(scn: dict) -> list:
    """planner.claims.evaluate for the scenario's job and the shipped (or chosen) result rows."""
    return _claims(_key(scn), _stamp())


def _error(row, kind: str, message: str = "") -> dict:
    return {
        "median": float(row["median_abs_error"]),
        "worst": float(row["worst_abs_error"]),
        "n": int(row["n"]),
        "kind": kind,
        "message": message,
    }


@st.cache_data(show_spinner=False, max_entries=4)
def _accuracy(stamp: tuple) -> dict:
    """The pre-registered out-of-sample error of tokens/s where predictions were committed before their rows
    (data/predictions/), else the leave-one-out error over the measured rows, saying which."""
    from planner.accuracy import leave_one_out
    from planner.preregister import committed_out_of_sample

    for _file, _errors, summary in committed_out_of_sample(loaders.measurements()):
        if summary.empty or "metric" not in summary.columns:  # none of its entries measured in these rows
            continue
        rows = summary[summary["metric"] == "tokens_per_s"]
        if not rows.empty and int(rows.iloc[0]["n"]) > 0:
            return _error(rows.iloc[0], "pre-registered out-of-sample")
    report = leave_one_out(loaders.measurements(), loaders.catalog())
    rows = report.summary[report.summary["metric"] == "tokens_per_s"] if not report.empty else report.summary
    return _error(rows.iloc[0], "leave-one-out", report.message) if not rows.empty else {}


def throughput_error() -> dict:
    """The planner's error of tokens/s: median, worst (fractions), n, kind (pre-registered out-of-sample, or
    leave-one-out over the measured rows) and what was checked ({} without rows)."""
    return _accuracy(_stamp())


def price_key_of(option, catalog) -> str | None:
    """The planner.scenario price key of the catalog row an option was priced from (None: not a GPU price)."""
    if option is None or option.pricing_kind is None:
        return None
    for price in catalog.prices:
        same = (price.provider, price.gpu, price.pricing_kind, price.region)
        if (
            same == (option.provider, option.gpu, option.pricing_kind, option.region)
            and price.instance in option.option
        ):
            return scenario_mod.price_key(price)
    return None


@st.cache_data(show_spinner=False, max_entries=32)
def _gpus_needed(workload: tuple, stamp: tuple) -> pd.DataFrame:
    from planner.capacity import Workload, gpus_needed

    return gpus_needed(Workload.build(**dict(workload)), loaders.catalog(), loaders.measurements())


def gpus_needed(workload: dict) -> pd.DataFrame:
    """planner.capacity.gpus_needed: GPUs per GPU type for a monthly workload and deadline."""
    return _gpus_needed(tuple(sorted(workload.items())), _stamp())


@st.cache_data(show_spinner="Fitting every model on every GPU…", max_entries=16)
def _fits(methods: tuple, seq_lens: tuple, micro_batch: int, stamp: tuple) -> pd.DataFrame:
    from planner.capacity import fits_matrix

    return fits_matrix(
        methods=methods,
        seq_lens=seq_lens,
        micro_batch=micro_batch,
        catalog=loaders.catalog(),
        meas=loaders.measurements(),
    )


def fits(methods: tuple[str, ...], seq_len: int, micro_batch: int) -> pd.DataFrame:
    """planner.capacity.fits_matrix over every released model and catalog GPU."""
    return _fits(tuple(methods), (seq_len,), micro_batch, _stamp())


def released_models() -> list[str]:
    """Model names of the shape catalog, without the tiny test shapes."""
    from core.shapes import load_shapes

    return [name for name, shape in load_shapes().items() if "test shape" not in shape.source]
