"""Serving many adapters: managed prices by hand (one deployment per adapter, or one for all with multi-LoRA),
replica counts, decode on an L4 as a roofline worked by hand, NF4 sizes, the measured dynamic overhead."""

from __future__ import annotations

import pytest
from test_planner_fixtures import infer_row, measurements, small_catalog

from core.errors import InputError
from planner.catalog import load_catalog
from planner.inference import DEFAULT_DYNAMIC_OVERHEAD, decode_step_s, dynamic_overhead, prefill_tokens_per_s
from planner.roofline import decode_roofline
from planner.serve import ServeScenario, compare_serving

PRICES = (
    "TestCloud,H200,test-region,on-demand,,4.00,1,0,test-1gpu,current,test price,2026-01-01\n"
    "TestCloud,L4,test-region,on-demand,,1.00,1,0,test-1gpu,current,test price,2026-01-01\n"
)
# per-token serving at $1 in / $2 out per 1M, $5 storage per adapter-month; hosting at $2.50/h, one deployment
# per adapter (TestHost) or one for all adapters (TestMulti); an example figure (test data)
MANAGED = (
    "TestAPI,SFT LoRA up to 16B,,true,0,16,lora,0.50,,,1.00,,2.00,,5,false,current,test price,2026-01-01\n"
    "TestHost,SFT LoRA up to 16B,,true,0,16,lora,0.50,,,,,,2.50,5,false,current,test price,2026-01-01\n"
    "TestMulti,SFT LoRA up to 16B,,true,0,16,lora,0.50,,,,,,2.50,5,true,unconfirmed,test price,2026-01-01\n"
    "TestEx,SFT LoRA up to 16B,,true,0,16,lora,0.50,,,0.01,,0.01,,,false,example,test price,2026-01-01\n"
)
ONPREM = "H200,8-GPU server,8,320000,4,0.10,1.5,0.5,1000,0,0.1,0,0.25,current,test figures,2026-01-01\n"


@pytest.fixture
def catalog(tmp_path):
    return load_catalog(small_catalog(tmp_path / "cat", PRICES, MANAGED, ONPREM))


def test_managed_serving_by_hand(catalog):
    scn = ServeScenario(
        "llama-3.1-8b", n_adapters=3, requests_per_day=1000, prompt_tokens=100, output_tokens=50
    )
    comparison = compare_serving(scn, catalog)
    per_token = next(o for o in comparison.options if o.strategy == "managed-per-token")
    # 1000 requests/day × 730/24 days = 30 416.7 requests × (100 × $1 + 50 × $2) / 1M = $6.083; + 3 × $5 storage
    requests = 1000 * 730 / 24
    assert per_token.usd_per_month == pytest.approx(requests * 200 / 1e6 + 15)
    assert per_token.usd_per_1m_tokens == pytest.approx(per_token.usd_per_month / (requests * 150 / 1e6))
    hosted = next(o for o in comparison.options if o.provider == "TestHost")
    assert hosted.usd_per_month == pytest.approx(3 * 2.50 * 730 + 15)  # one always-on deployment per adapter
    assert "not in the catalog" in hosted.model
    multi = next(o for o in comparison.options if o.provider == "TestMulti")
    assert multi.usd_per_month == pytest.approx(2.50 * 730 + 15)  # one deployment of the base for all three
    assert "multi-LoRA" in multi.model and multi.flags == ("unconfirmed",)
    assert not [o for o in comparison.options if o.provider == "TestEx"]
    assert (
        "TestEx SFT LoRA up to 16B",
        "an example figure from a docs page, not a price",
    ) in comparison.skipped


def test_self_hosted_strategies_and_replicas(catalog):
    scn = ServeScenario("llama-3.1-8b", n_adapters=4, requests_per_day=100)
    found = compare_serving(scn, catalog).options
    options = {o.strategy: o for o in found if o.kind == "self-hosted" and o.gpu == "H200"}
    assert set(options) == {"merged-per-adapter", "merged-swap", "dynamic"}
    # light traffic: one always-on H200 per adapter when merged, one for all when dynamic or swapping
    assert options["merged-per-adapter"].n_gpus == 4 and options["dynamic"].n_gpus == 1
    assert options["merged-per-adapter"].usd_per_month == pytest.approx(4 * 730 * 4.00)
    assert options["dynamic"].replica_s_per_request > options["merged-per-adapter"].replica_s_per_request
    assert all(o.basis == "projected" for o in options.values())


