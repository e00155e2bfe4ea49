"""Peak training memory: golden numbers worked by hand, monotonicity properties, the fitted overhead, and a
measured row replacing the prediction."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from test_planner_fixtures import measurements, train_row

from planner.catalog import load_catalog
from planner.config import TrainConfig
from planner.measured import empty_measurements
from planner.memory import DEFAULT_OVERHEAD_GIB, fit_overhead, predict_memory
from planner.memory_terms import GIB, memory_components, memory_terms, weight_bytes
from planner.reserved import fit_reserved, reserved_features, reserved_gib


def test_tiny_llama_lora_by_hand():
    # tiny-llama: hidden 64, 2 layers, 4 heads (head_dim 16), 2 KV heads (kv dim 32), intermediate 128,
    # vocabulary 256, untied. LoRA r=2 on all linears, batch 2 × seq 8 = 16 tokens, no checkpointing.
    # Parameters: per layer q 64·64 + k 64·32 + v 64·32 + o 64·64 + gate/up/down 3·64·128 = 36 864;
    # 2 layers 73 728 + embeddings 16 384 + lm_head 16 384 + norms 5·64 = 320  ->  106 816, bf16: 213 632 B.
    # LoRA: r·(in+out): q 256, k 192, v 192, o 256, gate 384, up 384, down 384 = 2 048 per layer -> 4 096.
    # adapter fp32: 16 384 B; AdamW m and v fp32: 32 768 B; gradients 16 384 B (not alive at the peak).
    # Per layer per token: norms 2·4·64 = 512; attention q, out 2·2·64 + k, v 2·2·32 = 384; MLP 6·128 = 768;
    # LoRA fp32 inputs 4·(6·64 + 128) = 2 048 and lora_A outputs 7·4·2 = 56  ->  3 768 B.
    # Kept: 16 tokens × (2 · 3 768 + final norm 4·64) = 16 · 7 792 = 124 672 B.
    # Logits: 16 × 256 × 12 = 49 152 B.
    cfg = TrainConfig("tiny-llama", "lora", rank=2, micro_batch=2, seq_len=8)
    terms = memory_terms(cfg)
    assert terms["weights_gib"] * GIB == 213_632
    assert terms["adapter_gib"] * GIB == 16_384
    assert terms["optimizer_gib"] * GIB == 32_768
    assert terms["activations_gib"] * GIB == 124_672
    assert terms["logits_gib"] * GIB == 49_152
    assert terms["gradients_gib"] == 0
    assert memory_components(cfg)["gradients_gib"] * GIB == 16_384
    pred = predict_memory(cfg)
    assert pred.basis == "projected" and "default" in pred.model
    assert pred.peak_allocated_gib == pytest.approx(436_608 / GIB + DEFAULT_OVERHEAD_GIB)
    assert sum(pred.breakdown.values()) == pytest.approx(pred.peak_allocated_gib)


def test_tiny_llama_full_and_checkpointing_by_hand():
    # Full fine-tuning of tiny-llama: bf16 weights 2 B + AdamW m, v in bf16 4 B per parameter, gradients 2 B.
    # Full per layer per token: norms 2·(4·64 + 2·64) = 768; attention 384; MLP 6·128 = 768; linear inputs
    # 2·64 + 2·64 + 2·128 = 512  ->  2 432 B; the final norm keeps 2·4·64 = 512 B.
    small = memory_terms(TrainConfig("tiny-llama", "full", micro_batch=2, seq_len=8))
    assert small["weights_gib"] * GIB == 2 * 106_816
    assert small["optimizer_gib"] * GIB == 4 * 106_816
    # 16 tokens: start of backward 16·(2·2 432 + 512) + logits 16·256·12 = 86 016 + 49 152 = 135 168 B;
    # end of backward: gradients 213 632 + first layer 16·2 432 = 38 912 -> 252 544 B, the larger: the peak.
    assert small["gradients_gib"] * GIB == 213_632
    assert small["activations_gib"] * GIB == 38_912 and small["logits_gib"] == 0
    # 512 tokens: start of backward 512·5 376 + 512·256·12 = 2 752 512 + 1 572 864 B is the larger.
    big = memory_terms(TrainConfig("tiny-llama", "full", micro_batch=8, seq_len=64))
    assert big["activations_gib"] * GIB == 2_752_512 and big["logits_gib"] * GIB == 1_572_864
    assert big["gradients_gib"] == 0
    # With checkpointing (LoRA r=2, 512 tokens): kept = 512 · (2 layers · 2·64 + 256) = 262 144; the
    # recomputed layer, 512 · 3 768 = 1 929 216 B, is larger than the logits (1 572 864 B), so it is the extra
    # term; the end of backward (gradients 16 384 + 1 929 216) is smaller.
    ckpt = memory_terms(
        TrainConfig("tiny-llama", "lora", rank=2, micro_batch=8, seq_len=64, grad_checkpointing=True)
    )
    assert ckpt["activations_gib"] * GIB == 262_144 + 1_929_216
    assert ckpt["logits_gib"] == 0 and ckpt["gradients_gib"] == 0


def test_llama_8b_qlora_weights_by_hand():
    # Decoder linears: 32 · (2·4096² + 2·4096·1024 + 3·4096·14336) = 6 979 321 856 parameters in NF4 at
    # 0.516 B; embeddings + lm_head 2 · 128 256 · 4096 = 1 050 673 152 and norms 65 · 4096 = 266 240 in bf16.
    expected = 6_979_321_856 * 0.516 + (1_050_673_152 + 266_240) * 2
    assert weight_bytes(TrainConfig("llama-3.1-8b", "qlora")) == pytest.approx(expected)
    assert weight_bytes(TrainConfig("llama-3.1-8b", "lora")) == 8_030_261_248 * 2


def test_sharding_divides_the_sharded_terms():
    one = memory_components(TrainConfig("llama-3.1-70b", "lora", micro_batch=1))
    four = memory_components(
        TrainConfig("llama-3.1-70b", "lora", micro_batch=1, num_gpus=4, sharding="full_shard")
    )
    layer = one["weights_gib"] / 80
    assert four["weights_gib"] == pytest.approx(one["weights_gib"] / 4 + 2 * layer)
    assert four["optimizer_gib"] == pytest.approx(one["optimizer_gib"] / 4)
    assert four["kept_activations_gib"] == one["kept_activations_gib"]
    grad_op = memory_components(
        TrainConfig("llama-3.1-70b", "lora", micro_batch=1, num_gpus=4, sharding="shard_grad_op")
    )
    assert grad_op["weights_gib"] == one["weights_gib"] and grad_op["optimizer_gib"] == pytest.approx(
        one["optimizer_gib"] / 4
    )


def test_fits_uses_the_gpu_memory_and_headroom():
    gpus = load_catalog().gpus
    big = TrainConfig("llama-3.1-70b", "lora", micro_batch=1, grad_checkpointing=True)
    assert predict_memory(big, gpus["H100 SXM"]).fits is False  # 141 GB of bf16 weights
    small = TrainConfig("llama-3.1-70b", "qlora", micro_batch=1, grad_checkpointing=True)
    pred = predict_memory(small, "h200")
    assert pred.fits is True and pred.headroom_gib == pytest.approx(139.81 * 0.95 - pred.peak_allocated_gib)


configs = st.builds(
    lambda model, method, rank, batch, seq, ckpt: TrainConfig(
        model, method, rank, "all-linear", batch, seq, ckpt
    ),
    st.sampled_from(["tiny-llama", "tiny-qwen2", "llama-3.2-1b", "llama-3.1-8b", "qwen2.5-7b"]),
    st.sampled_from(["lora", "qlora", "full"]),
    st.integers(1, 256),
    st.integers(1, 16),
    st.integers(1, 500),
    st.booleans(),
)


@settings(max_examples=150, deadline=None)
@given(configs, st.integers(1, 8))
def test_memory_rises_with_batch_and_sequence(cfg, step):
    peak = predict_memory(cfg).peak_allocated_gib
    assert predict_memory(cfg.with_(micro_batch=cfg.micro_batch + step)).peak_allocated_gib > peak
    assert predict_memory(cfg.with_(seq_len=cfg.seq_len + step)).peak_allocated_gib > peak


@settings(max_examples=100, deadline=None)
@given(configs, st.integers(1, 64))
def test_memory_rises_with_rank(cfg, step):
    assume(cfg.method != "full")  # full fine-tuning has no rank
    assert (
        predict_memory(cfg.with_(rank=cfg.rank + step)).peak_allocated_gib
        > predict_memory(cfg).peak_allocated_gib
    )


def test_overhead_fit_recovers_a_known_factor_and_constant(tmp_path):
    # Test rows whose peaks are built from the planner's own terms with factor 1.2 and constant 0.7 GiB.
    rows = []
    for batch, seq in [(1, 512), (2, 1024), (4, 2048), (1, 4096)]:
        t = memory_terms(TrainConfig("llama-3.1-8b", "lora", micro_batch=batch, seq_len=seq))
        peak = sum(t.values()) - t["activations_gib"] + 1.2 * t["activations_gib"] + 0.7
        rows.append(train_row(micro_batch=batch, seq_len=seq, peak_allocated_gib=peak))
    meas = measurements(tmp_path, rows)
    fit = fit_overhead(meas.gpu_train(), "plain")
    assert fit.n_rows == 4
    assert fit.activation_factor == pytest.approx(1.2) and fit.constant_gib == pytest.approx(0.7)
    assert fit.rms_error_gib == pytest.approx(0, abs=1e-9)
    other = TrainConfig("llama-3.1-8b", "lora", micro_batch=3, seq_len=1000)
    t = memory_terms(other)
    expected = sum(t.values()) + 0.2 * t["activations_gib"] + 0.7
    assert predict_memory(other, "h200", meas).peak_allocated_gib == pytest.approx(expected)


def test_cpu_rows_and_failed_rows_do_not_calibrate(tmp_path):
    rows = [
        train_row(device_name="cpu", peak_allocated_gib=999.0),
        train_row(status="oom", peak_allocated_gib=None),
    ]
    meas = measurements(tmp_path, rows)
    assert fit_overhead(meas.gpu_train()).n_rows == 0
    cfg = TrainConfig("llama-3.1-8b")
    assert (
        predict_memory(cfg, "h200", meas).peak_allocated_gib == predict_memory(cfg, "h200").peak_allocated_gib
    )


def test_a_measured_row_replaces_the_prediction_on_its_gpu_only(tmp_path):
    meas = measurements(tmp_path, [train_row(peak_allocated_gib=77.5)])
    cfg = TrainConfig("llama-3.1-8b", "lora", 16, micro_batch=4, seq_len=2048)
    on_h200 = predict_memory(cfg, "h200", meas)
    assert on_h200.basis == "measured" and on_h200.peak_allocated_gib == 77.5
    assert on_h200.breakdown["residual_gib"] == pytest.approx(
        77.5 - sum(v for k, v in on_h200.breakdown.items() if k != "residual_gib")
    )
    assert predict_memory(cfg, "a100-80gb", meas).basis == "projected"
    assert predict_memory(cfg.with_(rank=8), "h200", meas).basis == "projected"


def test_no_rows_still_answers():
    pred = predict_memory(TrainConfig("qwen2.5-72b", "qlora", micro_batch=1), "h200", empty_measurements())
    assert pred.basis == "projected" and pred.peak_allocated_gib > 0 and "no measured rows" in pred.model


def test_reserved_memory_fit_recovers_a_known_gap(tmp_path):
    # Test rows whose reserved peak is allocated + 0.4 × logits + 0.05 × activations + 0.3 × recomputed layer
    # + 0.2 × logits again where checkpointing recomputes layers.
    def gap(config):
        logits, activations, recomputed, checkpointed, _ = reserved_features(config)
        return 0.4 * logits + 0.05 * activations + 0.3 * recomputed + 0.2 * checkpointed

    # Within one model every term grows with the tokens: several models keep the three apart.
    shapes = [
        ("llama-3.1-8b", 1, 512, False),
        ("llama-3.2-1b", 4, 1024, False),
        ("llama-3.2-3b", 2, 2048, True),
        ("llama-3.1-8b", 1, 4096, True),
        ("qwen2.5-7b", 2, 1024, True),
        ("llama-3.2-3b", 8, 512, False),
    ]
    rows, configs = [], []
    for model, batch, seq, ckpt in shapes:
        configs.append(TrainConfig(model, micro_batch=batch, seq_len=seq, grad_checkpointing=ckpt))
        row = train_row(
            model, micro_batch=batch, seq_len=seq, grad_checkpointing=ckpt, peak_allocated_gib=40.0
        )
        row["metrics"]["peak_reserved_gib"] = 40.0 + gap(configs[-1])
        rows.append(row)
    meas = measurements(tmp_path, rows)
    other = TrainConfig("llama-3.1-8b", "lora", micro_batch=3, seq_len=1000)
    pred = predict_memory(other, "h200", meas)
    assert pred.reserved_basis == "projected" and "reserved fitted on 6" in pred.reserved_derivation
    assert pred.reserved_gib == pytest.approx(pred.peak_allocated_gib + gap(other))
    terms = "0.400 × logits + 0.050 × activations + 0.300 × recomputed_layer + 0.200 × checkpointed_logits"
    assert terms in pred.reserved_derivation
    # a measured row gives its own reserved peak
    measured = predict_memory(configs[2], "h200", meas)
    assert measured.reserved_basis == "measured" and measured.reserved_gib == pytest.approx(
        rows[2]["metrics"]["peak_reserved_gib"]
    )
    # without rows: the envelope of the shipped rows' gaps, said so
    bare = predict_memory(other)
    assert bare.reserved_gib == pytest.approx(reserved_gib(bare.peak_allocated_gib, "plain"))
    assert "envelope" in bare.reserved_derivation
    # a coefficient that would be negative is left out of the fit, not kept: the rows without checkpointing
    # with no gap at all, the checkpointed ones with one against the recomputed layer
    for row, config in zip(rows, configs, strict=True):
        row["metrics"]["peak_reserved_gib"] = 40.0 + 0.5 * reserved_features(config)[2]
    fit = fit_reserved(measurements(tmp_path / "neg", rows).gpu_train())
    assert min(fit.coefficients) >= 0 and fit.coefficients[2] == pytest.approx(0.5)


def test_each_allocator_mode_keeps_its_own_reserved_fit(tmp_path):
    # Test rows: the caching allocator reserves allocated + 0.5 × logits, expandable segments + 0.1 × logits.
    shapes = [("llama-3.1-8b", 1, 512), ("llama-3.2-1b", 4, 1024), ("llama-3.2-3b", 2, 2048)]
    rows = []
    for allocator, share in (("caching", 0.5), ("expandable", 0.1)):
        for model, batch, seq in shapes:
            row = train_row(model, micro_batch=batch, seq_len=seq, peak_allocated_gib=40.0)
            row["spec"]["allocator"] = allocator
            config = TrainConfig(model, micro_batch=batch, seq_len=seq)
            row["metrics"]["peak_reserved_gib"] = 40.0 + share * reserved_features(config)[0]
            rows.append(row)
    meas = measurements(tmp_path, rows)
    other = TrainConfig("llama-3.1-8b", micro_batch=2, seq_len=1024)
    logits = reserved_features(other)[0]
    for allocator, share in (("caching", 0.5), ("expandable", 0.1)):
        pred = predict_memory(other.with_(allocator=allocator), "h200", meas)
        assert pred.reserved_gib == pytest.approx(pred.peak_allocated_gib + share * logits)
    assert "expandable allocator" in predict_memory(
        other.with_(allocator="expandable"), "h200", meas
    ).model + (predict_memory(other.with_(allocator="expandable"), "h200", meas).reserved_derivation)
    # with no row of a mode, the caching allocator's fit, said so
    caching_only = measurements(tmp_path / "caching", rows[:3])
    pred = predict_memory(other.with_(allocator="expandable"), "h200", caching_only)
    assert pred.reserved_gib == pytest.approx(pred.peak_allocated_gib + 0.5 * logits)
    assert "no expandable-allocator rows" in pred.reserved_derivation
