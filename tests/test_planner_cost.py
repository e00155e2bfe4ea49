"""Training job costs: golden scenarios worked by hand on a small test catalog (on-demand, reserved, spot with
its preemptions, an 8-GPU on-prem server with its operating and people costs, managed offers, set-aside runs),
and properties on the shipped catalog."""

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

# Test catalog lines (made-up prices and assumptions, test data)
PRICES = (
    "TestCloud,H200,test-region,on-demand,,4.00,1,0,test-1gpu,current,test price,2026-01-01\n"
    "TestCloud,H200,test-region,reserved,1 week,2.00,1,168,test-1gpu,current,test price,2026-01-01\n"
    "TestCloud,H200,test-region,spot,,1.00,1,0,test-1gpu,unconfirmed,test price,2026-01-01\n"
    "TestDocs,H200,test-region,on-demand,,0.01,1,0,test-1gpu,example,a worked example,2026-01-01\n"
)
MANAGED = (
    "TestAPI,SFT LoRA up to 16B,,true,0,16,lora,0.50,,150,,,,,,true,current,test price,2026-01-01\n"
    "TestAPI,SFT LoRA 17-69B,,true,16,69,lora,1.00,,,,,,,,true,current,test price,2026-01-01\n"
    "TestProp,model-x tuning,model-x,false,,,sft,2.00,,,,,,,,false,legacy,test price,2026-01-01\n"
    "TestEx,model-y tuning,model-y,false,,,sft,0.01,,,,,,,,false,example,test price,2026-01-01\n"
)
ONPREM = (
    "H200,test 8-GPU server,8,320000,4,0.10,1.5,0.5,1000,100,0.10,16000,0.5,current,test figures,2026-01-01\n"
)
DEFAULTS = (
    "usd_per_engineer_year,120000,USD,current,test,2026-01-01\n"
    "cloud_ops_fte,0.1,engineers,current,test,2026-01-01\n"
    "spot_preemptions_per_day,2.4,per day,current,test,2026-01-01\n"
    "spot_restart_lost_hours,1.0,hours,current,test,2026-01-01\n"
)


def _golden(tmp_path, **values):
    catalog = load_catalog(small_catalog(tmp_path / "cat", PRICES, MANAGED, ONPREM, DEFAULTS))
    # a measured H200 row for exactly the configuration the one-GPU options will choose (test data)
    meas = measurements(
        tmp_path / "results",
        [train_row(tokens_per_s=10_000.0, peak_allocated_gib=99.0, energy_j_per_token=0.08)],
    )
    scenario = TrainScenario.build("llama-3.1-8b", 100_000_000, epochs=2, runs_per_month=3, **values)
    return compare_training(scenario, catalog, meas)


@pytest.fixture
def golden(tmp_path):
    return _golden(tmp_path)


def _by(options, provider, text):
    return next(o for o in options if o.provider == provider and text in (o.kind + o.option))


def test_golden_cloud_and_managed_by_hand(golden):
    # 200M billed tokens at 10 000 tokens/s (measured) with 90 % of billed hours training: 6.1728 h a run.
    hours = 200e6 / 10_000 / 3600 / 0.9
    ops = 0.1 * 120_000 / 12  # a tenth of an engineer: $1 000 a month on every self-hosted cloud option
    on_demand = _by(golden.options, "TestCloud", "on-demand")
    assert on_demand.basis == "measured" and on_demand.job_hours == pytest.approx(hours)
    assert (on_demand.micro_batch, on_demand.grad_checkpointing, on_demand.n_gpus) == (4, False, 1)
    assert on_demand.usd_per_run == pytest.approx(hours * 4.00)  # 24.69
    assert on_demand.usd_total == pytest.approx(3 * hours * 4.00 + ops)  # 1 074.07
    reserved = _by(
        golden.options, "TestCloud", "reserved"
    )  # one 168-hour block of 1 GPU at $2.00 holds 27 runs
    assert reserved.usd_total == pytest.approx(336.0 + ops) and reserved.runs_capacity == pytest.approx(
        168 / hours
    )
    bracket = _by(golden.options, "TestAPI", "SFT LoRA up to 16B")  # 200M × $0.50/1M = $100, minimum $150
    assert bracket.usd_per_run == 150.0 and bracket.usd_total == 450.0 and bracket.flags == ()
    assert bracket.match.startswith("same open model")
    # a different model is never ranked with like for like: its own list, flagged
    assert not [o for o in golden.options if o.provider == "TestProp"]
    proprietary = _by(golden.others, "TestProp", "model-x")
    assert proprietary.usd_total == pytest.approx(1200.0) and proprietary.flags == (
        "different model",
        "legacy",
    )
    assert [o.usd_total for o in golden.options] == sorted(o.usd_total for o in golden.options)


