"""The tuned profile's adapter paths (benchmarks/lora_serve.py) against peft's own: the lean one-adapter
forward against peft's forward, the batched gather against peft's `adapter_names` path, on a tiny model on
the CPU (and through the isolated runner on CUDA where it exists)."""

from __future__ import annotations

import pytest
import torch

from benchmarks.adapters import add_random_adapter
from benchmarks.infer import build_base, run_infer
from benchmarks.infer_ops import generate_once, prompts
from benchmarks.infer_spec import InferSpec
from benchmarks.lora_fused import FOLDED_A, FUSED_BASE, FUSED_LORA
from benchmarks.lora_serve import (
    BATCHED,
    LEAN,
    install_batched,
    install_lean,
    lora_linears,
    refresh,
    set_rows,
)
from benchmarks.runner import run_isolated
from benchmarks.suites import Entry
from core.errors import InputError
from core.rows import validate_row

NAMES = ["a0", "a1", "a2"]
ROWS = ["a0", "a2", "a1", "a0", "a2"]


def tiny(**values) -> InferSpec:
    base = {"model": "tiny-llama", "device": "cpu", "rank": 4, "alpha": 8, "prompt_len": 12, "new_tokens": 6}
    return InferSpec(**{**base, **values})


def model_with_adapters(names: list[str], dtype: str = "bf16", ranks: list[int] | None = None):
    model, _ = build_base(tiny(mode="dynamic", task="decode", dtype=dtype))
    for i, name in enumerate(names):
        rank = ranks[i] if ranks else 4
        model = add_random_adapter(model, name, rank=rank, alpha=2 * rank, targets="all-linear", seed=10 + i)
    return model


def rel_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.float() - b.float()).norm() / b.float().norm())


@torch.no_grad()
def test_the_batched_gather_equals_peft_adapter_names_in_fp32_exactly_and_in_bf16_within_rounding():
    for dtype, dtype_name, tol in ((torch.float32, "fp32", 1e-5), (torch.bfloat16, "bf16", 2e-2)):
        model = model_with_adapters(NAMES, dtype_name, ranks=[4, 8, 2])  # unequal ranks: zero-padded stacks
        ids = prompts(len(ROWS), 12, 256, "cpu", seed=0)
        reference = model(input_ids=ids, adapter_names=ROWS).logits
        assert install_batched(model, NAMES, ROWS, dtype) == len(lora_linears(model)) > 0
        batched = model(input_ids=ids).logits
        assert rel_diff(batched, reference) < tol, dtype_name
        model.set_adapter("a1")  # the rows differ by adapter: the comparison is not trivial
        install_lean(model, "a1", dtype)
        assert rel_diff(model(input_ids=ids).logits[0], reference[0]) > 5 * tol


@torch.no_grad()
def test_the_lean_path_equals_peft_for_one_adapter_within_bf16_rounding():
    model = model_with_adapters(["a0"])
    ids = prompts(3, 12, 256, "cpu", seed=2)
    reference = model(input_ids=ids).logits  # peft: fp32 adapter weights, dtype round trips
    install_lean(model, "a0")
    lean = model(input_ids=ids).logits
    assert rel_diff(lean, reference) < 2e-2
    assert all(layer.lora_A["a0"].weight.dtype == torch.bfloat16 for layer in lora_linears(model))


@torch.no_grad()
def test_batched_generation_equals_peft_mixed_generation_and_rows_can_change_in_place():
    model = model_with_adapters(NAMES, "fp32")
    ids = prompts(len(ROWS), 12, 256, "cpu", seed=1)
    reference = generate_once(model, ids, 6, static=False, device="cpu", adapter_names=ROWS)["tokens"]
    install_batched(model, NAMES, ROWS, torch.float32)
    index = lora_linears(model)[0].serve_rows
    assert torch.equal(generate_once(model, ids, 6, static=True, device="cpu")["tokens"], reference)
    other = ["a1", "a1", "a0", "a2", "a0"]
    set_rows(model, other)
    assert lora_linears(model)[0].serve_rows is index  # same tensor, new contents (a captured graph reads it)
    again = generate_once(model, ids, 6, static=False, device="cpu")["tokens"]
    for i, name in enumerate(other):
        install_lean(model, name, torch.float32)
        alone = generate_once(model, ids[i : i + 1], 6, static=False, device="cpu")["tokens"]
        assert torch.equal(again[i], alone[0])


