"""Projections that share an input, fused (benchmarks/lora_fused.py), against peft's own forward on a tiny
model on the CPU: outputs for one adapter, for a batch over several, for a merged model, compiled with
fullgraph, and gradients for training. fp32 agrees to rounding; bf16 within bf16's rounding."""

from __future__ import annotations

import pytest
import torch

from benchmarks.adapters import add_random_adapter
from benchmarks.infer import build_base
from benchmarks.infer_ops import prompts
from benchmarks.lora_fused import (
    BF16_COMPUTE,
    FUSED_BASE,
    FUSED_LORA,
    find_groups,
    fuse_shared_inputs,
    install_training,
    refresh,
)
from benchmarks.lora_serve import install_batched, install_lean, lora_linears, set_rows
from benchmarks.measure import tensor_gib
from benchmarks.models import build_model
from benchmarks.spec import TrainSpec
from benchmarks.train import attach_method, prepare
from benchmarks.tuned import compile_layers
from tests.test_lora_serve import NAMES, ROWS, cuda_adapters, model_with_adapters, rel_diff, tiny

TOLERANCES = ((torch.float32, "fp32", 1e-5), (torch.bfloat16, "bf16", 2e-2))


def grouped_members(model) -> list[torch.nn.Module]:
    return [getattr(parent, n) for parent, names in find_groups(model, lora=True) for n in names]


def forbid_unfused(model) -> None:
    """Make a grouped member's own forward fail: a test passing through it was not fused."""

    def unfused(*args, **kwargs):
        raise AssertionError("the unfused path ran")

    for member in grouped_members(model) or [m for m in model.modules() if "unfused_forward" in m.__dict__]:
        member.unfused_forward = unfused


@torch.no_grad()
def test_one_adapter_fused_equals_peft_and_takes_the_fused_path():
    for dtype, dtype_name, tol in TOLERANCES:
        model = model_with_adapters(["a0"], dtype_name)
        ids = prompts(3, 12, 256, "cpu", seed=2)
        reference = model(input_ids=ids).logits
        install_lean(model, "a0", dtype)
        counts = fuse_shared_inputs(model, "lean", ["a0"], dtype)
        # 2 layers × (q,k,v and gate,up), and A folded into the base matmul there and in o_proj, down_proj
        assert counts == {"lora_fused": 4, "base_fused": 4, "folded": 8}
        forbid_unfused(model)
        singles = [m for m in lora_linears(model) if m.forward.__func__.__name__ == "_single_forward"]
        assert len(singles) == 4  # o_proj and down_proj of both layers
        assert rel_diff(model(input_ids=ids).logits, reference) < tol, dtype_name
        assert all(m.fused_in is None and m.fused_out is None for m in grouped_members(model))


@torch.no_grad()
def test_biased_projections_fold_and_fuse_like_the_others():
    model, _ = build_base(tiny(model="tiny-qwen2", mode="dynamic", task="decode", dtype="fp32"))
    model = add_random_adapter(model, "a0", rank=4, alpha=8, targets="all-linear", seed=3)
    assert model.get_base_model().model.layers[0].self_attn.q_proj.base_layer.bias is not None
    ids = prompts(2, 12, 256, "cpu", seed=7)
    reference = model(input_ids=ids).logits
    install_lean(model, "a0", torch.float32)
    assert fuse_shared_inputs(model, "lean", ["a0"], torch.float32)["folded"] > 0
    assert rel_diff(model(input_ids=ids).logits, reference) < 1e-5


@torch.no_grad()
def test_a_batch_over_several_adapters_fused_equals_peft_adapter_names():
    for dtype, dtype_name, tol in TOLERANCES:
        model = model_with_adapters(NAMES, dtype_name, ranks=[4, 8, 2])  # unequal ranks: padded stacks
        ids = prompts(len(ROWS), 12, 256, "cpu", seed=0)
        reference = model(input_ids=ids, adapter_names=ROWS).logits
        install_batched(model, NAMES, ROWS, dtype)
        counts = fuse_shared_inputs(model, "batched", NAMES, dtype)
        assert counts == {"lora_fused": 4, "base_fused": 4, "folded": 0}  # one A per row: nothing to fold
        forbid_unfused(model)
        assert rel_diff(model(input_ids=ids).logits, reference) < tol, dtype_name
        other = ["a1", "a1", "a0", "a2", "a0"]
        set_rows(model, other)  # the rows' adapters change in place and the fused path follows
        expected = model_with_adapters(NAMES, dtype_name, ranks=[4, 8, 2])(input_ids=ids, adapter_names=other)
        assert rel_diff(model(input_ids=ids).logits, expected.logits) < tol, dtype_name


@torch.no_grad()
def test_merged_projections_fused_equal_the_unfused_model_without_a_second_copy():
    for _, dtype_name, tol in TOLERANCES:
        model = model_with_adapters(["a0"], dtype_name).merge_and_unload()
        ids = prompts(2, 12, 256, "cpu", seed=4)
        reference = model(input_ids=ids).logits
        before_gib = tensor_gib(model)
        assert fuse_shared_inputs(model, "base") == {"lora_fused": 0, "base_fused": 4, "folded": 0}
        assert tensor_gib(model) == before_gib  # the members' weights are views of the fused one
        attn = model.model.layers[0].self_attn
        assert (
            attn.q_proj.weight.untyped_storage().data_ptr() == attn.fused_weight.untyped_storage().data_ptr()
        )
        forbid_unfused(model)
        assert rel_diff(model(input_ids=ids).logits, reference) < tol / 10, dtype_name


