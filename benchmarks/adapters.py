"""LoRA adapters for the inference benchmarks: random ones that change the model, saved with and loaded
against the fingerprint of the base model they belong to.

A random adapter: peft initialises B to zero, so a fresh adapter changes nothing and "merged" would equal
"base". Here A and B are both drawn at random and B is scaled so that each targeted layer's update
(alpha/r)·B·A has DELTA_RATIO times the standard deviation of that layer's base weight: the adapter moves the
outputs the way a trained one does, and merging it changes the weights for real.

Provenance: a saved adapter folder holds peft's files (adapter_config.json, adapter_model.safetensors) and
FINGERPRINT_FILE, the base model's fingerprint (benchmarks.models.fingerprint; registry/fingerprint.py says what
it holds and compares it). Loading into a base with another fingerprint is refused with one
InputError naming both: an adapter trained on one base version, loaded into the next with the same shapes,
would otherwise run without a word. `allow_mismatch` turns the refusal into a warning.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import torch

from registry.fingerprint import FINGERPRINT_FILE, check_base, recorded_fingerprint

DELTA_RATIO = 0.1  # std of the adapter's weight update / std of the base weight it updates


def lora_config(rank: int, alpha: int, targets):
    from peft import LoraConfig

    targets = targets if isinstance(targets, str) else list(targets)
    return LoraConfig(
        r=rank, lora_alpha=alpha, lora_dropout=0.0, target_modules=targets, task_type="CAUSAL_LM"
    )


def lora_layers(model, name: str):
    """(module, adapter name) for every LoRA layer holding adapter `name`."""
    from peft.tuners.lora import LoraLayer

    return [m for m in model.modules() if isinstance(m, LoraLayer) and name in m.lora_A]


def base_weight(layer) -> torch.Tensor:
    """A LoRA layer's base weight as a dense tensor (NF4 weights dequantised)."""
    weight = layer.get_base_layer().weight
    state = getattr(weight, "quant_state", None)
    if state is None:
        return weight.data
    import bitsandbytes.functional as bnbf

    return bnbf.dequantize_4bit(weight.data, state)


@torch.no_grad()
def randomize(model, name: str, seed: int) -> None:
    """Draw adapter `name`'s A and B (see the module docstring); reproducible from `seed`."""
    generator = torch.Generator().manual_seed(seed)
    for layer in lora_layers(model, name):
        a, b = layer.lora_A[name].weight, layer.lora_B[name].weight
        rank, fan_in = a.shape
        base_std = float(base_weight(layer).float().std())
        # var(ΔW_ij) = scaling² · Σ_k var(B_ik)·var(A_kj) = scaling² · rank · σ_B² / fan_in, with var(A) = 1/fan_in
        sigma_b = DELTA_RATIO * base_std / (layer.scaling[name] * math.sqrt(rank / fan_in))
        a.copy_(torch.randn(a.shape, generator=generator) / math.sqrt(fan_in))
        b.copy_(torch.randn(b.shape, generator=generator) * sigma_b)


def add_random_adapter(model, name: str, *, rank: int, alpha: int, targets, seed: int):
    """Attach a random LoRA adapter `name` (a PeftModel is returned; an existing one gains an adapter).
    The model is left in eval mode with `name` active."""
    from peft import PeftModel, get_peft_model

    config = lora_config(rank, alpha, targets)
    if isinstance(model, PeftModel):
        model.add_adapter(name, config)
    else:
        model = get_peft_model(model, config, adapter_name=name)
    randomize(model, name, seed)
    model.set_adapter(name)
    return model.eval()


def save_adapter(model, name: str, parent: str | Path, fingerprint: dict) -> Path:
    """Save adapter `name` as safetensors with its base's fingerprint; returns the adapter's folder."""
    parent = Path(parent)
    model.save_pretrained(str(parent), selected_adapters=[name], safe_serialization=True)
    folder = parent if name == "default" else parent / name  # where peft puts a named adapter
    (folder / FINGERPRINT_FILE).write_text(
        json.dumps({"base": fingerprint, "adapter_name": name}, indent=2) + "\n"
    )
    return folder


def check_fingerprint(folder: str | Path, expected: dict, allow_mismatch: bool = False) -> None:
    """Refuse an adapter saved for another base (or with no record of its base), unless allow_mismatch."""
    where = str(Path(folder) / FINGERPRINT_FILE)
    check_base(recorded_fingerprint(folder), expected, where=where, allow_mismatch=allow_mismatch)


def load_adapter(model, folder: str | Path, name: str, expected: dict, allow_mismatch: bool = False):
    """Load a saved adapter as `name` after checking its base fingerprint; returns the PeftModel (in eval mode)."""
    from peft import PeftModel

    check_fingerprint(folder, expected, allow_mismatch)
    if isinstance(model, PeftModel):
        model.load_adapter(str(folder), adapter_name=name)
        return model
    return PeftModel.from_pretrained(model, str(folder), adapter_name=name).eval()


def hotswap(model, folder: str | Path, name: str, expected: dict, allow_mismatch: bool = False) -> None:
    """Replace the weights of resident adapter `name` in place with those saved in `folder` (peft's hot-swap:
    no new modules, so a compiled model need not recompile)."""
    from peft.utils.hotswap import hotswap_adapter

    check_fingerprint(folder, expected, allow_mismatch)
    device = str(next(model.parameters()).device)
    hotswap_adapter(model, str(folder), adapter_name=name, torch_device=device)


def adapter_bytes(model, name: str) -> int:
    """Bytes of adapter `name`'s tensors as held in memory (peft keeps them in fp32 by default)."""
    return sum(p.numel() * p.element_size() for n, p in model.named_parameters() if f".{name}." in n)


def file_bytes(folder: str | Path) -> int:
    return sum(p.stat().st_size for p in Path(folder).glob("*.safetensors"))


def registered(folder: str | Path, registry: str, *, origin: dict, seed: int | None = None) -> dict:
    """Record a saved adapter in the adapter registry and return what a result row keeps of it (its id and
    weights hash). A random adapter (`seed` given) is registered with "no training data"; a user's adapter
    is only looked up (its data is the user's to record), and its id is None when it is not registered."""
    from registry import store
    from registry.db import open_registry
    from registry.folder import read_adapter

    adapter = read_adapter(folder)
    engine = open_registry(registry)
    if seed is None:
        found = store.entries(engine, weights=adapter.weights_sha256)
        entry_id = found[0]["id"] if found else None
    else:
        label = f"none: random weights drawn with seed {seed} (benchmarks/adapters.py)"
        data = {
            "label": label,
            "sha256": hashlib.sha256(label.encode()).hexdigest(),
            "record": {"kind": "none", "seed": seed},
        }
        entry, _ = store.register(
            engine, adapter, data, base_fingerprint=adapter.base_fingerprint, origin=origin
        )
        entry_id = entry["id"]
    engine.dispose()
    return {"registry_id": entry_id, "weights_sha256": adapter.weights_sha256, "registry": registry}
