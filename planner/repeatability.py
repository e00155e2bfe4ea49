"""How far one configuration's measured speed moved between calls: the planner's honest floor on a projection.

A configuration measured in two or more calls (different timestamps) on one GPU gives its relative range,
fastest over slowest minus one. On the H200, six configurations whose steps the host's kernel launches bound
moved by 0.7% to 41% between calls (data/results/h200-oos2-repeat.jsonl, h200-remeasure.jsonl), a GPU-bound
70B step by 0.2%:
a projection for a host-bound configuration cannot be closer than its own re-measurement, and says so.

Public:
    Repeat(config, tokens_per_s)                 one configuration's measurements, oldest first
    repeats(meas, gpu_name) -> list[Repeat]      configurations measured more than once on that GPU
    Repeat.range_frac -> float                   fastest / slowest − 1
    HOST_BOUND_RATIO, host_to_gpu(cal, config, gpu) -> float    host launch time over the GPU's work
    host_bound_caveat(ratio, cal, gpu, meas, catalog) -> str    what a host-bound projection can promise
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from planner.catalog import Gpu
from planner.config import TrainConfig
from planner.measured import Measurements


@dataclass(frozen=True)
class Repeat:
    config: TrainConfig
    tokens_per_s: tuple[float, ...]

    @property
    def range_frac(self) -> float:
        return max(self.tokens_per_s) / min(self.tokens_per_s) - 1


@lru_cache(maxsize=64)
def repeats(meas: Measurements, gpu_name: str) -> tuple[Repeat, ...]:
    """Single-GPU configurations with rows of two or more calls (distinct timestamps) on this GPU."""
    groups: dict = {}
    for rec in sorted(meas.gpu_train(), key=lambda r: r.timestamp):
        if rec.gpu == gpu_name and rec.config.num_gpus == 1 and rec.tokens_per_s:
            groups.setdefault(rec.config.key, []).append(rec)
    return tuple(
        Repeat(recs[0].config, tuple(r.tokens_per_s for r in recs))
        for recs in groups.values()
        if len({r.timestamp for r in recs}) > 1
    )


# At this share of the GPU's work or more the host's launches decide the step, or nearly: on the H200 the
# configurations re-measured at 0.89 and above moved 30-41% between calls, the one at 0.81 0.2%.
HOST_BOUND_RATIO = 0.85


def host_to_gpu(cal, config: TrainConfig, gpu: Gpu) -> float:
    """The host's launch time over the GPU's work for one step of `config` under a calibration."""
    gpu_s, host_s = cal.step_parts(config, gpu)
    return host_s / gpu_s


def host_bound_caveat(ratio: float, cal, gpu: Gpu, meas: Measurements, catalog) -> str:
    """What a projection whose host launches take `ratio` of the GPU's work can promise: how far host-bound
    configurations moved between calls."""
    text = f"host-bound (the host's kernel launches take {ratio:.2f}× the GPU's work)"
    source = gpu.name if cal.gpu == gpu.name else cal.gpu
    moved = [
        r.range_frac
        for r in repeats(meas, source)
        if source and host_to_gpu(cal, r.config, catalog.gpus[source]) >= HOST_BOUND_RATIO
    ]
    if not moved:
        return (
            f"{text}: such steps vary with the host's speed; no host-bound configuration was measured twice"
        )
    low, high = min(moved), max(moved)
    spread = f"by up to {high:.0%}" if len(moved) == 1 else f"by {low:.0%} to {high:.0%}"
    return (
        f"{text}: host-bound configurations measured in two calls on {source} moved {spread} "
        f"({len(moved)} configuration{'s' * (len(moved) > 1)}), so expect that much either way"
    )
