"""The tuned training profile: compiled decoder layers on the CPU (inductor's C++ backend), Liger kernels on
CUDA only, and honest reporting of what was applied."""

from __future__ import annotations

import sys

import pytest

from benchmarks.lora_fused import BF16_COMPUTE, FUSED_BASE, FUSED_LORA
from benchmarks.runner import run_isolated
from benchmarks.suites import load_suite
from core.errors import InputError
from core.rows import validate_row
from core.vocab import TUNED_BASE_RELEASED
from tests.helpers import TINY, tiny_entry

LIGER_ON_CPU = "liger: Triton GPU kernels, not used on the CPU"
LR = 1e-2  # the tiny model learns the synthetic pattern at this rate: the loss moves within a few steps


def _plain_losses(spec_values: dict) -> list[float]:
    """The plain profile's losses step by step, in this process, through the benchmark's own code."""
    from benchmarks.data import PatternBatches
    from benchmarks.spec import TrainSpec
    from benchmarks.train import prepare, train_step
    from core.shapes import get_shape

    spec = TrainSpec(**{**spec_values, "profile": "plain"})
    model, optimizer, _ = prepare(spec)
    vocab = get_shape(spec.model).vocab_size
    batches = PatternBatches(spec.micro_batch, spec.seq_len, vocab, spec.device, spec.seed)
    return [train_step(model, optimizer, batches, 1) for _ in range(spec.warmup_steps + spec.measure_steps)]


@pytest.fixture(scope="module")
def tuned_lora_row():
    return validate_row(run_isolated(tiny_entry("tuned-lora", profile="tuned", lr=LR, measure_steps=3)))


def test_tuned_row_says_what_was_applied_on_the_cpu(tuned_lora_row):
    row = tuned_lora_row
    assert row["status"] == "ok", row["error"]
    m = row["metrics"]
    # no Liger on the CPU, whether or not it is installed; q,k,v and gate,up fused, adapters computed in bf16
    assert m["tuned_applied"] == ["compile_layers", FUSED_LORA, FUSED_BASE, BF16_COMPUTE]
    assert m["tuned_skipped"] == [LIGER_ON_CPU]
    # both decoder layers run one compiled graph: compile time does not grow with depth
    assert m["compiled_graphs"] == 1
    assert m["compile_fallback_frames"] == 0 and m["compile_graph_breaks"] == 0
    assert m["compile_warning"] is None
    assert m["first_step_s"] > 0 and m["tokens_per_s"] > 0


def test_compiled_layers_compute_what_the_plain_model_computes(tuned_lora_row):
    m = tuned_lora_row["metrics"]
    plain = _plain_losses({**TINY, "lr": LR, "measure_steps": 3})
    # Dropping one sub-layer of this model moves its first loss by about 3e-3; bf16 rounding in the compiled
    # kernels by about 3e-5. The last loss (after 3 updates) checks the compiled backward too.
    assert m["loss_first"] == pytest.approx(plain[0], abs=5e-4)
    drop = plain[0] - plain[-1]
    assert drop > 0.005
    assert abs(m["loss_last"] - plain[-1]) < 0.2 * drop


@pytest.fixture
def fresh_dynamo():
    import torch._dynamo
    from torch._dynamo.utils import counters

    torch._dynamo.reset()
    counters.clear()
    yield counters
    torch._dynamo.reset()
    counters.clear()


def test_nf4_layers_trace_into_one_graph_with_the_same_loss_and_gradients(fresh_dynamo):
    """QLoRA under compile: bitsandbytes' 4-bit matmul traces as a torch op (AOT autograd, no graph break).
    aot_eager runs the traced graphs without inductor's code generation, which the CPU run above covers."""
    import torch

    from benchmarks.data import PatternBatches
    from benchmarks.models import build_model
    from benchmarks.spec import TrainSpec
    from benchmarks.train import _attach_lora
    from benchmarks.tuned import compile_layers

    spec = TrainSpec(**{**TINY, "method": "qlora"})
    model, _ = build_model(spec.model, "nf4", "cpu")
    assert compile_layers(model, backend="aot_eager") == 2
    model = _attach_lora(model, spec)
    model.train()
    for p in model.parameters():  # non-zero B, so that every LoRA factor gets a gradient
        if p.requires_grad:
            torch.nn.init.normal_(p, std=0.02)
    ids, labels = next(PatternBatches(spec.micro_batch, spec.seq_len, 256, "cpu", spec.seed))

    def loss_and_grads():
        model.zero_grad(set_to_none=True)
        loss = model(input_ids=ids, labels=labels).loss
        loss.backward()
        return loss.item(), [p.grad.clone() for p in model.parameters() if p.requires_grad]

    with torch.compiler.set_stance("force_eager"):
        eager_loss, eager_grads = loss_and_grads()
    compiled_loss, compiled_grads = loss_and_grads()
    assert fresh_dynamo["stats"]["unique_graphs"] == 1
    assert sum(fresh_dynamo["graph_break"].values()) == 0
    assert compiled_loss == pytest.approx(eager_loss, abs=1e-5)
    for eager, compiled in zip(eager_grads, compiled_grads, strict=True):
        torch.testing.assert_close(compiled, eager, rtol=1e-3, atol=1e-6)


