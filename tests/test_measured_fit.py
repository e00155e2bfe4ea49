"""A run under a capped allocator (`memory_cap_gib`) is the measured answer to "does it fit this card"."""

from __future__ import annotations

from core.config import TrainConfig
from planner.catalog import load_catalog
from planner.gpu_fit import CUDA_CONTEXT_GIB, gpu_fit
from planner.measured import CappedRun, Measurements, load_measurements
from planner.memory import predict_memory

CFG = TrainConfig(
    "llama-3.1-70b",
    method="qlora",
    micro_batch=1,
    seq_len=2048,
    grad_checkpointing=True,
    optimizer="paged_adamw_8bit",
    profile="tuned",
)


def _fit(meas, gpu_name, cfg=CFG):
    catalog = load_catalog()
    gpu = catalog.gpus[gpu_name]
    return gpu_fit(predict_memory(cfg, gpu, meas, catalog), gpu, meas, cfg), gpu


def test_the_shipped_capped_70b_run_answers_for_an_l40s():
    fit, gpu = _fit(load_measurements(), "L40S")
    assert fit.basis == "measured" and fit.state == "fits"
    assert "43.9 GiB allocator cap" in fit.derivation
    assert gpu.memory_gib - CUDA_CONTEXT_GIB >= 43.9 - 0.05


def _meas(cap_gib: float, ran: bool) -> Measurements:
    return Measurements(capped=(CappedRun(CFG, cap_gib, ran, "capped", "NVIDIA H200", "x.jsonl"),))


def test_an_oom_under_the_cards_cap_is_a_measured_does_not_fit():
    fit, gpu = _fit(_meas(43.9, ran=False), "L40S")
    assert (fit.state, fit.basis) == ("does not fit", "measured")
    assert "ran out of memory" in fit.derivation


def test_a_cap_that_says_nothing_about_this_card_leaves_the_prediction():
    # ran under a cap larger than the card leaves: no evidence it fits the smaller card
    fit, _ = _fit(_meas(70.0, ran=True), "L40S")
    assert fit.basis == "projected"
    # ran out of memory under a cap smaller than the card leaves: no evidence it fails on the larger card
    fit, _ = _fit(_meas(20.0, ran=False), "L40S")
    assert fit.basis == "projected"
    # another configuration's run answers nothing
    other = CFG.with_(seq_len=4096)
    fit, _ = _fit(_meas(43.9, ran=True), "L40S", cfg=other)
    assert fit.basis == "projected"


def test_a_row_measured_on_a_shared_device_never_calibrates(tmp_path):
    import json

    from core.paths import RESULTS_DIR

    rows = [json.loads(line) for line in (RESULTS_DIR / "h200-standard-train.jsonl").read_text().splitlines()]
    row = next(r for r in rows if r["status"] == "ok")
    row["provenance"]["device_shared"] = True
    path = tmp_path / "shared.jsonl"
    path.write_text(json.dumps(row) + "\n")
    meas = load_measurements(path)
    assert not meas.train
    assert any("shared the device" in why for _where, why in meas.skipped)
