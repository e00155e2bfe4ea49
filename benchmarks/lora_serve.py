"""Serving LoRA adapters at the cost of their arithmetic: the tuned profile's adapter paths.

A decode step reads every base weight once; a rank-16 adapter on every linear adds under 1% of those bytes.
What makes peft's dynamic adapters slow at small batches is not that work but how it is issued: adapters kept
in fp32 (each target casts its input up and its output down), a Python forward with branches per call, and for
a batch of several adapters (`adapter_names`) one gather, two matmuls and one scatter per adapter and target.
This module swaps each LoRA linear's forward for a lean one; peft's modules stay in place and peft keeps
owning the adapters (its `lora_A` / `lora_B` parameters are what the lean path reads).

- `install_lean(model, name)`: one adapter for every row. The adapter's weights are cast in place to the
  base's compute dtype (bf16), and each target computes base(x) + scaling · B(A(x)) with no dropout (the
  adapters served here have none) and no dtype round trips. Under transformers' compiled static-cache
  generate the whole step is one graph (CUDA graphs), where inductor fuses the scaling and the addition.
- `install_batched(model, names, rows)`: each row of the batch its own adapter, in the spirit of Punica's
  BGMV and S-LoRA's gathered matmul: every adapter's A and B are stacked per target (zero-padded to the
  largest rank, the scaling folded into the stacked B), each row's pair is gathered by its adapter index, and
  one batched matmul per factor and target computes every row's update at once, whatever the number of
  distinct adapters. The stacks are a serving copy (bf16) of peft's weights, made at install time:
  `refresh(model)` rebuilds them after the adapters' weights change (a hot-swap).

Outputs equal peft's `adapter_names` path up to the rounding of the compute dtype (tests/test_lora_serve.py).
"""

from __future__ import annotations

import types

import torch
import torch.nn.functional as F

LEAN = "lora_lean_forward"  # names recorded in a row's tuned_applied
BATCHED = "lora_batched_gather"
ADAPTER_DTYPE = "lora_weights_in_compute_dtype"


def lora_linears(model) -> list[torch.nn.Module]:
    """peft's LoRA linear layers (bf16 and bitsandbytes 4-bit bases alike)."""
    from peft.tuners.lora import LoraLayer

    return [m for m in model.modules() if isinstance(m, LoraLayer) and hasattr(m, "lora_A") and len(m.lora_A)]


@torch.no_grad()
def cast_adapters(model, dtype: torch.dtype) -> None:
    """Cast every adapter's A and B in place (peft's own modules) to `dtype`."""
    for layer in lora_linears(model):
        for name in layer.lora_A:
            layer.lora_A[name].to(dtype)
            layer.lora_B[name].to(dtype)


def _lean_forward(self, x: torch.Tensor, *args, **kwargs) -> torch.Tensor:
    result = self.base_layer(x, *args, **kwargs)
    name = self.serve_adapter
    update = F.linear(F.linear(x, self.lora_A[name].weight), self.lora_B[name].weight)
    return torch.add(result, update, alpha=self.serve_scaling)


def install_lean(model, name: str, dtype: torch.dtype = torch.bfloat16) -> int:
    """Serve adapter `name` on every row through the lean forward; returns the number of layers changed."""
    cast_adapters(model, dtype)
    layers = lora_linears(model)
    for layer in layers:
        if name not in layer.lora_A:
            raise ValueError(f"adapter {name!r} is not on layer {type(layer).__name__}")
        layer.serve_adapter, layer.serve_scaling = name, float(layer.scaling[name])
        layer.forward = types.MethodType(_lean_forward, layer)
    return len(layers)


@torch.no_grad()
def _stacks(layer, names: list[str], dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """(A of shape adapters × rank × in, B·scaling of shape adapters × out × rank), padded to the largest rank."""
    rank = max(layer.lora_A[n].weight.shape[0] for n in names)
    a0, b0 = layer.lora_A[names[0]].weight, layer.lora_B[names[0]].weight
    a = torch.zeros(len(names), rank, a0.shape[1], dtype=dtype, device=a0.device)
    b = torch.zeros(len(names), b0.shape[0], rank, dtype=dtype, device=b0.device)
    for i, n in enumerate(names):
        r = layer.lora_A[n].weight.shape[0]
        a[i, :r] = layer.lora_A[n].weight.to(dtype)
        b[i, :, :r] = (layer.lora_B[n].weight.float() * layer.scaling[n]).to(dtype)
    return a, b


def _batched_forward(self, x: torch.Tensor, *args, **kwargs) -> torch.Tensor:
    result = self.base_layer(x, *args, **kwargs)
    rows = self.serve_rows
    xb = x.reshape(rows.shape[0], -1, x.shape[-1]).to(self.serve_a.dtype)
    hidden = torch.bmm(xb, self.serve_a[rows].transpose(1, 2))  # rows × tokens × rank
    update = torch.bmm(hidden, self.serve_b[rows].transpose(1, 2))  # rows × tokens × out
    return result + update.reshape(result.shape).to(result.dtype)


def install_batched(model, names: list[str], rows: list[str], dtype: torch.dtype = torch.bfloat16) -> int:
    """Serve row i of every batch with adapter rows[i] (one of `names`); returns the number of layers changed."""
    layers = lora_linears(model)
    for layer in layers:
        missing = [n for n in names if n not in layer.lora_A]
        if missing:
            raise ValueError(f"adapters {missing} are not on layer {type(layer).__name__}")
        a, b = _stacks(layer, names, dtype)
        layer.register_buffer("serve_a", a, persistent=False)
        layer.register_buffer("serve_b", b, persistent=False)
        layer.serve_names = list(names)
        layer.forward = types.MethodType(_batched_forward, layer)
    set_rows(model, rows)
    return len(layers)


def set_rows(model, rows: list[str]) -> None:
    """Which adapter each row of the next batches uses. The index tensor is updated in place when the batch
    size is unchanged (a captured CUDA graph reads the new rows), replaced otherwise."""
    layers = [m for m in lora_linears(model) if hasattr(m, "serve_names")]
    if not layers:
        raise ValueError("install_batched first")
    names = layers[0].serve_names
    unknown = sorted(set(rows) - set(names))
    if unknown:
        raise ValueError(f"rows name adapters {unknown} that are not installed ({names})")
    index = torch.tensor([names.index(r) for r in rows], device=layers[0].serve_a.device)
    current = getattr(layers[0], "serve_rows", None)
    if current is not None and current.shape == index.shape:
        current.copy_(index)
        return
    for layer in layers:  # one tensor shared by every layer
        layer.register_buffer("serve_rows", index, persistent=False)


def refresh(model, dtype: torch.dtype = torch.bfloat16) -> None:
    """Rebuild the batched path's stacks from peft's current adapter weights (after a hot-swap)."""
    for layer in lora_linears(model):
        if hasattr(layer, "serve_names"):
            layer.serve_a, layer.serve_b = _stacks(layer, layer.serve_names, dtype)