def test_layers_that_fail_to_compile_run_eagerly_and_are_not_reported_as_compiled(fresh_dynamo, monkeypatch):
    import torch
    import torch._dynamo

    from benchmarks.data import PatternBatches
    from benchmarks.tuned import compile_layers, compile_outcome, eager_on_compile_error

    def refusing_backend(gm, example_inputs):
        raise RuntimeError("this backend compiles nothing")

    monkeypatch.setattr(torch._dynamo.config, "suppress_errors", False)  # put back after the test
    model = _tiny_llama()
    compile_layers(model, backend=refusing_backend)
    eager_on_compile_error()
    ids, labels = next(PatternBatches(2, 32, 256, "cpu", 0))
    loss = model(input_ids=ids, labels=labels).loss
    assert torch.isfinite(loss)
    out = compile_outcome({"tuned_applied": ["liger_rope", "compile_layers"], "tuned_skipped": []})
    assert out["compiled_graphs"] == 0 and out["compile_fallback_frames"] >= 1
    assert "this backend compiles nothing" in out["compile_warning"]
    assert out["tuned_applied"] == ["liger_rope"]
    (reason,) = out["tuned_skipped"]
    assert reason.startswith("compile_layers: nothing compiled")


def _tiny_llama():
    from benchmarks.models import build_model

    return build_model("tiny-llama", "bf16", "cpu")[0]


def test_liger_is_left_out_cleanly_where_liger_kernel_is_absent(monkeypatch):
    from benchmarks.tuned import apply_liger, liger_applied

    for name in ("liger_kernel", "liger_kernel.transformers", "liger_kernel.transformers.monkey_patch"):
        monkeypatch.setitem(sys.modules, name, None)  # `import` raises ImportError, installed or not
    model = _tiny_llama()
    applied, reasons = apply_liger(model, "cuda")
    assert applied == [] and liger_applied(model) == []
    assert len(reasons) == 1 and reasons[0].startswith("liger: liger_kernel does not import (")
    assert "forward" not in model.__dict__  # the model's own forward, untouched


def test_liger_is_not_tried_on_the_cpu():
    from benchmarks.tuned import apply_liger

    model = _tiny_llama()
    assert apply_liger(model, "cpu") == ([], [LIGER_ON_CPU])
    assert "forward" not in model.__dict__


def test_tuned_spec_rules():
    entry = tiny_entry("ok", profile="tuned")
    assert entry.spec.profile == "tuned"
    with pytest.raises(InputError, match="warmup_steps"):
        tiny_entry("no-warm-up", profile="tuned", warmup_steps=0)
    with pytest.raises(InputError, match="profile"):
        tiny_entry("sharded", profile="tuned", num_gpus=2)


def test_h200_tuned_suite_is_tuned_and_warms_up():
    entries = load_suite("h200-tuned", "train")
    assert {e.spec.method for e in entries} == {"lora", "qlora"}
    for e in entries:
        assert e.spec.profile == "tuned" and e.spec.device == "cuda" and e.spec.num_gpus == 1
        assert e.spec.warmup_steps >= 2, e.name  # the first warm-up step compiles


@pytest.mark.gpu
def test_tuned_on_cuda_applies_liger_where_installed_and_keeps_the_loss():
    import importlib.util

    values = {
        "model": "llama-3.2-1b",
        "device": "cuda",
        "micro_batch": 2,
        "seq_len": 512,
        "warmup_steps": 2,
        "measure_steps": 3,
        "timeout_s": 300,
    }
    tuned = validate_row(run_isolated(tiny_entry("gpu-tuned", profile="tuned", **values)))
    plain = validate_row(run_isolated(tiny_entry("gpu-plain", **values)))
    assert tuned["status"] == "ok", tuned["error"]
    assert plain["status"] == "ok", plain["error"]
    m = tuned["metrics"]
    assert "compile_layers" in m["tuned_applied"] and m["compiled_graphs"] >= 1
    if importlib.util.find_spec("liger_kernel") is not None:
        liger = ["liger_rope", "liger_rms_norm", "liger_swiglu", "liger_fused_linear_cross_entropy"]
        fused = [FUSED_LORA, FUSED_BASE, BF16_COMPUTE, TUNED_BASE_RELEASED]
        assert m["tuned_applied"] == [*liger, "compile_layers", *fused], m["tuned_skipped"]
    assert m["loss_first"] == pytest.approx(plain["metrics"]["loss_first"], rel=1e-2)
