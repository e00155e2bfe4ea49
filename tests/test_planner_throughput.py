"""Training throughput: calibration on measured rows, projection to other GPUs, scaling, defaults."""

from __future__ import annotations

import pytest
from test_planner_fixtures import measurements, train_row

from planner.catalog import load_catalog
from planner.config import TrainConfig
from planner.throughput import (
    DEFAULT_SCALING_EFFICIENCY,
    DEFAULT_TRAIN_EFFICIENCY,
    calibration,
    efficiency_table,
    flops_per_token,
    predict_tokens_per_s,
    scaling_table,
    traffic_bytes_per_token,
)

GPUS = load_catalog().gpus
CFG = TrainConfig("llama-3.1-8b", "lora", 16, micro_batch=4, seq_len=2048)


def test_flops_per_token_by_hand():
    # N = 32 · 218 103 808 decoder linear weights + 128 256 · 4096 lm_head = 7 504 658 432; LoRA: 4N;
    # attention 3 · 2 · 32 layers · 2048 · 4096 = 1 610 612 736; adapter 6 · 41 943 040 = 251 658 240.
    assert flops_per_token(CFG) == 4 * 7_504_658_432 + 1_610_612_736 + 251_658_240


def test_no_rows_uses_the_stated_default():
    pred = predict_tokens_per_s(CFG, "h200")
    assert pred.basis == "projected" and "default efficiency" in pred.model and "assumption" in pred.model
    assert pred.tokens_per_s == pytest.approx(DEFAULT_TRAIN_EFFICIENCY * 989e12 / flops_per_token(CFG))
    assert pred.energy_basis == "projected (from TDP)"
    assert pred.energy_j_per_token == pytest.approx(700 / pred.tokens_per_s)


def test_one_row_calibrates_its_gpu_and_projects_to_another_by_hand(tmp_path):
    meas = measurements(tmp_path, [train_row(tokens_per_s=9000.0, energy_j_per_token=0.08)])
    exact = predict_tokens_per_s(CFG, "h200", meas)
    assert exact.basis == "measured" and exact.tokens_per_s == 9000.0 and exact.energy_j_per_token == 0.08
    # Another configuration on the H200: the row's efficiency 9000 · F / 989e12 carries over.
    other = CFG.with_(rank=64)
    eff = 9000 * flops_per_token(CFG) / 989e12
    pred = predict_tokens_per_s(other, "h200", meas)
    assert pred.basis == "projected" and "calibrated on 1 H200 row" in pred.model
    assert pred.tokens_per_s == pytest.approx(eff * 989e12 / flops_per_token(other))
    # measured power (0.08 J/token × 9000 tokens/s = 720 W) carries to the prediction's energy
    assert pred.energy_j_per_token == pytest.approx(720 / pred.tokens_per_s)
    # An A100 80GB (312 TFLOP/s) with no rows: the same efficiency on its own peak.
    a100 = predict_tokens_per_s(CFG, "a100-80gb", meas)
    assert a100.tokens_per_s == pytest.approx(9000 * 312 / 989)
    assert "projected from H200" in a100.model and "ratio" in a100.model


def test_two_term_fit_recovers_known_coefficients(tmp_path):
    # Test rows generated from s = F / (0.55 · peak) + 25 · traffic / bandwidth on the H200.
    gpu = GPUS["H200"]
    configs = [
        CFG,
        CFG.with_(grad_checkpointing=True),
        TrainConfig("llama-3.2-3b", "full"),
        TrainConfig("llama-3.1-70b", "qlora", micro_batch=1, grad_checkpointing=True),
    ]
    rows = []
    for c in configs:
        seconds = flops_per_token(c) / (0.55 * 989e12) + 25 * traffic_bytes_per_token(c) / 4.8e12
        rows.append(
            train_row(
                c.model,
                c.method,
                micro_batch=c.micro_batch,
                grad_checkpointing=c.grad_checkpointing,
                tokens_per_s=1 / seconds,
            )
        )
    meas = measurements(tmp_path, rows)
    cal, note = calibration(TrainConfig("qwen2.5-7b"), gpu, meas, load_catalog())
    assert cal.matmul_efficiency == pytest.approx(0.55) and cal.traffic_factor == pytest.approx(25)
    assert "two-term fit" in note and cal.n_rows == 4
    new = TrainConfig("qwen2.5-7b")
    expected = 1 / (flops_per_token(new) / (0.55 * 989e12) + 25 * traffic_bytes_per_token(new) / 4.8e12)
    assert predict_tokens_per_s(new, gpu, meas).tokens_per_s == pytest.approx(expected)
    # projected to the H100 SXM through its own peak and bandwidth
    h100 = 1 / (flops_per_token(new) / (0.55 * 989e12) + 25 * traffic_bytes_per_token(new) / 3.35e12)
    assert predict_tokens_per_s(new, "h100", meas).tokens_per_s == pytest.approx(h100)
    assert len(efficiency_table(meas)) == 4


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