@torch.no_grad()
def test_refresh_picks_up_changed_adapter_weights_and_bad_rows_are_refused():
    model = model_with_adapters(["a0", "a1"], "fp32")
    install_batched(model, ["a0", "a1"], ["a0", "a1"], torch.float32)
    ids = prompts(2, 12, 256, "cpu", seed=3)
    before = model(input_ids=ids).logits
    for layer in lora_linears(model):
        layer.lora_B["a1"].weight.zero_()  # a1 now changes nothing
    refresh(model, torch.float32)
    after = model(input_ids=ids).logits
    torch.testing.assert_close(after[0], before[0])
    assert not torch.allclose(after[1], before[1])
    with pytest.raises(ValueError, match="not installed"):
        set_rows(model, ["a0", "a9"])


def test_tuned_rows_say_what_they_applied():
    decode = run_infer(tiny(mode="dynamic", task="decode", profile="tuned", repeats=1))
    fused = [FUSED_LORA, FUSED_BASE]
    tuned = ["static_cache_generate", "lora_weights_in_compute_dtype", LEAN, *fused, FOLDED_A]
    assert decode["tuned_applied"] == tuned
    mixed = run_infer(tiny(mode="dynamic", task="mixed", profile="tuned", batch=4, n_adapters=2, repeats=1))
    assert mixed["tuned_applied"] == ["static_cache_generate", BATCHED, *fused] and mixed["ms_per_token"] > 0
    prefill = run_infer(tiny(mode="dynamic", task="prefill", profile="tuned", repeats=1))
    assert prefill["tuned_applied"] == tuned[1:]
    assert "compiled" not in prefill
    merged = run_infer(tiny(mode="merged", task="decode", profile="tuned", repeats=1))
    assert merged["tuned_applied"] == ["static_cache_generate", FUSED_BASE]


def test_a_memory_cap_is_checked_and_left_out_of_the_hash_when_absent():
    assert "memory_cap_gib" not in tiny(mode="base", task="decode").to_dict()
    with pytest.raises(InputError, match="memory_cap_gib"):
        tiny(mode="base", task="decode", memory_cap_gib=40.0)  # a CPU spec: no CUDA allocator to cap
    with pytest.raises(InputError, match="memory_cap_gib"):
        tiny(mode="base", task="decode", device="cuda", memory_cap_gib=-1)
    assert (
        tiny(mode="base", task="decode", device="cuda", memory_cap_gib=43.9).to_dict()["memory_cap_gib"]
        == 43.9
    )


def cuda_adapters(n_adapters: int):
    """A tiny model on CUDA with `n_adapters` random adapters, six prompts spread over them, and peft's own
    logits for them: (model, adapter names, per-row adapter, prompt ids, reference logits)."""
    model, _ = build_base(tiny(mode="dynamic", task="decode", device="cuda"))
    names = [f"a{i}" for i in range(n_adapters)]
    for i, name in enumerate(names):
        model = add_random_adapter(model, name, rank=4, alpha=8, targets="all-linear", seed=i)
    rows = [names[i % n_adapters] for i in range(6)]
    ids = prompts(6, 12, 256, "cuda", seed=0)
    with torch.no_grad():
        reference = model(input_ids=ids, adapter_names=rows).logits
    return model, names, rows, ids, reference


@pytest.mark.gpu
@pytest.mark.parametrize("n_adapters", [1, 3])
def test_the_batched_gather_on_cuda_matches_peft(n_adapters):
    model, names, rows, ids, reference = cuda_adapters(n_adapters)
    with torch.no_grad():
        install_batched(model, names, rows) if n_adapters > 1 else install_lean(model, names[0])
        assert rel_diff(model(input_ids=ids).logits, reference) < 2e-2


@pytest.mark.gpu
@pytest.mark.slow
def test_tuned_mixed_batch_compiles_on_cuda():
    spec = tiny(device="cuda", mode="dynamic", task="mixed", profile="tuned", batch=4, n_adapters=2, warmup=2)
    row = validate_row(run_isolated(Entry(kind="infer", name="gpu", spec=spec, timeout_s=300)))
    assert row["status"] == "ok", row["error"]
    assert row["metrics"]["compiled"] is True and BATCHED in row["metrics"]["tuned_applied"]
