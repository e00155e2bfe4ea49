"""A measured memory cap: run a spec as if on a smaller card (spec field `memory_cap_gib`).

torch.cuda.set_per_process_memory_fraction limits what the caching allocator may reserve in this process to a
fraction of the device's memory; an allocation beyond it raises the usual out-of-memory error, which the worker
turns into an `oom` row. It must be set before anything is allocated, so the worker applies it first. What the
cap bounds is reserved memory (the allocated peak plus the allocator's slack); the CUDA context, which a real
card also holds, is outside it: a cap for a card is that card's memory as torch reports it less the context.
"""

from __future__ import annotations

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
