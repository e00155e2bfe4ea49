"""Does a training configuration fit a GPU? Against what the card must really hold, not the allocated peak.

What hits the card's limit is the caching allocator's reserved memory (planner.memory's `reserved_gib`: the
allocated peak plus what the allocator holds beyond it), and the CUDA context comes on top of that on a real
card (on the H200, with the allocator capped, an 8B LoRA run that "fitted" a 24 GB card by its allocated peak
went out of memory). So:

    need_gib     = reserved_gib + CUDA_CONTEXT_GIB
    headroom_gib = memory_gib - need_gib
    state        = "fits" when headroom >= TIGHT_FRAC × memory, "tight" when 0 <= headroom below that,
                   "does not fit" when headroom < 0

A "tight" configuration ran in a capped test (70B QLoRA, batch 1 × 2048, tuned, in a 48 GB card's memory) but
leaves less than the run-to-run spread of fragmentation: the planner uses it and flags it.

Public:
    CUDA_CONTEXT_GIB, TIGHT_FRAC, FIT_STATES
    Fit(state, need_gib, headroom_gib, memory_gib)      .ok (fits or tight)
    gpu_fit(mem, gpu) -> Fit
"""

from __future__ import annotations

from dataclasses import dataclass

from planner.catalog import Gpu
from planner.memory import MemoryPrediction, reserved_gib

# CUDA context with cuBLAS/cuDNN handles loaded: about 0.3-0.6 GiB on recent drivers and CUDA 12-13 (it is
# outside PyTorch's allocator, so no result row records it). An assumption; the larger end.
CUDA_CONTEXT_GIB = 0.5
# Less than 5 % of the card left: the allocator's margin varies between runs by about that much.
TIGHT_FRAC = 0.05
FIT_STATES = ("fits", "tight", "does not fit")


@dataclass(frozen=True)
class Fit:
    state: str  # fits | tight | does not fit
    need_gib: float  # reserved memory plus the CUDA context
    headroom_gib: float  # card memory left (negative: short by that much)
    memory_gib: float

    @property
    def ok(self) -> bool:
        return self.state != "does not fit"


def gpu_fit(mem: MemoryPrediction, gpu: Gpu) -> Fit:
    """Fit of a memory prediction on one GPU, against reserved memory plus the CUDA context."""
    reserved = mem.reserved_gib
    if reserved is None:  # a prediction made before reserved memory was predicted
        reserved = reserved_gib(mem.peak_allocated_gib, mem.config.get("profile", "plain"))
    need = reserved + CUDA_CONTEXT_GIB
    headroom = gpu.memory_gib - need
    if headroom < 0:
        state = "does not fit"
    elif headroom < TIGHT_FRAC * gpu.memory_gib:
        state = "tight"
    else:
        state = "fits"
    return Fit(state, need, headroom, gpu.memory_gib)
