"""Training job costs: a golden scenario worked by hand on a small test catalog, and properties on the
shipped one."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_planner_fixtures import measurements, small_catalog, train_row

from core.errors import InputError
from planner.catalog import load_catalog
from planner.cost import TrainScenario, compare_training
from planner.throughput import DEFAULT_SCALING_EFFICIENCY

# Test catalog lines (made-up prices, test data)
PRICES = (
    "TestCloud,H200,test-region,on-demand,,4.00,1,0,test-1gpu,test price,2026-01-01\n"
    "TestCloud,H200,test-region,reserved,1 week,2.00,1,168,test-1gpu,test price,2026-01-01\n"
)
MANAGED = (
    "TestAPI,SFT LoRA up to 16B,,true,0,16,lora,0.50,,150,,,,,,active,test price,2026-01-01\n"
    "TestAPI,SFT LoRA 17-69B,,true,16,69,lora,1.00,,,,,,,,active,test price,2026-01-01\n"
    "TestProp,model-x tuning,model-x,false,,,sft,2.00,,,,,,,,legacy,test price,2026-01-01\n"
)
ONPREM = "H200,40000,4,0.10,1.5,0.5,1000,0,test figures,2026-01-01\n"


@pytest.fixture
def golden(tmp_path):
    catalog = load_catalog(small_catalog(tmp_path / "cat", PRICES, MANAGED, ONPREM))
    # a measured H200 row for exactly the configuration the scenario will choose (test data)
    meas = measurements(
        tmp_path / "results",
        [train_row(tokens_per_s=10_000.0, peak_allocated_gib=99.0, energy_j_per_token=0.08)],
    )
    scenario = TrainScenario("llama-3.1-8b", 100_000_000, epochs=2, runs_per_month=3)
    return compare_training(scenario, catalog, meas)


def _by(comparison, provider, kind_or_option):
    return next(
        o for o in comparison.options if o.provider == provider and kind_or_option in (o.kind + o.option)
    )


def test_golden_scenario_by_hand(golden):
    # 200M billed tokens at 10 000 tokens/s (measured) with 90 % of billed hours training: 6.1728 h a run.
    hours = 200e6 / 10_000 / 3600 / 0.9
    on_demand = _by(golden, "TestCloud", "on-demand")
    assert on_demand.basis == "measured" and on_demand.job_hours == pytest.approx(hours)
    assert on_demand.usd_per_run == pytest.approx(hours * 4.00)  # 24.69
    assert on_demand.usd_total == pytest.approx(3 * hours * 4.00)  # 74.07
    reserved = _by(golden, "TestCloud", "reserved")  # one 168-hour block of 1 GPU at $2.00 holds 27 runs
    assert reserved.usd_total == pytest.approx(336.0) and reserved.runs_capacity == pytest.approx(168 / hours)
    bracket = _by(golden, "TestAPI", "SFT LoRA up to 16B")  # 200M × $0.50/1M = $100, minimum $150
    assert bracket.usd_per_run == 150.0 and bracket.usd_total == 450.0
    assert bracket.match.startswith("same open model")
    proprietary = _by(golden, "TestProp", "model-x")
    assert proprietary.usd_total == pytest.approx(1200.0) and proprietary.status == "legacy"
    assert "a different model: model-x" in proprietary.match
    # on-prem: $40 000 over 48 months = $833.33 a month; energy 0.08 J/token × 200M tokens × (1000 W server /
    # 700 W GPU) = 6.349 kWh × PUE 1.5 × $0.10 = $0.952 a run
    onprem = _by(golden, "on-prem", "on-prem")
    kwh = 0.08 * 200e6 * 1000 / 700 / 3.6e6
    assert onprem.energy_kwh_per_run == pytest.approx(kwh)
    assert onprem.usd_total == pytest.approx(40_000 / 48 + 3 * kwh * 1.5 * 0.10)
    assert onprem.runs_capacity == pytest.approx(730 * 0.5 / hours)
    assert [o.usd_total for o in golden.options] == sorted(o.usd_total for o in golden.options)
    assert [o.provider for o in golden.options] == [
        "TestCloud",
        "TestCloud",
        "TestAPI",
        "on-prem",
        "TestProp",
    ]
    assert any("16-69B bracket" in why for _, why in golden.skipped)


def test_same_model_scope_leaves_out_proprietary_offers(tmp_path):
    catalog = load_catalog(small_catalog(tmp_path, PRICES, MANAGED, ONPREM))
    comparison = compare_training(TrainScenario("llama-3.1-8b", 10**8, managed_scope="same-model"), catalog)
    assert not [o for o in comparison.options if o.provider == "TestProp"]
    assert ("TestProp model-x tuning", "a proprietary model, not the same model") in comparison.skipped


def test_whole_instances_are_billed_and_used():
    comparison = compare_training(TrainScenario("llama-3.1-8b", 10**8))
    p5en = next(o for o in comparison.options if o.provider == "AWS" and o.gpu == "H200")
    single = next(o for o in comparison.options if o.kind == "on-prem" and o.gpu == "H200")
    assert p5en.n_gpus == 8 and single.n_gpus == 1
    assert p5en.tokens_per_s == pytest.approx(8 * DEFAULT_SCALING_EFFICIENCY * single.tokens_per_s)
    assert p5en.gpu_hours_per_run == pytest.approx(8 * p5en.job_hours)


def test_a_model_too_big_for_eight_gpus_is_skipped_with_reason():
    comparison = compare_training(TrainScenario("qwen2.5-72b", 10**8, method="full", seq_len=4096))
    reasons = [why for label, why in comparison.skipped if "L4" in label]
    assert reasons and all("does not fit 8 × L4" in why for why in reasons)


def test_bad_scenario_is_an_input_error():
    with pytest.raises(InputError, match="unknown model"):
        compare_training(TrainScenario("llama-9", 10**8))
    with pytest.raises(InputError, match="field 'utilisation'"):
        TrainScenario("llama-3.1-8b", 10**8, utilisation=1.2)
    with pytest.raises(InputError, match="field 'epochs'"):
        TrainScenario("llama-3.1-8b", 10**8, epochs=0)


@settings(max_examples=25, deadline=None)
@given(st.integers(10**6, 10**10), st.floats(1.01, 10), st.sampled_from(["llama-3.2-1b", "llama-3.1-8b"]))
def test_cost_rises_with_tokens(tokens, factor, model):
    catalog = load_catalog()
    low = {(o.provider, o.option): o for o in compare_training(TrainScenario(model, tokens), catalog).options}
    high = compare_training(TrainScenario(model, int(tokens * factor)), catalog).options
    for o in high:
        before = low[(o.provider, o.option)]
        assert o.usd_total >= before.usd_total - 1e-9
        if o.kind == "self-hosted" and o.pricing_kind in ("on-demand", "spot"):
            assert o.usd_total > before.usd_total
    assert all(math.isfinite(o.usd_total) for o in high)
