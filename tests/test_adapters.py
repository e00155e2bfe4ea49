"""Random adapters, their round trip through disk, and the base-fingerprint check (tiny models, CPU, fp32)."""

from __future__ import annotations

import json
import warnings

import pytest
import torch

from benchmarks.adapters import (
    FINGERPRINT_FILE,
    add_random_adapter,
    check_fingerprint,
    hotswap,
    load_adapter,
    lora_layers,
    save_adapter,
)
from benchmarks.infer import run_infer
from benchmarks.infer_spec import InferSpec
from benchmarks.models import build_model, fingerprint
from benchmarks.worker import run_request
from core.errors import InputError

IDS = torch.tensor([[5, 9, 17, 33, 65, 129, 3, 7, 11, 13, 200, 255]])


def base(model: str = "tiny-llama"):
    built, _ = build_model(model, "bf16", "cpu", seed=0)
    return built.float().eval()


@torch.no_grad()
def logits(model) -> torch.Tensor:
    return model(input_ids=IDS).logits


def adapted(model: str = "tiny-llama", name: str = "a0", seed: int = 1):
    return add_random_adapter(base(model), name, rank=4, alpha=8, targets="all-linear", seed=seed)


def test_a_random_adapter_changes_the_outputs_and_merging_keeps_them():
    model = adapted()
    assert all(layer.lora_B["a0"].weight.abs().sum() > 0 for layer in lora_layers(model, "a0"))
    dynamic = logits(model)
    with model.disable_adapter():
        plain = logits(model)
    assert (dynamic - plain).abs().max() > 1e-3  # merged would not equal base
    merged = logits(model.merge_and_unload())
    torch.testing.assert_close(merged, dynamic, atol=1e-5, rtol=1e-5)


def test_random_adapters_are_reproducible_from_their_seed():
    torch.testing.assert_close(logits(adapted(seed=3)), logits(adapted(seed=3)))
    assert not torch.allclose(logits(adapted(seed=3)), logits(adapted(seed=4)))


def test_an_adapter_round_trips_through_disk(tmp_path):
    model = adapted()
    expected = logits(model)
    folder = save_adapter(model, "a0", tmp_path, fingerprint("tiny-llama"))
    assert (folder / "adapter_config.json").is_file() and (folder / "adapter_model.safetensors").is_file()
    record = json.loads((folder / FINGERPRINT_FILE).read_text())
    assert record["base"] == fingerprint("tiny-llama")
    loaded = load_adapter(base(), folder, "restored", fingerprint("tiny-llama"))
    torch.testing.assert_close(logits(loaded), expected, atol=1e-6, rtol=1e-6)


def test_an_adapter_saved_for_another_base_is_refused_naming_both(tmp_path):
    folder = save_adapter(adapted(), "a0", tmp_path, fingerprint("tiny-llama"))
    other = fingerprint("tiny-mistral")  # same tensor shapes: peft alone would load it without a word
    with pytest.raises(InputError) as info:
        load_adapter(base("tiny-mistral"), folder, "a0", other)
    message = str(info.value)
    assert "tiny-llama" in message and "tiny-mistral" in message and FINGERPRINT_FILE in message
    with pytest.warns(UserWarning, match="tiny-mistral"):
        loaded = load_adapter(base("tiny-mistral"), folder, "a0", other, allow_mismatch=True)
    saved_b = lora_layers(adapted(), "a0")[0].lora_B["a0"].weight
    torch.testing.assert_close(lora_layers(loaded, "a0")[0].lora_B["a0"].weight, saved_b)


def test_an_adapter_without_a_recorded_base_needs_the_override(tmp_path):
    folder = save_adapter(adapted(), "a0", tmp_path, fingerprint("tiny-llama"))
    (folder / FINGERPRINT_FILE).unlink()
    with pytest.raises(InputError, match="records no base model"):
        check_fingerprint(folder, fingerprint("tiny-llama"))
    with pytest.warns(UserWarning, match="records no base model"):
        check_fingerprint(folder, fingerprint("tiny-llama"), allow_mismatch=True)
    (folder / FINGERPRINT_FILE).write_text("{not json")
    with pytest.raises(InputError, match="not a valid JSON file"):
        check_fingerprint(folder, fingerprint("tiny-llama"))


def test_a_matching_adapter_loads_without_a_warning(tmp_path):
    folder = save_adapter(adapted(), "a0", tmp_path, fingerprint("tiny-llama"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        check_fingerprint(folder, fingerprint("tiny-llama"))


def test_hotswap_replaces_a_resident_adapter_with_a_saved_one(tmp_path):
    donor = adapted(name="a1", seed=7)
    folder = save_adapter(donor, "a1", tmp_path, fingerprint("tiny-llama"))
    model = adapted(seed=1)
    before = logits(model)
    hotswap(model, folder, "a0", fingerprint("tiny-llama"))
    after = logits(model)
    torch.testing.assert_close(after, logits(donor), atol=1e-6, rtol=1e-6)
    assert not torch.allclose(after, before)


def test_the_benchmark_refuses_a_mismatched_adapter_unless_allowed(tmp_path):
    folder = save_adapter(adapted(), "a0", tmp_path, fingerprint("tiny-llama"))
    values = {
        "model": "tiny-mistral",
        "mode": "dynamic",
        "task": "prefill",
        "device": "cpu",
        "prompt_len": 8,
        "warmup": 0,
        "repeats": 1,
        "adapter": str(folder),
    }
    with pytest.raises(InputError, match="saved for another base model"):
        run_infer(InferSpec(**values))
    with pytest.warns(UserWarning, match="allowed by allow_mismatch"):
        metrics = run_infer(InferSpec(**values, allow_mismatch=True))
    assert metrics["ttft_ms"] > 0
    request = {
        "kind": "infer",
        "name": "mismatch",
        "suite": None,
        "spec": InferSpec(**values).to_dict(),
        "spec_hash": InferSpec(**values).hash,
    }
    row = run_request(request)  # what the worker process writes
    assert row["status"] == "error" and "tiny-llama" in row["error"] and "tiny-mistral" in row["error"]
