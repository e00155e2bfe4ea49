"""Training throughput: calibration on measured rows, projection to other GPUs, scaling, defaults."""

from __future__ import annotations

import pytest
from test_planner_fixtures import measurements, row_of, train_row

from planner.catalog import load_catalog, resolve_gpu
from planner.config import TrainConfig
from planner.step_cost import LAUNCH_S, step_terms
from planner.step_fit import HOST_GRID_S
from planner.throughput import (
    DEFAULT_CALIBRATION,
    DEFAULT_SCALING_EFFICIENCY,
    DEFAULT_TRAIN_EFFICIENCY,
    Calibration,
    calibration,
    efficiency_table,
    flops_per_token,
    predict_tokens_per_s,
    scaling_table,
)

GPUS = load_catalog().gpus
CFG = TrainConfig("llama-3.1-8b", "lora", 16, micro_batch=4, seq_len=2048)


def test_flops_per_token_by_hand():
    # N = 32 · 218 103 808 decoder linear weights + 128 256 · 4096 lm_head = 7 504 658 432; LoRA: 4N;
    # attention 3 · 2 · 32 layers · 2048 · 4096 = 1 610 612 736; adapter 6 · 41 943 040 = 251 658 240.
    assert flops_per_token(CFG) == 4 * 7_504_658_432 + 1_610_612_736 + 251_658_240


def _tps(cal: Calibration, config: TrainConfig, gpu: str) -> float:
    return 1 / cal.seconds_per_token(config, resolve_gpu(gpu, GPUS))


def test_step_terms_by_hand():
    t = step_terms(CFG)
    # 4N + causal attention (half of Kaplan's 3 · 2 · L · s · d_attn = 1 610 612 736)
    assert t.tensor_core_flops == 4 * 7_504_658_432 + 1_610_612_736 / 2
    assert t.adapter_flops == 251_658_240 and t.tokens == 8192 and t.matmul_rows == 8192
    # QLoRA adds NF4 dequantisation per pass; checkpointing one more pass and the recomputed forward
    q = step_terms(CFG.with_(method="qlora"))
    assert q.per_step_bytes > t.per_step_bytes and q.tensor_core_flops == t.tensor_core_flops
    ck = step_terms(CFG.with_(grad_checkpointing=True))
    assert ck.traffic_bytes > t.traffic_bytes and ck.launches > t.launches
    # attention-only adapters move fewer bytes than adapters on every linear
    assert (
        step_terms(CFG.with_(targets=("q_proj", "k_proj", "v_proj", "o_proj"))).traffic_bytes
        < t.traffic_bytes
    )


def test_throughput_moves_with_what_moves_it():
    cal = Calibration(0.6, 1.5, "H200", 2, "test", None)
    base = _tps(cal, CFG, "h200")
    assert _tps(cal, CFG.with_(rank=128), "h200") < base  # rank: fp32 adapter matmuls
    assert _tps(cal, CFG.with_(targets=("q_proj", "v_proj")), "h200") > base  # fewer targets
    assert _tps(cal, CFG.with_(micro_batch=1, seq_len=512), "h200") < base  # small matmuls, launches
    assert _tps(cal, CFG.with_(seq_len=16384, micro_batch=1), "h200") < base  # attention's share
    assert _tps(cal, CFG.with_(method="qlora"), "h100") < _tps(cal, CFG, "h100")  # NF4 dequantisation
    tiny = TrainConfig("llama-3.2-1b", micro_batch=1, seq_len=256)  # the host's launches bound the step
    terms = step_terms(tiny)
    assert cal.seconds_per_token(tiny, GPUS["H200"]) == pytest.approx(
        terms.launches * LAUNCH_S / terms.tokens
    )


def test_no_rows_uses_the_stated_default():
    pred = predict_tokens_per_s(CFG, "h200")
    assert pred.basis == "projected" and "default efficiency" in pred.model and "assumption" in pred.model
    assert pred.tokens_per_s == pytest.approx(_tps(DEFAULT_CALIBRATION, CFG, "h200"))
    assert DEFAULT_CALIBRATION.matmul_efficiency == DEFAULT_TRAIN_EFFICIENCY
    assert pred.energy_basis == "projected (from TDP)"
    assert pred.energy_j_per_token == pytest.approx(700 / pred.tokens_per_s)