def test_golden_spot_with_preemptions_by_hand(golden):
    # 1 instance × 2.4 preemptions a day = 0.1 an hour, each redoing 1 h: hours grow by 1 / (1 − 0.1) = 1.1111
    hours = 200e6 / 10_000 / 3600 / 0.9
    spot = _by(golden.options, "TestCloud", "spot")
    assert spot.job_hours == pytest.approx(hours / 0.9)  # 6.8587 h
    assert spot.preemptions_per_run == pytest.approx(0.1 * hours / 0.9)  # 0.686
    assert spot.preemption_usd_per_run == pytest.approx(hours / 0.9 - hours)  # $0.686 at $1/h
    assert spot.usd_per_run == pytest.approx(hours / 0.9 * 1.00)
    assert spot.flags == ("spot", "unconfirmed")


def test_golden_onprem_eight_gpu_server_by_hand(golden):
    # One 8-GPU server is the unit: $320k + $16k set-up over 48 months = $7 000, support 10 % a year = $2 666.67,
    # colocation 8 × 1 000 W × $100/kW = $800: $10 466.67 a month; people: half an engineer = $5 000 a month.
    onprem = _by(golden.options, "on-prem", "on-prem")
    assert (onprem.units, onprem.n_gpus, onprem.unit) == (1, 8, "test 8-GPU server")
    assert onprem.usd_fixed_per_month == pytest.approx(7000 + 320_000 * 0.10 / 12 + 800)
    assert onprem.ops_usd_per_month == pytest.approx(5000.0)
    # the job runs on all 8 GPUs: 8 × the scaling efficiency × the measured one-GPU speed
    assert onprem.tokens_per_s == pytest.approx(8 * DEFAULT_SCALING_EFFICIENCY * 10_000)
    hours8 = 200e6 / onprem.tokens_per_s / 3600 / 0.9
    assert onprem.job_hours == pytest.approx(hours8)
    assert onprem.runs_capacity == pytest.approx(730 * 0.5 / hours8)
    energy = onprem.energy_kwh_per_run * 1.5 * 0.10
    assert onprem.usd_total == pytest.approx(10_466.6667 + 5000 + 3 * energy, rel=1e-6)


def test_examples_are_never_priced_and_every_skip_has_its_reason(golden):
    priced = golden.all_options()
    assert not [o for o in priced if o.provider in ("TestDocs", "TestEx")]
    skipped = dict(golden.skipped)
    assert skipped["TestDocs H200 on-demand (test-region)"] == "an example figure, not a price"
    assert "example" in skipped["TestEx model-y tuning"]
    assert "16-69B bracket" in skipped["TestAPI SFT LoRA 17-69B"]


def test_an_hour_limit_takes_more_gpus_then_sets_runs_aside_with_the_reason(tmp_path):
    # one-GPU runs take 6.2 h: under a 5 h limit the one-GPU instances run the job on two
    within = _golden(tmp_path / "a", max_hours_per_run=5.0)
    on_demand = _by(within.options, "TestCloud", "on-demand")
    assert on_demand.n_gpus == 2 and on_demand.job_hours <= 5.0
    # under 0.1 h nothing self-hosted is fast enough: every such run is set aside, with its hours
    none = _golden(tmp_path / "b", max_hours_per_run=0.1)
    assert [o.kind for o in none.options] == ["managed"]
    assert none.set_aside and all("over the limit of 0.1 h" in o.set_aside for o in none.set_aside)


