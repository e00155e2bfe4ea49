"""Does a training configuration fit a GPU? Against what the card must really hold, not the allocated peak.

What hits the card's limit is the caching allocator's reserved memory (the prediction's `reserved_gib`, see
planner/reserved.py: the allocated peak plus what the allocator holds beyond it), and the CUDA context comes on
top of that on a real card (on the H200, with the allocator capped, an 8B LoRA run that "fitted" a 24 GB card by
its allocated peak went out of memory). So:

    need_gib     = reserved_gib + CUDA_CONTEXT_GIB
    headroom_gib = memory_gib - need_gib
    state        = "fits" when headroom >= TIGHT_FRAC × memory; "does not fit" when headroom < −TIGHT_FRAC ×
                   memory; "tight" in between: within the reserved prediction's own error it may go either
                   way, so test it under a capped allocator first

Both answers the capped tests gave land where they should: 8B LoRA b2×2048 with checkpointing needs about
27.4 GiB on a 23.6 GiB card (does not fit; it ran out of memory), and 70B QLoRA tuned b1×2048 with
checkpointing needs about 45.3 GiB on a 44.4 GiB L40S (tight; it ran in 43.0 GiB allocated). The planner uses
a tight configuration only when nothing comfortable fits, and flags it.

A run under a capped allocator (`memory_cap_gib`, the benchmark's emulation of a smaller card) is the
measured answer and replaces the prediction's state: it ran under a cap no larger than what the card leaves
the allocator (memory − CUDA context), so it fits; or it ran out of memory under a cap no smaller, so it does
not. The Fit then says `basis="measured"` and which run.

Public:
    CUDA_CONTEXT_GIB, TIGHT_FRAC, FIT_STATES
    Fit(state, need_gib, headroom_gib, memory_gib, basis, derivation)      .ok (fits or tight)
    gpu_fit(mem, gpu, meas=None, config=None) -> Fit
"""

from __future__ import annotations

from dataclasses import dataclass

from core.config import TrainConfig
from planner.catalog import Gpu
from planner.measured import Measurements
from planner.memory import MemoryPrediction

# CUDA context with cuBLAS/cuDNN handles loaded: about 0.3-0.6 GiB on recent drivers and CUDA 12-13 (it is
# outside PyTorch's allocator, so no result row records it). An assumption; the larger end.
CUDA_CONTEXT_GIB = 0.5
# Within 5 % of the card either way: about the reserved prediction's worst error on configurations it never saw
# (h200-oos7: 5 %; a configuration run again reserves the same to 0.01 GiB, so the doubt is the model's).
TIGHT_FRAC = 0.05
FIT_STATES = ("fits", "tight", "does not fit")


@dataclass(frozen=True)
class Fit:
    state: str  # fits | tight | does not fit
    need_gib: float  # reserved memory plus the CUDA context
    headroom_gib: float  # card memory left (negative: short by that much)
    memory_gib: float
    basis: str = "projected"  # measured: a capped run answered it
    derivation: str = ""

    @property
    def ok(self) -> bool:
        return self.state != "does not fit"


def gpu_fit(
    mem: MemoryPrediction, gpu: Gpu, meas: Measurements | None = None, config: TrainConfig | None = None
) -> Fit:
    """Fit of a memory prediction on one GPU, against reserved memory plus the CUDA context; a capped run of
    the same configuration (meas, config) answers instead where one exists."""
    need = mem.reserved_gib + CUDA_CONTEXT_GIB
    headroom = gpu.memory_gib - need
    if headroom < -TIGHT_FRAC * gpu.memory_gib:
        state = "does not fit"
    elif headroom < TIGHT_FRAC * gpu.memory_gib:
        state = "tight"
    else:
        state = "fits"
    run = meas.capped_run(config, gpu.memory_gib - CUDA_CONTEXT_GIB) if meas and config else None
    if run is None:
        return Fit(state, need, headroom, gpu.memory_gib)
    verb = "ran" if run.ran else "ran out of memory"
    return Fit(
        "fits" if run.ran else "does not fit",
        need,
        headroom,
        gpu.memory_gib,
        basis="measured",
        derivation=f"{run.name} {verb} under a {run.cap_gib:g} GiB allocator cap on {run.device_name}",
    )
