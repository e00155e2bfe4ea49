"""The CUDA allocator a run measures under: a memory cap (spec field `memory_cap_gib`) and the allocator's mode
(spec field `allocator`).

A measured memory cap runs a spec as if on a smaller card.

torch.cuda.set_per_process_memory_fraction limits what the caching allocator may reserve in this process to a
fraction of the device's memory; an allocation beyond it raises the usual out-of-memory error, which the worker
turns into an `oom` row. It must be set before anything is allocated, so the worker applies it first. What the
cap bounds is reserved memory (the allocated peak plus the allocator's slack); the CUDA context, which a real
card also holds, is outside it: a cap for a card is that card's memory as torch reports it less the context.
"""

from __future__ import annotations

import os

from core.vocab import DEFAULT_ALLOCATOR

GIB = 1024**3


def apply_memory_cap(spec) -> dict:
    """Cap this process's CUDA allocator at spec.memory_cap_gib; returns the figures for the row ({} if none)."""
    cap_gib = getattr(spec, "memory_cap_gib", None)
    if cap_gib is None:
        return {}
    import torch

    total = torch.cuda.get_device_properties(0).total_memory
    if cap_gib * GIB > total:
        raise ValueError(f"memory_cap_gib {cap_gib} is above this device's {total / GIB:.2f} GiB")
    fraction = cap_gib * GIB / total
    torch.cuda.set_per_process_memory_fraction(fraction)
    return {"memory_cap_fraction": fraction, "device_total_gib": total / GIB}


ALLOC_CONF = {"expandable": "expandable_segments:True"}  # core.vocab.ALLOCATORS -> PYTORCH_CUDA_ALLOC_CONF


def apply_allocator(spec) -> None:
    """Put the CUDA caching allocator in the spec's mode (core.vocab.ALLOCATORS) before anything is allocated:
    in this process (torch read PYTORCH_CUDA_ALLOC_CONF when it loaded) and in the processes it starts."""
    conf = ALLOC_CONF.get(getattr(spec, "allocator", DEFAULT_ALLOCATOR))
    if conf is None:
        return
    import torch

    os.environ["PYTORCH_CUDA_ALLOC_CONF"] = conf
    torch.cuda.memory._set_allocator_settings(conf)


def allocator_figures(spec) -> dict:
    """What the allocator ran as, read back from its segments: whether any was expandable (CUDA only)."""
    if getattr(spec, "device", "cpu") != "cuda":
        return {}
    import torch

    segments = torch.cuda.memory_snapshot()
    return {"expandable_segments": any(s.get("is_expandable", False) for s in segments)}
