"""The tuned training path as the planner sees it: rows of an earlier tuned path are set aside (and still score
the predictions made for them), the fused adapters' memory and speed terms, and a tuned calibration that
borrows the plain fit's matmul efficiency and host time."""

from __future__ import annotations

import pytest
from test_planner_fixtures import measurements, row_of, train_row

from core.config import TrainConfig
from core.vocab import TUNED_BASE_RELEASED, TUNED_FUSED_BASE, TUNED_FUSED_LORA
from planner.catalog import load_catalog
from planner.memory_terms import activation_bytes_per_token_layer
from planner.preregister import out_of_sample
from planner.reserved import reserved_features
from planner.step_cost import step_terms
from planner.throughput import Calibration, calibration, predict_tokens_per_s

H200 = load_catalog().gpus["H200"]
TUNED = TrainConfig("llama-3.1-8b", profile="tuned")
# Plain rows made from a known calibration: three GPU-bound, the last bound by the host's launches
PLAIN = (
    TrainConfig("llama-3.1-8b"),
    TrainConfig("llama-3.1-8b", "qlora", grad_checkpointing=True),
    TrainConfig("llama-3.2-3b", "full", micro_batch=2),
    TrainConfig("llama-3.2-1b", "qlora", micro_batch=1, seq_len=512),
)


def test_a_tuned_row_of_an_earlier_path_is_set_aside_and_says_why(tmp_path):
    rows = [
        train_row(profile="tuned", tuned_applied=["compile_layers"], timestamp="2026-01-01T00:00:00+00:00"),
        train_row(profile="tuned", micro_batch=2),  # the current path: fused adapters
        train_row(
            profile="tuned", micro_batch=8, dropout=0.1
        ),  # dropout: the current code runs peft's forward
        train_row(method="full", profile="tuned", micro_batch=1),  # no adapters to fuse
    ]
    meas = measurements(tmp_path, rows)
    assert sorted(r.config.micro_batch for r in meas.gpu_train()) == [1, 2, 8]
    assert [r.config.micro_batch for r in meas.superseded] == [4]
    (why,) = [reason for _, reason in meas.skipped]
    assert TUNED_FUSED_LORA in why and "measure it again" in why
    assert meas.find_train(TUNED, "H200") is None  # not "measured" for the current code


def test_a_reserved_peak_measured_before_the_fused_base_blocks_were_released_is_not_used(tmp_path):
    fused = ["compile_layers", TUNED_FUSED_LORA, TUNED_FUSED_BASE]
    rows = []
    for batch, applied, allocator in (
        (1, fused, "caching"),  # the freed copies stayed reserved: a path that no longer runs
        (2, [*fused, TUNED_BASE_RELEASED], "caching"),
        (4, ["compile_layers", TUNED_FUSED_LORA], "caching"),  # nothing dense was fused (QLoRA)
        (8, fused, "expandable"),  # expandable segments reuse the freed pages: the release changes nothing
    ):
        row = train_row(profile="tuned", micro_batch=batch, tuned_applied=applied, peak_allocated_gib=20.0)
        row["spec"]["allocator"] = allocator
        row["metrics"]["peak_reserved_gib"] = 25.0
        rows.append(row)
    records = {r.config.micro_batch: r for r in measurements(tmp_path, rows).gpu_train()}
    assert {b: r.peak_reserved_gib for b, r in records.items()} == {1: None, 2: 25.0, 4: 25.0, 8: 25.0}
    assert all(r.tokens_per_s and r.peak_allocated_gib == 20.0 for r in records.values())  # the rest stands
    # a prediction made for the path that kept the blocks is scored against what that path reserved
    prediction = {
        "name": "kept",
        "config": records[1].config.describe(),
        "gpu": "H200",
        "predicted": {"tokens_per_s": 1000.0, "peak_reserved_gib": 20.0},
        "derivation": {},
        "made_by": {"commit": "x", "timestamp": "2025-12-01T00:00:00+00:00"},
    }
    frame, _ = out_of_sample([prediction], measurements(tmp_path / "scored", rows[:1]))
    assert frame[frame["metric"] == "peak_reserved_gib"]["measured"].item() == 25.0


def test_predictions_are_scored_against_the_first_row_measured_after_them(tmp_path):
    prediction = {
        "name": "t",
        "config": {"model": "llama-3.1-8b", "profile": "tuned"},
        "gpu": "H200",
        "predicted": {"tokens_per_s": 1000.0},
        "derivation": {},
        "made_by": {"commit": "x", "timestamp": "2026-02-01T00:00:00+00:00"},
    }
    rows = [
        train_row(profile="tuned", tokens_per_s=500.0, timestamp="2026-01-01T00:00:00+00:00"),
        train_row(
            profile="tuned", tuned_applied=[], tokens_per_s=800.0, timestamp="2026-02-02T00:00:00+00:00"
        ),
        train_row(profile="tuned", tokens_per_s=1250.0, timestamp="2026-03-01T00:00:00+00:00"),
    ]
    frame, _ = out_of_sample([prediction], measurements(tmp_path, rows))
    tps = frame[frame["metric"] == "tokens_per_s"]
    # the path changed after the prediction: the row it predicted is the superseded one of 2 February
    assert tps["measured"].item() == 800.0 and tps["error_frac"].item() == pytest.approx(0.25)