def test_dynamic_overhead_measured_only_for_the_matching_pair(tmp_path):
    rows = [  # test data: dynamic decode 1.5× (batch 1) and 2.5× (batch 8) the merged time
        infer_row("llama-3.1-8b", "decode", "merged", {"ms_per_token": 20.0}, batch=1),
        infer_row("llama-3.1-8b", "decode", "dynamic", {"ms_per_token": 30.0}, batch=1),
        infer_row("llama-3.1-8b", "decode", "merged", {"ms_per_token": 22.0}, batch=8),
        infer_row("llama-3.1-8b", "decode", "dynamic", {"ms_per_token": 55.0}, batch=8),
        infer_row("llama-3.1-8b", "decode", "dynamic", {"ms_per_token": 99.0}, batch=32),  # no merged pair
    ]
    meas = measurements(tmp_path, rows)
    at8 = dynamic_overhead("llama-3.1-8b", "decode", meas, batch=8)
    assert at8.basis == "measured" and at8.value == pytest.approx(1.5) and "b8×512" in at8.derivation
    at1 = dynamic_overhead("llama-3.1-8b", "decode", meas, batch=1)
    assert at1.basis == "measured" and at1.value == pytest.approx(0.5)
    # batch 4, an NF4 base, another profile or model: projected from the pairs, which are named
    for kwargs in ({"batch": 4}, {"base": "nf4"}, {"profile": "tuned"}):
        fig = dynamic_overhead("llama-3.1-8b", "decode", meas, **kwargs)
        assert (
            fig.basis == "projected" and fig.value == pytest.approx(1.0) and "2 dynamic/merged" in fig.model
        )
        assert "llama-3.1-8b bf16 dynamic decode b1×512 plain" in fig.derivation
    other = dynamic_overhead("llama-3.1-70b", "decode", meas, base="nf4", batch=8)
    assert other.basis == "projected" and "other models" in other.model
    assert dynamic_overhead("llama-3.1-8b", "prefill", meas).value == DEFAULT_DYNAMIC_OVERHEAD


def test_the_roofline_reproduces_the_measured_step_on_its_gpu(tmp_path, catalog):
    meas = measurements(
        tmp_path, [infer_row("llama-3.1-8b", "decode", "merged", {"ms_per_token": 40.0}, batch=8)]
    )
    scn = ServeScenario("llama-3.1-8b", n_adapters=1, requests_per_day=100, batch=8)
    merged = next(
        o
        for o in compare_serving(scn, catalog, meas).options
        if o.strategy == "merged-per-adapter" and o.gpu == "H200"
    )
    # the row read 512 tokens of context; the scenario 512 + 64: 8 × 64 × 131 072 B more, 0.014 ms at 4.8 TB/s
    assert merged.ms_per_step == pytest.approx(40.0 + 8 * 64 * 131_072 / 4.8e12 * 1000)
    assert "per-step overhead measured on H200" in merged.model


def test_decode_measured_only_at_its_profile_and_prefill_at_its_batch(tmp_path, catalog):
    gpu = catalog.gpus["H200"]
    meas = measurements(
        tmp_path,
        [
            infer_row(
                "llama-3.1-8b",
                "decode",
                "merged",
                {"ms_per_token": 43.8},
                timestamp="2026-02-01T00:00:00+00:00",
            ),
            infer_row(
                "llama-3.1-8b",
                "decode",
                "merged",
                {"ms_per_token": 7.8},
                profile="tuned",
                timestamp="2026-01-01T00:00:00+00:00",
            ),
            infer_row("llama-3.1-8b", "prefill", "merged", {"prefill_tokens_per_s": 35324.0}, batch=8),
            infer_row("llama-3.1-8b", "prefill", "merged", {"prefill_tokens_per_s": 17338.0}, batch=1),
        ],
    )
    plain = decode_step_s("llama-3.1-8b", "bf16", gpu, 1, 512, meas, catalog)
    tuned = decode_step_s("llama-3.1-8b", "bf16", gpu, 1, 512, meas, catalog, profile="tuned")
    assert (plain.value, plain.basis) == (pytest.approx(0.0438), "measured")
    assert (tuned.value, tuned.basis) == (pytest.approx(0.0078), "measured")
    longer = decode_step_s("llama-3.1-8b", "bf16", gpu, 1, 2048, meas, catalog)
    assert longer.basis == "projected" and "b1×512 plain" in longer.derivation
    one = prefill_tokens_per_s("llama-3.1-8b", "bf16", gpu, meas, catalog, 1, 512, batch=1)
    eight = prefill_tokens_per_s("llama-3.1-8b", "bf16", gpu, meas, catalog, 1, 512, batch=8)
    assert (one.value, eight.value) == (17338.0, 35324.0) and one.basis == eight.basis == "measured"
    assert (
        prefill_tokens_per_s("llama-3.1-8b", "bf16", gpu, meas, catalog, 1, 512, batch=4).basis == "projected"
    )