def test_one_row_calibrates_its_gpu_and_projects_to_another_by_hand(tmp_path):
    meas = measurements(tmp_path, [train_row(tokens_per_s=9000.0, energy_j_per_token=0.08)])
    exact = predict_tokens_per_s(CFG, "h200", meas)
    assert exact.basis == "measured" and exact.tokens_per_s == 9000.0 and exact.energy_j_per_token == 0.08
    # Another configuration on the H200: the matmul efficiency the row implies (k = 0) carries over.
    other = CFG.with_(rank=64)
    pred = predict_tokens_per_s(other, "h200", meas)
    assert pred.basis == "projected" and "calibrated on 1 H200 row" in pred.model
    pred_a = float(pred.model.rsplit("efficiency ", 1)[1].split(",")[0])
    implied = Calibration(pred_a, 0.0, "H200", 1, "", None)
    assert _tps(implied, CFG, "h200") == pytest.approx(9000, rel=2e-3)  # the row, reproduced (a to 3 digits)
    exact_a = Calibration(pred_a, 0.0, "H200", 1, "", None)
    assert pred.tokens_per_s == pytest.approx(_tps(exact_a, other, "h200"), rel=2e-3)
    # measured power (0.08 J/token × 9000 tokens/s = 720 W) carries to the prediction's energy
    assert pred.energy_j_per_token == pytest.approx(720 / pred.tokens_per_s)
    # An A100 80GB (312 TFLOP/s) with no rows: the same efficiency on its own peak and bandwidth.
    a100 = predict_tokens_per_s(CFG, "a100-80gb", meas)
    assert a100.tokens_per_s == pytest.approx(_tps(exact_a, CFG, "a100-80gb"), rel=2e-3)
    assert a100.tokens_per_s < 9000 * 0.5
    assert "projected from H200" in a100.model and "ratio" in a100.model


def test_step_model_fit_recovers_known_coefficients(tmp_path):
    # Test rows generated from the model itself with a = 0.55, k = 2.5 and h = 30 µs (a grid point) on the
    # H200; the two 1B QLoRA rows at short micro-steps are host-bound, the others GPU-bound.
    gpu = GPUS["H200"]
    h = HOST_GRID_S[71]
    truth = Calibration(0.55, 2.5, "H200", 6, "truth", None, host_s_per_launch=h)
    configs = [
        CFG,
        CFG.with_(grad_checkpointing=True),
        TrainConfig("llama-3.2-3b", "full"),
        TrainConfig("llama-3.1-70b", "qlora", micro_batch=1, grad_checkpointing=True),
        TrainConfig("llama-3.2-1b", "qlora", micro_batch=2, seq_len=1024),
        TrainConfig("llama-3.2-1b", "qlora", micro_batch=1, seq_len=512),
    ]
    rows = [row_of(c, 1 / truth.seconds_per_token(c, gpu)) for c in configs]
    meas = measurements(tmp_path, rows)
    cal, note = calibration(TrainConfig("qwen2.5-7b"), gpu, meas, load_catalog())
    assert cal.matmul_efficiency == pytest.approx(0.55) and cal.traffic_factor == pytest.approx(2.5)
    assert cal.host_s_per_launch == pytest.approx(h) and cal.host_bound_rows == 2
    assert "step-model fit" in note and cal.n_rows == 6 and cal.rms_rel_error == pytest.approx(0, abs=1e-9)
    assert "host 30.4 µs per launch (fitted, 2 host-bound rows)" in note
    new = TrainConfig("qwen2.5-7b")
    assert predict_tokens_per_s(new, gpu, meas).tokens_per_s == pytest.approx(_tps(truth, new, "h200"))
    # projected to the H100 SXM through its own peak and bandwidth
    assert predict_tokens_per_s(new, "h100", meas).tokens_per_s == pytest.approx(_tps(truth, new, "h100"))
    assert len(efficiency_table(meas)) == 6
    # without the host-bound rows nothing measures the host: the prior, said so
    gpu_bound = measurements(tmp_path / "gpu", rows[:4])
    cal, note = calibration(new, gpu, gpu_bound, load_catalog())
    assert cal.host_s_per_launch == LAUNCH_S and "prior: no host-bound row" in note


def test_cpu_rows_never_calibrate_a_gpu(tmp_path):
    meas = measurements(tmp_path, [train_row(device_name="cpu", tokens_per_s=5.0)])
    assert (
        predict_tokens_per_s(CFG, "h200", meas).tokens_per_s == predict_tokens_per_s(CFG, "h200").tokens_per_s
    )


def test_multi_gpu_scaling_measured_and_default(tmp_path):
    one = predict_tokens_per_s(CFG, "h200")
    four = predict_tokens_per_s(CFG.with_(num_gpus=4), "h200")
    assert four.scaling_efficiency == DEFAULT_SCALING_EFFICIENCY
    assert four.tokens_per_s == pytest.approx(4 * DEFAULT_SCALING_EFFICIENCY * one.tokens_per_s)
    # measured: 1 GPU at 9000 tokens/s, 4 GPUs (FSDP) at 30 600 tokens/s -> scaling 30 600 / 36 000 = 0.85
    rows = [
        train_row(tokens_per_s=9000.0),
        train_row(tokens_per_s=30600.0, num_gpus=4, sharding="full_shard"),
    ]
    meas = measurements(tmp_path, rows)
    assert scaling_table(meas)["scaling_efficiency"].tolist() == pytest.approx([0.85])
    pred = predict_tokens_per_s(CFG.with_(rank=8, num_gpus=4, sharding="full_shard"), "h200", meas)
    assert pred.scaling_efficiency == pytest.approx(0.85) and "measured on 1 multi-GPU row" in pred.model
