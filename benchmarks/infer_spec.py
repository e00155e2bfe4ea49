"""Inference benchmark specs: the inference configuration (core/infer_config.py) and how it is measured.

Like TrainSpec, this module is pure data: the parent process validates suites with it before any worker runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from benchmarks.spec import check_memory_cap, compose, spec_hash
from core.config import choice, positive
from core.errors import InputError
from core.infer_config import INFER_CONFIG_FIELDS, InferConfig
from core.vocab import DEVICES, MODES, TASKS

RUN_DEFAULTS = {
    "warmup": 1,
    "repeats": 3,
    "seed": 0,
    "device": "cuda",
    "adapter": None,
    "allow_mismatch": False,
    "register": None,
    "memory_cap_gib": None,  # emulate a smaller card: the most the allocator may reserve (CUDA)  # adapter registry (path or URL) to record the adapters the run saves or loads
}


@dataclass(frozen=True, init=False)
class InferSpec:
    """One inference benchmark: the configuration it measures and how: `warmup` untimed runs (the first
    compiled call compiles), `repeats` measured runs (figures are their median), seed, device, and `adapter`,
    a saved adapter folder instead of a random adapter (dynamic / merged), loaded even if saved for another
    base when `allow_mismatch` (with a warning), and `register`, an adapter registry (path or URL) that
    records the adapters the run saves or loads. Built from flat fields like TrainSpec."""

    config: InferConfig
    warmup: int = 1
    repeats: int = 3
    seed: int = 0
    device: str = "cuda"
    adapter: str | None = None
    allow_mismatch: bool = False
    register: str | None = None
    memory_cap_gib: float | None = None

    FIELD_NAMES = (*INFER_CONFIG_FIELDS, *RUN_DEFAULTS)
    REQUIRED = ("model", "mode", "task")

    def __init__(self, config: InferConfig | None = None, **values):
        compose(self, InferConfig, config, values, RUN_DEFAULTS, {"mode": MODES, "task": TASKS})
        choice("device", self.device, DEVICES)
        positive("repeats", self.repeats)
        for field in ("warmup", "seed"):
            positive(field, getattr(self, field), zero_ok=True)
        if not isinstance(self.allow_mismatch, bool):
            raise InputError(
                "bad value", field="allow_mismatch", value=self.allow_mismatch, accepted="true or false"
            )
        if self.profile == "tuned" and self.warmup < 1:
            raise InputError(
                "the first compiled call compiles: it must be a warm-up run",
                field="warmup",
                value=self.warmup,
                accepted="1 or more with profile 'tuned'",
            )
        self._check_adapter()
        check_memory_cap(self)
        if self.register is not None:
            check_registry(self.register)

    def __getattr__(self, name: str):
        if name in INFER_CONFIG_FIELDS:
            return getattr(object.__getattribute__(self, "config"), name)
        raise AttributeError(name)

    def _check_adapter(self) -> None:
        if self.adapter is None:
            return
        if self.mode == "base" or self.task in ("adapters", "mixed"):
            raise InputError(
                "a saved adapter is used by modes dynamic and merged of tasks prefill, decode, merge "
                "and fidelity",
                field="adapter",
                value=self.adapter,
                accepted="no adapter here",
            )
        if not (Path(self.adapter) / "adapter_config.json").is_file():
            raise InputError(
                "adapter folder has no adapter_config.json",
                field="adapter",
                value=self.adapter,
                accepted="a folder saved with peft's save_pretrained",
            )

    def to_dict(self) -> dict:
        """The flat fields, JSON-ready (what rows store and the hash covers)."""
        d = {f: getattr(self.config, f) for f in INFER_CONFIG_FIELDS} | {
            f: getattr(self, f) for f in RUN_DEFAULTS
        }
        d["targets"] = self.targets if isinstance(self.targets, str) else list(self.targets)
        if d["memory_cap_gib"] is None:  # uncapped: left out, so specs from before the field hash as they did
            del d["memory_cap_gib"]
        return d

    def with_(self, **changes) -> InferSpec:
        return InferSpec(**(self.to_dict() | changes))

    # where adapters are recorded changes no measurement: `register` stays out of the hash (and rows
    # written before the field existed keep theirs)
    hash = property(
        lambda self: spec_hash({k: v for k, v in self.to_dict().items() if k != "register"}),
        doc="spec_hash of to_dict() without `register`",
    )


def check_registry(location: object) -> None:
    from registry.db import url_of

    if not isinstance(location, str) or not location.strip():
        raise InputError(
            "bad value", field="register", value=location, accepted="a registry file path or URL"
        )
    if url_of(location).password is not None:  # the spec is written into every row
        raise InputError(
            "a password in the registry URL would be written into every result row",
            field="register",
            accepted="a URL without a password (PGPASSWORD or ~/.pgpass hold it)",
        )