def test_bad_serving_scenarios():
    with pytest.raises(InputError, match="base"):
        ServeScenario("llama-3.1-8b", base="int3")
    with pytest.raises(InputError, match="n_adapters"):
        ServeScenario("llama-3.1-8b", n_adapters=0)
    with pytest.raises(InputError, match="positions"):
        ServeScenario("tiny-llama", prompt_tokens=500, output_tokens=100)


def test_golden_decode_on_an_l4_as_a_roofline_by_hand(tmp_path, catalog):
    # test data: the best profile's merged decode of 8B bf16 on the H200, batch 1 after a 512-token prompt
    meas = measurements(
        tmp_path,
        [
            infer_row("llama-3.1-8b", "decode", "merged", {"ms_per_token": 7.82}, profile="tuned"),
            infer_row("llama-3.1-8b", "decode", "merged", {"ms_per_token": 47.95}, profile="plain"),
        ],
    )
    # Llama-3.1-8B: 8 030 261 248 parameters × 2 B = 16.0605 GB of bf16 weights; KV: 2 × 32 layers × 8 heads ×
    # 128 × 2 B = 131 072 B per token. H200 floor at batch 1, 512 tokens: (16.0605e9 + 512 × 131 072) / 4.8e12
    # = 3.3599 ms, so the tuned row's overhead is 7.82 − 3.36 = 4.460 ms (the plain row's, 44.6 ms, is larger).
    # L4 at batch 8, 576 tokens of context: (16.0605e9 + 8 × 576 × 131 072) / 0.30e12 = 55.548 ms + 4.460 ms.
    weights = 8_030_261_248 * 2
    overhead_ms = 7.82 - (weights + 512 * 131_072) / 4.8e12 * 1000
    step_ms = (weights + 8 * 576 * 131_072) / 0.30e12 * 1000 + overhead_ms
    fig = decode_roofline("llama-3.1-8b", "bf16", "merged", catalog.gpus["L4"], 8, 576, meas, catalog)
    assert fig.value * 1000 == pytest.approx(step_ms) and step_ms == pytest.approx(60.01, abs=0.01)
    assert fig.basis == "projected" and "tuned profile" in fig.model
    scn = ServeScenario("llama-3.1-8b", n_adapters=20, requests_per_day=50_000, batch=8)
    l4 = [o for o in compare_serving(scn, catalog, meas).options if o.gpu == "L4"]
    assert l4 and all(o.ms_per_step == pytest.approx(step_ms) for o in l4 if o.strategy != "dynamic")
    # 50 000 requests a day at twice the mean = 1.157 requests/s, each about 512 / prefill + 128 × 60 ms / 8
    swap = next(o for o in l4 if o.strategy == "merged-swap")
    assert swap.n_gpus <= 3  # a slow eager step scaled by bandwidth (793 ms) needed 15


def test_nf4_models_are_sized_as_nf4(catalog):
    bf16 = ServeScenario("llama-3.1-70b", n_adapters=2, requests_per_day=100, base="bf16")
    nf4 = ServeScenario("llama-3.1-70b", n_adapters=2, requests_per_day=100, base="nf4")
    merged = {
        scn.base: next(
            o
            for o in compare_serving(scn, catalog).options
            if o.strategy == "merged-per-adapter" and o.gpu == "H200"
        )
        for scn in (bf16, nf4)
    }
    # 141 GB of bf16 weights need two H200s a replica; about 40 GB of NF4 fit one
    assert merged["bf16"].gpus_per_replica == 2 and merged["nf4"].gpus_per_replica == 1