def test_same_model_scope_leaves_out_proprietary_offers(tmp_path):
    catalog = load_catalog(small_catalog(tmp_path, PRICES, MANAGED, ONPREM))
    scenario = TrainScenario.build("llama-3.1-8b", 10**8, managed_scope="same-model")
    comparison = compare_training(scenario, catalog)
    assert not [o for o in comparison.all_options() if o.provider == "TestProp"]
    assert ("TestProp model-x tuning", "a proprietary model, not the same model") in comparison.skipped


def test_the_chooser_tries_a_smaller_batch_before_paying_for_checkpointing():
    # 8B LoRA b4 does not fit one H100 without checkpointing; b2 without checkpointing is faster than b4 with it
    catalog = load_catalog()

    def aws_h100(batch):
        comparison = compare_training(TrainScenario.build("llama-3.1-8b", 10**8, micro_batch=batch), catalog)
        return next(o for o in comparison.options if o.provider == "AWS" and o.gpu == "H100 SXM")

    default, asked = aws_h100(4), aws_h100(2)
    assert default.grad_checkpointing is False and default.micro_batch == 2
    assert default.usd_per_run == pytest.approx(asked.usd_per_run)


def test_a_model_too_big_for_eight_gpus_is_skipped_with_reason():
    comparison = compare_training(TrainScenario.build("qwen2.5-72b", 10**8, method="full", seq_len=4096))
    reasons = [why for label, why in comparison.skipped if "L4" in label]
    assert reasons and all("does not fit 8 × L4" in why for why in reasons)


def test_bad_scenario_is_an_input_error():
    with pytest.raises(InputError, match="unknown model"):
        TrainScenario.build("llama-9", 10**8)
    with pytest.raises(InputError, match="field 'utilisation'"):
        TrainScenario.build("llama-3.1-8b", 10**8, utilisation=1.2)
    with pytest.raises(InputError, match="field 'epochs'"):
        TrainScenario.build("llama-3.1-8b", 10**8, epochs=0)
    with pytest.raises(InputError, match="field 'max_hours_per_run'"):
        TrainScenario.build("llama-3.1-8b", 10**8, max_hours_per_run=1000)


def test_absurd_scales_warn():
    comparison = compare_training(TrainScenario.build("llama-3.1-8b", 10**15))
    assert any("beyond any fine-tuning job" in n for n in comparison.notes)
    assert not comparison.options or all(o.kind == "managed" for o in comparison.options)
    assert comparison.set_aside and all("longer than a month" in o.set_aside for o in comparison.set_aside)


@settings(max_examples=20, deadline=None)
@given(
    st.integers(10**6, 10**11),
    st.sampled_from(["llama-3.2-1b", "llama-3.1-8b", "llama-3.1-70b"]),
    st.sampled_from(["lora", "qlora", "full"]),
)
def test_an_example_price_never_appears_in_a_ranking(tokens, model, method):
    catalog = load_catalog()
    comparison = compare_training(TrainScenario.build(model, tokens, method=method), catalog)
    for o in comparison.all_options():
        assert o.status != "example" and "example" not in o.option
    assert all(o.group == "like-for-like" for o in comparison.options)
    assert all("different model" in o.flags for o in comparison.others)


@settings(max_examples=20, deadline=None)
@given(st.integers(10**6, 10**10), st.floats(1.01, 10), st.sampled_from(["llama-3.2-1b", "llama-3.1-8b"]))
def test_cost_rises_with_tokens(tokens, factor, model):
    catalog = load_catalog()
    low = compare_training(TrainScenario.build(model, tokens), catalog)
    high = compare_training(TrainScenario.build(model, int(tokens * factor)), catalog)
    before = {(o.provider, o.option): o for o in low.all_options()}
    for o in high.all_options():
        if (o.provider, o.option) in before:
            assert o.usd_total >= before[(o.provider, o.option)].usd_total - 1e-6
    assert all(math.isfinite(o.usd_total) for o in high.options)
