"""How far one configuration's measured speed moved between calls: the planner's honest floor on a projection.

A configuration measured in two or more calls (different timestamps) on one GPU gives its relative range,
fastest over slowest minus one. On the H200, steps bound by the host's kernel launches moved by 30-41%
between calls (data/results/h200-oos2-repeat.jsonl against h200-oos2.jsonl), a GPU-bound 70B step by 0.2%:
a projection for a host-bound configuration cannot be closer than its own re-measurement, and says so.

Public:
    Repeat(config, tokens_per_s)                 one configuration's measurements, oldest first
    repeats(meas, gpu_name) -> list[Repeat]      configurations measured more than once on that GPU
    Repeat.range_frac -> float                   fastest / slowest − 1
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

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
