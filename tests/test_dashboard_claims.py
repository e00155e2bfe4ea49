"""planner.claims: each claim's verdict from rows whose figures are worked out by hand, "not measured yet"
(with what would measure it) where no row measures it, and the Claims page showing the planner's verdicts."""

from __future__ import annotations

import pytest
from test_dashboard_pages import assert_clean, open_page
from test_dashboard_rows import write_results

from core.rows import load_rows
from dashboards import RESULTS_ENV
from planner import claims
from planner.catalog import load_catalog
from planner.measured import empty_measurements, load_measurements
from planner.scenario import apply, default_scenario

PROV = {"device_name": "TEST-GPU", "git_commit": "abc", "timestamp": "2026-11-20T10:00:00+00:00"}


def train(metrics: dict, **spec) -> dict:
    spec = {
        "model": "llama-3.1-8b",
        "method": "lora",
        "rank": 8,
        "targets": "q_proj,v_proj",
        "micro_batch": 1,
        "seq_len": 2048,
        **spec,
    }
    return {"kind": "train", "status": "ok", "spec": spec, "metrics": metrics, "provenance": PROV}


def decode(mode: str, ms: float, batch: int) -> dict:
    spec = {
        "model": "llama-3.1-8b",
        "base": "bf16",
        "mode": mode,
        "task": "decode",
        "batch": batch,
        "prompt_len": 512,
        "profile": "plain",
    }
    return {
        "kind": "infer",
        "status": "ok",
        "spec": spec,
        "metrics": {"ms_per_token": ms},
        "provenance": PROV,
    }


def test_lora_fraction_holds_for_4_million_of_7_billion():
    found = claims.lora_fraction([train({"trainable_params": 4_000_000, "total_params": 7_000_000_000})])
    assert found.verdict == claims.HOLDS and "0.06%" in found.figure and found.basis == "measured"


def test_lora_fraction_over_the_limit_holds_only_under_conditions():
    found = claims.lora_fraction([train({"trainable_params": 40_000_000, "total_params": 8_000_000_000})])
    assert found.verdict == claims.CONDITIONS and "0.50%" in found.figure and "0.042%" in found.figure


def test_70b_on_48_gb_from_a_measured_peak():
    catalog = load_catalog()
    row = train({"peak_allocated_gib": 30.0}, model="llama-3.1-70b", method="qlora", grad_checkpointing=True)
    found = claims.qlora_70b_48gb([row], catalog, empty_measurements())
    assert found.verdict == claims.HOLDS and "30.0 GiB" in found.figure  # 30 < 0.9 × 44.4 GiB
    row["metrics"]["peak_allocated_gib"] = 60.0
    assert claims.qlora_70b_48gb([row], catalog, empty_measurements()).verdict == claims.FAILS


def test_dynamic_overhead_from_pairs():
    # batch 1: 21 / 20 − 1 = +5 % (slight); batch 8: 30 / 20 − 1 = +50 %
    rows = [
        decode("merged", 20.0, 1),
        decode("dynamic", 21.0, 1),
        decode("merged", 20.0, 8),
        decode("dynamic", 30.0, 8),
    ]
    found = claims.dynamic_slight(rows)
    assert found.verdict == claims.CONDITIONS and "+5 % to +50 %" in found.figure
    assert claims.dynamic_slight(rows[:2]).verdict == claims.HOLDS


def test_dynamic_overhead_from_the_latest_pair_of_a_spec_whatever_the_file_order():
    # re-measured on newer code: 23 / 20 − 1 = +15 %, the older pair (+62 %) comes later in the rows
    newer = [decode("merged", 20.0, 1), decode("dynamic", 23.0, 1)]
    for row in newer:
        row["provenance"] = {**PROV, "timestamp": "2026-11-29T18:45:00+00:00"}
    found = claims.dynamic_slight([*newer, decode("merged", 20.0, 1), decode("dynamic", 32.4, 1)])
    assert "+15 % to +15 %" in found.figure and found.verdict == claims.FAILS


def test_adapter_size_from_the_rows():
    small = train({"adapter_bytes": 20 * 2**20, "trainable_params": 5 * 2**20})
    big = train({"adapter_bytes": 160 * 2**20, "trainable_params": 40 * 2**20}, rank=16)
    assert claims.adapters_small([small]).verdict == claims.HOLDS
    found = claims.adapters_small([small, big])
    assert (
        found.verdict == claims.CONDITIONS
        and "20 MiB" in found.figure
        and "4 bytes per parameter" in found.evidence
    )


@pytest.mark.parametrize("check", [claims.lora_fraction, claims.dynamic_slight, claims.adapters_small])
def test_no_rows_is_not_measured_yet_and_says_what_would_measure_it(check):
    found = check([])
    assert found.verdict == claims.UNMEASURED and "peftplan bench" in found.to_measure


def test_claims_page_shows_the_planners_verdicts(tmp_path, monkeypatch):
    folder = write_results(tmp_path / "results")
    monkeypatch.setenv(RESULTS_ENV, str(folder))
    at = open_page("claims")
    assert_clean(at)
    train_scn, catalog = apply(default_scenario(), load_catalog())
    expected = claims.evaluate(load_rows(folder), train_scn, catalog, load_measurements(folder))
    shown = [h.value for h in at.subheader]
    assert shown == [c.claim for c in expected]
    texts = " ".join(t.value for t in at.text)
    assert all(c.figure in texts for c in expected)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Does not hold"] == str(sum(c.verdict == claims.FAILS for c in expected))
