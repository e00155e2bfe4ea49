"""Micro-benchmark (pytest-benchmark): a full comparison over every catalog entry (every GPU price, on-prem
row and managed offer, for training and for serving). Its time is reported by the benchmark, not asserted:
`pytest tests/test_planner_bench.py --benchmark-enable` measures it."""

from __future__ import annotations

from planner.catalog import load_catalog
from planner.cost import TrainScenario, compare_training
from planner.measured import load_measurements
from planner.serve import ServeScenario, compare_serving


def _full_comparison(catalog, meas):
    train = compare_training(
        TrainScenario.build("llama-3.1-8b", 100_000_000, epochs=3, runs_per_month=4), catalog, meas
    )
    serve = compare_serving(ServeScenario("llama-3.1-8b", n_adapters=10), catalog, meas)
    return train, serve


def test_full_comparison_is_fast(benchmark):
    catalog, meas = load_catalog(), load_measurements()
    train, serve = benchmark(_full_comparison, catalog, meas)
    entries = len(catalog.prices) + len(catalog.onprem) + len(catalog.managed)
    assert len(train.all_options()) + len(train.skipped) == entries  # every entry priced or said why not
    assert serve.options