@torch.no_grad()
def test_a_member_called_with_another_input_runs_unfused():
    model = model_with_adapters(["a0"], "fp32")
    install_lean(model, "a0", torch.float32)
    fuse_shared_inputs(model, "lean", ["a0"], torch.float32)
    attn = model.get_base_model().model.layers[0].self_attn
    x = torch.randn(1, 3, 64)
    expected = attn.k_proj.base_layer(x) + attn.k_proj.lora_B["a0"](attn.k_proj.lora_A["a0"](x)) * 2.0
    torch.testing.assert_close(attn.k_proj(x), expected)


@torch.no_grad()
def test_the_fused_step_compiles_into_one_graph_with_the_eager_outputs():
    from torch._dynamo.utils import counters

    model = model_with_adapters(["a0"], "fp32")
    install_lean(model, "a0", torch.float32)
    fuse_shared_inputs(model, "lean", ["a0"], torch.float32)
    ids = prompts(2, 12, 256, "cpu", seed=5)
    eager = model(input_ids=ids).logits
    torch._dynamo.reset()
    counters.clear()
    compiled = torch.compile(model.get_base_model().forward, fullgraph=True, backend="aot_eager")
    for _ in range(2):  # the second call reuses the graph: nothing is left on the members between calls
        assert rel_diff(compiled(input_ids=ids).logits, eager) < 1e-6
    assert counters["stats"]["unique_graphs"] == 1
    assert all(m.fused_in is None for m in grouped_members(model))


@torch.no_grad()
def test_refresh_rebuilds_the_serving_copy_only_when_peft_weights_changed():
    model = model_with_adapters(["a0"], "fp32")
    ids = prompts(2, 12, 256, "cpu", seed=6)
    with model.disable_adapter():
        base = model(input_ids=ids).logits
    install_lean(model, "a0", torch.float32)
    fuse_shared_inputs(model, "lean", ["a0"], torch.float32)
    before = model(input_ids=ids).logits
    assert refresh(model) == 0
    for layer in lora_linears(model):
        layer.lora_B["a0"].weight.zero_()  # the adapter now changes nothing...
    assert rel_diff(base, before) > 1e-3
    assert refresh(model) == 8  # ...once the copies are rebuilt: four groups, four o_proj and down_proj
    assert rel_diff(model(input_ids=ids).logits, base) < 1e-5


def lora_model(dtype: str):
    torch.manual_seed(0)
    model, _ = build_model("tiny-llama", "bf16", "cpu", seed=0)
    model = model.float() if dtype == "fp32" else model
    spec = TrainSpec(model="tiny-llama", method="lora", rank=4, device="cpu", micro_batch=2, seq_len=16)
    model = attach_method(model, spec)
    with torch.no_grad():  # peft starts B at zero; a non-zero B makes every gradient non-trivial
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.1)
    return model


def gradients(model) -> dict[str, torch.Tensor]:
    ids = torch.randint(0, 256, (2, 16), generator=torch.Generator().manual_seed(1))
    model.zero_grad()
    model(input_ids=ids, labels=ids).loss.backward()
    return {n: p.grad.float().clone() for n, p in model.named_parameters() if p.requires_grad}


def worst(grads: dict, reference: dict) -> float:
    return max(float((grads[k] - reference[k]).norm() / reference[k].norm()) for k in reference)


def test_training_gradients_equal_peft_in_fp32_and_peft_under_bf16_autocast_in_bf16():
    fp32 = gradients(lora_model("fp32"))
    fused = lora_model("fp32")
    assert install_training(fused, None) == [FUSED_LORA, FUSED_BASE]  # the adapters' own dtype: peft's maths
    assert worst(gradients(fused), fp32) < 1e-5
    # bf16 compute with fp32 weights is what torch.autocast makes of peft's forward; bf16 moves the gradients
    # of this tiny random model by 10-20% from fp32's, the fused path by 1% from autocast's
    reference = lora_model("bf16")
    with torch.autocast("cpu", dtype=torch.bfloat16):
        autocast = gradients(reference)
    fused = lora_model("bf16")
    assert install_training(fused, torch.bfloat16) == [FUSED_LORA, FUSED_BASE, BF16_COMPUTE]
    assert all(p.dtype == torch.float32 for n, p in fused.named_parameters() if p.requires_grad)
    assert worst(gradients(fused), autocast) < 3e-2 < worst(autocast, fp32)
    compile_layers(fused.get_base_model(), backend="aot_eager")
    assert worst(gradients(fused), autocast) < 3e-2


def test_training_with_dropout_keeps_peft_forward_and_says_why():
    spec = TrainSpec(
        model="tiny-llama",
        method="lora",
        device="cpu",
        micro_batch=2,
        seq_len=16,
        profile="tuned",
        dropout=0.1,
    )
    model, _, built = prepare(spec)
    assert FUSED_LORA not in built["tuned_applied"]
    assert any("dropout" in reason for reason in built["tuned_skipped"])
    assert not any("unfused_forward" in m.__dict__ for m in model.modules())


@pytest.mark.gpu
@pytest.mark.parametrize("n_adapters", [1, 3])
def test_fused_paths_on_cuda_match_peft(n_adapters):
    model, names, rows, ids, reference = cuda_adapters(n_adapters)
    with torch.no_grad():
        if n_adapters > 1:
            install_batched(model, names, rows)
            fuse_shared_inputs(model, "batched", names)
        else:
            install_lean(model, names[0])
            fuse_shared_inputs(model, "lean", names)
        forbid_unfused(model)
        assert rel_diff(model(input_ids=ids).logits, reference) < 2e-2