def test_fused_adapters_keep_each_shared_input_once_in_bf16():
    qkv = TUNED.with_(targets=("q_proj", "k_proj", "v_proj"))
    q_only = TUNED.with_(targets=("q_proj",))
    rank_bytes = 2 * TUNED.rank  # each adapter's lora_A output, bf16
    assert activation_bytes_per_token_layer(qkv) - activation_bytes_per_token_layer(q_only) == 2 * rank_bytes
    # o_proj's input (the attention output, as wide as q's) is kept once too
    assert activation_bytes_per_token_layer(
        TUNED.with_(targets=("o_proj",))
    ) == activation_bytes_per_token_layer(q_only)
    plain, dropout = TUNED.with_(profile="plain"), TUNED.with_(dropout=0.1)
    assert activation_bytes_per_token_layer(TUNED) < activation_bytes_per_token_layer(dropout)
    assert activation_bytes_per_token_layer(dropout) < activation_bytes_per_token_layer(plain)


def test_fused_adapters_run_on_the_tensor_cores():
    fused, unfused = step_terms(TUNED), step_terms(TUNED.with_(dropout=0.1))
    assert fused.adapter_flops == 0 and unfused.adapter_flops > 0
    assert fused.tensor_core_flops == pytest.approx(unfused.tensor_core_flops + unfused.adapter_flops)


def test_a_tuned_calibration_takes_the_plain_matmul_efficiency_and_host_time(tmp_path):
    plain_truth = Calibration(0.6, 2.0, "H200", 4, "truth", None, host_s_per_launch=30e-6)
    tuned_truth = Calibration(0.6, 0.9, "H200", 1, "truth", None, host_s_per_launch=30e-6)
    rows = [row_of(c, 1 / plain_truth.seconds_per_token(c, H200)) for c in PLAIN]
    rows.append(train_row(profile="tuned", tokens_per_s=1 / tuned_truth.seconds_per_token(TUNED, H200)))
    cal, note = calibration(
        TrainConfig("llama-3.2-3b", profile="tuned"), H200, measurements(tmp_path, rows), load_catalog()
    )
    assert cal.matmul_efficiency == pytest.approx(0.6) and cal.host_s_per_launch == pytest.approx(
        30e-6, rel=0.03
    )
    assert cal.traffic_factor == pytest.approx(0.9, rel=0.02) and cal.n_rows == 1
    assert "plain fit's matmul efficiency and host time" in note


def test_a_host_bound_projection_says_how_far_host_bound_rows_moved_between_calls(tmp_path):
    truth = Calibration(0.6, 2.0, "H200", 4, "truth", None, host_s_per_launch=30e-6)
    rows = [row_of(c, 1 / truth.seconds_per_token(c, H200)) for c in PLAIN]
    again = dict(rows[-1], provenance={**rows[-1]["provenance"], "timestamp": "2026-01-02T00:00:00+00:00"})
    again["metrics"] = {**again["metrics"], "tokens_per_s": again["metrics"]["tokens_per_s"] * 1.3}
    meas = measurements(tmp_path, [*rows, again])
    small = predict_tokens_per_s(TrainConfig("llama-3.2-1b", micro_batch=1, seq_len=256), H200, meas)
    assert small.host_bound and "host-bound" in small.model
    assert "moved by up to 30% (1 configuration)" in small.model  # one repeat: no range
    large = predict_tokens_per_s(TrainConfig("qwen2.5-7b"), H200, meas)
    assert not large.host_bound and "kernel launches take" not in large.model


def test_the_fused_base_weights_count_where_every_member_of_a_group_is_adapted():
    h, i, kv = TUNED.shape.hidden_size, TUNED.shape.intermediate_size, TUNED.shape.num_kv_heads * 128
    per_layer = h * (h + 2 * kv) + h * 2 * i  # q, k, v and gate, up (in × out), bf16
    expected = per_layer * 2 * TUNED.shape.num_layers / 2**30
    assert reserved_features(TUNED)[-1] == pytest.approx(expected)
    assert (
        reserved_features(TUNED.with_(targets=("q_proj", "v_proj")))[-1] == 0
    )  # k is no LoRA layer: not fused
    assert reserved_features(TUNED.with_(method="qlora"))[-1] == 0  # NF4 bases are not concatenated
    assert reserved_features(TUNED.with_(profile="plain"))[-1] == 0
