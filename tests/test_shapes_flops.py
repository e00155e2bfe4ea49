"""Parameter counts and FLOPs against references: the released models' published sizes and real modules."""

from __future__ import annotations

import pytest

from core.flops import train_flops_per_token
from core.shapes import get_shape, load_shapes, lora_params


@pytest.mark.parametrize(
    "name, billions",
    [
        ("llama-3.1-8b", 8.030),
        ("llama-3.2-1b", 1.236),
        ("llama-3.2-3b", 3.213),
        ("llama-3.1-70b", 70.554),
        ("mistral-7b", 7.248),
        ("qwen2.5-7b", 7.616),
        ("qwen2.5-72b", 72.706),
    ],
)
def test_total_params_match_published_sizes(name, billions):
    assert get_shape(name).total_params() / 1e9 == pytest.approx(billions, abs=0.002)


@pytest.mark.parametrize("name", ["tiny-llama", "tiny-qwen2", "tiny-mistral", "llama-3.1-8b", "qwen2.5-7b"])
def test_total_params_equal_the_built_model(name):
    import torch
    from transformers import AutoModelForCausalLM

    from benchmarks.models import hf_config

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(hf_config(get_shape(name)))
    assert sum(p.numel() for p in model.parameters()) == get_shape(name).total_params()


def test_lora_params_by_hand():
    # Llama-3.1-8B, r16 on q and v: 32 layers × 16 × ((4096+4096) + (4096+1024))
    assert lora_params(get_shape("llama-3.1-8b"), 16, ["q_proj", "v_proj"]) == 32 * 16 * (8192 + 5120)
    # all-linear: 41,943,040 (peft's own count on the H200 rows)
    assert lora_params(get_shape("llama-3.1-8b"), 16, "all-linear") == 41_943_040


def test_flops_terms():
    shape = get_shape("llama-3.1-8b")
    lora = train_flops_per_token(shape, "lora", 2048, rank=16)
    full = train_flops_per_token(shape, "full", 2048)
    ckpt = train_flops_per_token(shape, "lora", 2048, grad_checkpointing=True, rank=16)
    n = shape.matmul_params()
    attn = 2 * 32 * 2048 * 4096
    assert full == 6 * n + 3 * attn
    assert lora == 4 * n + 3 * attn + 6 * 41_943_040
    assert ckpt - lora == 2 * n + attn


def test_every_catalog_shape_loads():
    shapes = load_shapes()
    for name in (
        "llama-3.2-1b",
        "llama-3.2-3b",
        "llama-3.1-8b",
        "llama-3.1-70b",
        "mistral-7b",
        "qwen2.5-7b",
        "qwen2.5-14b",
        "qwen2.5-32b",
        "qwen2.5-72b",
    ):
        assert name in shapes
