"""Planner calls behind the Overview, Cost and Capacity pages, cached on their inputs and on the stamps of
the files they read (result rows and catalogs).

The dashboard does no cost arithmetic: every figure comes from planner.cost, planner.breakeven and
planner.capacity. A selection of GPUs, pricing kinds and on-prem assumptions is applied as a narrowed copy of
the catalog, so every planner function sees the same choices.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pandas as pd
import streamlit as st

from dashboards import loaders

# The question the Overview answers before anything is changed (the Cost page starts from it too).
DEFAULT_SCENARIO = {"model": "llama-3.1-8b", "method": "lora", "tokens": 100_000_000, "epochs": 3.0,
                    "runs_per_month": 4.0}  # fmt: skip


@dataclass(frozen=True)
class Selection:
    """Which catalog rows to price: GPU names and pricing kinds (empty: all), and on-prem assumptions that
    replace the catalog's for every GPU (empty: the catalog's own)."""

    gpus: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    onprem: tuple[tuple[str, float], ...] = ()


def _stamp() -> tuple:
    files = loaders.catalog_files()
    path = loaders.results_path()
    return (str(path), loaders.fingerprint(path), tuple((str(f), f.stat().st_mtime_ns) for f in files))


def catalog_for(selection: Selection):
    """The catalog narrowed to the selection (a copy; the files are not touched)."""
    cat = loaders.catalog()
    prices = tuple(p for p in cat.prices if (not selection.gpus or p.gpu in selection.gpus)
                   and (not selection.kinds or p.pricing_kind in selection.kinds))  # fmt: skip
    onprem = {g: replace(site, **dict(selection.onprem)) for g, site in cat.onprem.items()
              if (not selection.gpus or g in selection.gpus) and (not selection.kinds or "on-prem" in selection.kinds)}  # fmt: skip
    return replace(cat, prices=prices, onprem=onprem)


@st.cache_data(show_spinner="Pricing the options…", max_entries=32)
def _training(scenario: tuple, selection: Selection, stamp: tuple) -> dict:
    from planner.breakeven import break_even_table, cost_curves, savings
    from planner.cost import TrainScenario, compare_training

    comparison = compare_training(
        TrainScenario.build(**dict(scenario)), catalog_for(selection), loaders.measurements()
    )
    saving, best_self, best_managed = savings(comparison)
    return {"comparison": comparison, "options": comparison.frame("ranked"), "break_even": break_even_table(comparison),
            "curves": cost_curves(comparison), "saving": saving, "best_self": best_self,
            "best_managed": best_managed}  # fmt: skip


def training(scenario: dict, selection: Selection = Selection()) -> dict:
    """compare_training and its break-even table, cost curves and saving for one scenario."""
    return _training(tuple(sorted(scenario.items())), selection, _stamp())


@st.cache_data(show_spinner="Moving each input by ±25 %…", max_entries=16)
def _sensitivity(scenario: tuple, selection: Selection, stamp: tuple) -> pd.DataFrame:
    from planner.breakeven import sensitivity
    from planner.cost import TrainScenario

    return sensitivity(TrainScenario.build(**dict(scenario)), catalog_for(selection), loaders.measurements())


def sensitivity(scenario: dict, selection: Selection = Selection()) -> pd.DataFrame:
    return _sensitivity(tuple(sorted(scenario.items())), selection, _stamp())


@st.cache_data(show_spinner=False, max_entries=16)
def _payback(scenario: tuple, selection: Selection, stamp: tuple) -> pd.DataFrame:
    from dataclasses import asdict

    from planner.breakeven import payback
    from planner.cost import TrainScenario

    found = payback(TrainScenario.build(**dict(scenario)), catalog_for(selection), loaders.measurements())
    return pd.DataFrame([asdict(p) for p in found])


def payback(scenario: dict, selection: Selection = Selection()) -> pd.DataFrame:
    return _payback(tuple(sorted(scenario.items())), selection, _stamp())


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

    return fits_matrix(methods=methods, seq_lens=seq_lens, micro_batch=micro_batch, catalog=loaders.catalog(),
                       meas=loaders.measurements())  # fmt: skip


def fits(methods: tuple[str, ...], seq_len: int, micro_batch: int) -> pd.DataFrame:
    """planner.capacity.fits_matrix over every released model and catalog GPU."""
    return _fits(tuple(methods), (seq_len,), micro_batch, _stamp())


def released_models() -> list[str]:
    """Model names of the shape catalog, without the tiny test shapes."""
    from core.shapes import load_shapes

    return [name for name, shape in load_shapes().items() if "test shape" not in shape.source]
