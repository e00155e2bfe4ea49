"""Benchmark specs: frozen, validated on construction, hashed for resume.

A spec is pure data (no torch here): the parent process validates suites and CLI flags with it before any
worker starts, so bad input fails fast with one message naming the field, the value and what is accepted.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass

from core.config import CONFIG_FIELDS, TrainConfig
from core.config import choice as _choice
from core.config import positive as _positive
from core.errors import InputError
from core.vocab import DEFAULT_ALLOCATOR, DEVICES, METHODS


def spec_hash(spec_dict: dict) -> str:
    """Digest of the canonical JSON of a spec: equal specs, equal hash, whatever the key order."""
    canonical = json.dumps(spec_dict, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def check_run(spec: TrainSpec) -> None:
    """What the benchmark can run, beyond what the configuration accepts (core.config.TrainConfig)."""
    if spec.num_gpus > 1:
        if spec.profile == "tuned":
            raise InputError(
                "the tuned profile is built for one GPU",
                field="profile",
                value=spec.profile,
                accepted="plain with num_gpus > 1",
            )
        if spec.cpu_offload and spec.device != "cuda":
            raise InputError(
                "CPU offload moves GPU shards to the host",
                field="cpu_offload",
                value=True,
                accepted="false with device cpu",
            )
        if spec.checkpoint is not None:
            raise InputError(
                "sharded runs build random-init catalog shapes",
                field="checkpoint",
                value=spec.checkpoint,
                accepted="null with num_gpus > 1 (a checkpoint folder runs with num_gpus = 1)",
            )
    if spec.profile == "tuned" and spec.warmup_steps == 0:  # compilation must not land in the timed steps
        raise InputError(
            "the tuned profile compiles during the first step",
            field="warmup_steps",
            value=0,
            accepted="1 or more with profile tuned",
        )
    if spec.allocator != DEFAULT_ALLOCATOR and spec.device != "cuda":
        raise InputError(
            "the allocator's mode is CUDA's",
            field="allocator",
            value=spec.allocator,
            accepted=f"{DEFAULT_ALLOCATOR} with device cpu",
        )
    if spec.method == "qlora" and spec.device == "cpu" and spec.optimizer == "paged_adamw_8bit":
        raise InputError(
            "paged 8-bit AdamW needs CUDA",
            field="optimizer",
            value=spec.optimizer,
            accepted="adamw_fused on the CPU",
        )


def check_memory_cap(spec) -> None:
    """`memory_cap_gib` emulates a smaller card on a larger one: the caching allocator may reserve at most that
    much (torch.cuda.set_per_process_memory_fraction, applied by benchmarks/memory_cap.py before anything is
    allocated); an `oom` row under the cap is the measured answer "does not fit"."""
    cap = spec.memory_cap_gib
    if cap is None:
        return
    if isinstance(cap, bool) or not isinstance(cap, (int, float)) or not cap > 0:
        raise InputError(
            "bad value", field="memory_cap_gib", value=cap, accepted="a number of GiB > 0, or null"
        )
    if spec.device != "cuda" or getattr(spec, "num_gpus", 1) != 1:
        raise InputError(
            "the cap is the CUDA caching allocator's, in one process",
            field="memory_cap_gib",
            value=cap,
            accepted="null unless device is cuda and num_gpus is 1",
        )


def compose(spec, config_cls, config, values: dict, run_defaults: dict, required: dict) -> None:
    """Set a spec's configuration (given, or built from the flat `values`, which the configuration's class
    validates) and its run fields (popped from `values`, else their defaults). `required` maps config fields
    without a default in the spec to the values accepted."""
    run = {k: values.pop(k, default) for k, default in run_defaults.items()}
    if config is None:
        for field, accepted in required.items():
            if field not in values:
                raise InputError("missing field", field=field, accepted=", ".join(accepted))
        config = config_cls(**values)
    elif values:
        raise TypeError(f"{type(spec).__name__} got both a config and config fields: {sorted(values)}")
    object.__setattr__(spec, "config", config)
    for k, v in run.items():
        object.__setattr__(spec, k, v)


# Fields added after rows were first written, with the value those rows ran with (left out of to_dict there).
ADDED_LATER = {"memory_cap_gib": None, "allocator": DEFAULT_ALLOCATOR}

RUN_DEFAULTS = {
    "warmup_steps": 2,
    "measure_steps": 8,
    "lr": 1e-4,
    "seed": 0,
    "device": "cuda",
    "memory_cap_gib": None,
}


@dataclass(frozen=True, init=False)
class TrainSpec:
    """One training benchmark: the configuration it measures (core.config.TrainConfig: model, method and every
    knob that moves speed or memory) and how it is measured (warm-up and measured steps, learning rate,
    seed, device). Built from flat fields, as suites and rows hold them: TrainSpec(model=..., method=...,
    micro_batch=..., warmup_steps=...); the configuration's fields read through (spec.micro_batch)."""

    config: TrainConfig
    warmup_steps: int = 2
    measure_steps: int = 8
    lr: float = 1e-4
    seed: int = 0
    device: str = "cuda"
    memory_cap_gib: float | None = None  # emulate a smaller card: the most the allocator may reserve (CUDA)

    FIELD_NAMES = (*CONFIG_FIELDS, *RUN_DEFAULTS)  # the flat fields of suites, flags and rows
    REQUIRED = ("model", "method")

    def __init__(self, config: TrainConfig | None = None, **values):
        compose(self, TrainConfig, config, values, RUN_DEFAULTS, {"method": METHODS})
        _choice("device", self.device, DEVICES)
        _positive("measure_steps", self.measure_steps)
        for field in ("warmup_steps", "seed"):
            _positive(field, getattr(self, field), zero_ok=True)
        if isinstance(self.lr, bool) or not isinstance(self.lr, (int, float)) or not 0 < self.lr <= 10:
            raise InputError("bad value", field="lr", value=self.lr, accepted="a finite number > 0 and <= 10")
        check_memory_cap(self)
        check_run(self)

    def __getattr__(self, name: str):
        if name in CONFIG_FIELDS or name in ("shape", "tokens_per_step", "target_modules"):
            return getattr(object.__getattribute__(self, "config"), name)
        raise AttributeError(name)

    def to_dict(self) -> dict:
        """The flat fields, JSON-ready (what rows store and the hash covers)."""
        d = {f: getattr(self.config, f) for f in CONFIG_FIELDS} | {f: getattr(self, f) for f in RUN_DEFAULTS}
        d["targets"] = self.targets if isinstance(self.targets, str) else list(self.targets)
        # at their defaults, fields added later are left out, so specs from before them hash as they did
        return {k: v for k, v in d.items() if k not in ADDED_LATER or v != ADDED_LATER[k]}

    def with_(self, **changes) -> TrainSpec:
        return TrainSpec(**(self.to_dict() | changes))

    hash = property(lambda self: spec_hash(self.to_dict()), doc="spec_hash of to_dict()")


def spec_fields(cls) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(every flat field, the required ones) of a spec class."""
    if hasattr(cls, "FIELD_NAMES"):
        return cls.FIELD_NAMES, cls.REQUIRED
    fields = dataclasses.fields(cls)
    return tuple(f.name for f in fields), tuple(f.name for f in fields if f.default is dataclasses.MISSING)


def build_spec(cls, values: dict, *, where: str = "<spec>"):
    """Construct a spec from a mapping (a suite entry or CLI flags); unknown keys and wrong types give one
    InputError naming `where` (file and entry), the field and what is accepted."""
    fields, required = spec_fields(cls)
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise InputError("unknown field", file=where, field=unknown[0], accepted=", ".join(fields))
    missing = [n for n in required if n not in values]
    if missing:
        raise InputError("missing field", file=where, field=missing[0])
    values = dict(values)
    if isinstance(values.get("targets"), list):
        values["targets"] = tuple(values["targets"])
    try:
        return cls(**values)
    except InputError as exc:  # an error in a catalog (models.csv) keeps its own file
        raise (exc.located(file=where) if exc.file is None else exc) from None
    except TypeError as exc:
        raise InputError(f"bad spec ({exc})", file=where) from None
