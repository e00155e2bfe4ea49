"""Break-even, payback and sensitivity: hand-worked cases and agreement with the cost curves."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from test_planner_cost import DEFAULTS, MANAGED, ONPREM, PRICES
from test_planner_fixtures import measurements, small_catalog, train_row

from planner.breakeven import break_even_runs, break_even_table, cost_curves, payback, savings, sensitivity
from planner.catalog import load_catalog
from planner.cost import TrainOption, TrainScenario, compare_training


def option(
    per_run: float = 0.0, fixed: float = 0.0, capacity: float = math.inf, ops: float = 0.0
) -> TrainOption:
    return TrainOption(
        provider="test",
        kind="self-hosted",
        option="test",
        usd_per_run=per_run,
        usd_fixed_per_month=fixed,
        runs_capacity=capacity,
        usd_total=0.0,
        ops_usd_per_month=ops,
        basis="projected",
        derivation="test",
        as_of="2026-01-01",
        source="test",
    )


def test_break_even_by_hand():
    managed = option(per_run=150.0)
    # owned hardware: $833.33 a month + $0.95 a run; 833.33 / (150 − 0.95) = 5.591 runs a month
    assert break_even_runs(option(0.95, 833.33, 59.0), managed) == pytest.approx(833.33 / (150 - 0.95))
    assert break_even_runs(option(per_run=20.0), managed) == 0.0  # cheaper per run: always
    assert break_even_runs(option(per_run=200.0), managed) is None  # dearer per run: never
    # a reserved block of $336 holding 27.2 runs: 336 / 150 = 2.24; the second block starts at 27.2 runs
    # where 672 < 150 · 27.2, so the break-even stays at 2.24
    assert break_even_runs(option(0.0, 336.0, 27.2), managed) == pytest.approx(2.24)
    # a block that holds only 1 run a month is never cheaper than $150 a run at $200 a block
    assert break_even_runs(option(0.0, 200.0, 1.0), managed, max_runs=50) is None
    # fixed ops cost on an otherwise cheaper option: 500 / (150 − 20) = 3.846
    assert break_even_runs(option(per_run=20.0, ops=500.0), managed) == pytest.approx(500 / 130)


options = st.builds(
    option,
    st.floats(0, 500),
    st.floats(0, 5000),
    st.one_of(st.just(math.inf), st.floats(0.5, 200)),
    st.floats(0, 1000),
)


@settings(max_examples=300, deadline=None)
@given(options, options, st.floats(10, 2000))
def test_break_even_agrees_with_the_cost_curves(mine, theirs, max_runs):
    runs = break_even_runs(mine, theirs, max_runs)
    diff = lambda r: mine.usd_for_runs(r) - theirs.usd_for_runs(r)  # noqa: E731
    tol = 1e-6 * (1 + abs(mine.usd_for_runs(max_runs)) + abs(theirs.usd_for_runs(max_runs)))
    if runs is None:
        assert diff(max_runs) > 0
        return
    assume(runs < max_runs * (1 - 1e-6))
    # from the break-even on, self-hosting is never dearer (checked on a grid up to max_runs)
    grid = [runs + (max_runs - runs) * i / 200 for i in range(1, 201)]
    assert all(diff(r) <= tol for r in grid)
    if runs > 0:  # and just before it, it is dearer
        assert diff(runs * (1 - 1e-6)) > -tol


@pytest.fixture
def golden(tmp_path):
    catalog = load_catalog(small_catalog(tmp_path / "cat", PRICES, MANAGED, ONPREM, DEFAULTS))
    meas = measurements(
        tmp_path / "results",
        [train_row(tokens_per_s=10_000.0, peak_allocated_gib=99.0, energy_j_per_token=0.08)],
    )
    return TrainScenario.build("llama-3.1-8b", 100_000_000, epochs=2, runs_per_month=3), catalog, meas


HOURS = 200e6 / 10_000 / 3600 / 0.9  # one run on one H200 (test_planner_cost's golden scenario)
SPOT_RUN = HOURS / 0.9 * 1.00  # spot at $1/h, its hours grown by its preemptions: $6.86 a run
OPS = 0.1 * 120_000 / 12  # $1 000 a month of engineering on self-hosted cloud jobs


def test_break_even_table_and_payback_by_hand(golden):
    scenario, catalog, meas = golden
    comparison = compare_training(scenario, catalog, meas)
    table = break_even_table(comparison)
    same = table.managed_option == "TestAPI SFT LoRA up to 16B"
    # the cheapest cloud option (spot) pays $1 000 a month of engineering: no longer "cheaper at any volume"
    cloud = table[(table.self_kind == "self-hosted") & same]
    assert cloud.break_even_runs_per_month.item() == pytest.approx(OPS / (150 - SPOT_RUN))  # 6.99 runs
    assert "spot" in cloud["flags"].item()
    # one 8-GPU server: $10 466.67 a month of hardware and $5 000 of people against $150 a run
    onprem = next(o for o in comparison.options if o.kind == "on-prem")
    energy = onprem.usd_per_run
    row = table[(table.self_kind == "on-prem") & same]
    assert row.break_even_runs_per_month.item() == pytest.approx(
        (10_466.6667 + 5000) / (150 - energy), rel=1e-6
    )
    other = table[table.managed_option == "TestProp model-x tuning"]
    assert set(other.group) == {"other model"}
    (pb,) = payback(scenario, catalog, meas)
    runs = onprem.runs_capacity  # the server busy all its available hours
    assert (pb.units, pb.n_gpus, pb.unit) == (1, 8, "test 8-GPU server")
    assert pb.runs_per_month == pytest.approx(runs) and pb.capex_usd == 320_000 + 16_000
    assert pb.onprem_usd_per_month == pytest.approx(800 + 320_000 * 0.10 / 12 + runs * energy + 5000)
    assert pb.cloud_usd_per_month == pytest.approx(runs * SPOT_RUN + OPS)
    assert pb.cloud_usd_per_month < pb.onprem_usd_per_month and pb.months_vs_cloud is None  # spot: never
    assert pb.managed_usd_per_month == pytest.approx(runs * 150)  # the same-open-model offer, not model-x
    assert pb.months_vs_managed == pytest.approx(336_000 / (runs * 150 - pb.onprem_usd_per_month))
    curves = cost_curves(comparison)
    assert {"option", "kind", "runs_per_month", "usd_per_month"} <= set(curves.columns)


def test_sensitivity_moves_each_input_and_is_sorted_by_swing(golden):
    scenario, catalog, meas = golden
    base, best_self, best_managed = savings(compare_training(scenario, catalog, meas))
    assert best_self.pricing_kind == "spot" and best_managed.provider == "TestAPI"
    assert base == pytest.approx(450 - 3 * SPOT_RUN - OPS)
    frame = sensitivity(scenario, catalog, meas)
    assert len(frame) == 8 and list(frame.swing_usd) == sorted(frame.swing_usd, reverse=True)
    price = frame[frame.input == "GPU rental price"].iloc[0]
    assert price.saving_low_usd == pytest.approx(450 - 3 * SPOT_RUN * 0.75 - OPS)
    assert price.saving_high_usd == pytest.approx(450 - 3 * SPOT_RUN * 1.25 - OPS)
    assert set(frame.verdict_low) <= {"self-host", "managed"}
