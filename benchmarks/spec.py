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
from core.shapes import ALL_LINEAR
from core.vocab import DEVICES


def spec_hash(spec_dict: dict) -> str:
    """Digest of the canonical JSON of a spec: equal specs, equal hash, whatever the key order."""
    canonical = json.dumps(spec_dict, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def spec_to_dict(spec) -> dict:
    """A spec as plain JSON-ready data (target tuples become lists): what rows store and hashes cover."""
    d = dataclasses.asdict(spec)
    d["targets"] = spec.targets if isinstance(spec.targets, str) else list(spec.targets)
    return d


def check_run(spec: TrainSpec) -> None:
    """What the benchmark can run, beyond what the configuration accepts (core.config.TrainConfig)."""
    if spec.num_gpus > 1:
        if spec.profile == "tuned":
            raise InputError("the tuned profile is built for one GPU", field="profile", value=spec.profile,
                             accepted="plain with num_gpus > 1")
        if spec.cpu_offload and spec.device != "cuda":
            raise InputError("CPU offload moves GPU shards to the host", field="cpu_offload", value=True,
                             accepted="false with device cpu")
        if spec.checkpoint is not None:
            raise InputError("sharded runs build random-init catalog shapes", field="checkpoint",
                             value=spec.checkpoint,
                             accepted="null with num_gpus > 1 (a checkpoint folder runs with num_gpus = 1)")
    if spec.profile == "tuned" and spec.warmup_steps == 0:  # compilation must not land in the timed steps
        raise InputError("the tuned profile compiles during the first step", field="warmup_steps", value=0,
                         accepted="1 or more with profile tuned")
    if spec.method == "qlora" and spec.device == "cpu" and spec.optimizer == "paged_adamw_8bit":
        raise InputError("paged 8-bit AdamW needs CUDA", field="optimizer", value=spec.optimizer,
                         accepted="adamw_fused on the CPU")


@dataclass(frozen=True)
class TrainSpec:
    """One training benchmark: a model, a fine-tuning method and the knobs that change speed and memory."""

    model: str
    method: str  # lora | qlora (NF4 base, double quantisation, bf16 compute) | full
    rank: int = 16  # LoRA rank: higher adds capacity and memory
    alpha: int = 32
    dropout: float = 0.0
    targets: str | tuple[str, ...] = ALL_LINEAR
    micro_batch: int = 4
    seq_len: int = 2048
    grad_accum: int = 1
    grad_checkpointing: bool = False
    optimizer: str = "adamw_fused"
    attn_impl: str = "sdpa"
    profile: str = "plain"
    warmup_steps: int = 2
    measure_steps: int = 8
    lr: float = 1e-4
    seed: int = 0
    device: str = "cuda"
    checkpoint: str | None = None  # a local folder with real weights instead of a random-init shape
    num_gpus: int = 1
    sharding: str | None = None
    cpu_offload: bool = False

    def __post_init__(self):
        # The configuration's fields are validated (and normalised) by its one definition.
        config = TrainConfig(**{f: getattr(self, f) for f in CONFIG_FIELDS})
        object.__setattr__(self, "targets", config.targets)
        object.__setattr__(self, "sharding", config.sharding)
        _choice("device", self.device, DEVICES)
        _positive("measure_steps", self.measure_steps)
        for field in ("warmup_steps", "seed"):
            _positive(field, getattr(self, field), zero_ok=True)
        if not isinstance(self.lr, (int, float)) or isinstance(self.lr, bool) or self.lr <= 0:
            raise InputError("bad value", field="lr", value=self.lr, accepted="a number > 0")
        check_run(self)

    @property
    def config(self) -> TrainConfig:
        """The configuration this spec measures (what the planner matches rows on)."""
        return TrainConfig(**{f: getattr(self, f) for f in CONFIG_FIELDS})

    to_dict = spec_to_dict
    hash = property(lambda self: spec_hash(self.to_dict()), doc="spec_hash of to_dict()")

    @property
    def tokens_per_step(self) -> int:
        return self.micro_batch * self.seq_len * self.grad_accum * self.num_gpus


def build_spec(cls, values: dict, *, where: str = "<spec>"):
    """Construct a spec from a mapping (a suite entry or CLI flags); unknown keys and wrong types give one
    InputError naming `where` (file and entry), the field and what is accepted."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise InputError("unknown field", file=where, field=unknown[0], accepted=", ".join(fields))
    missing = [n for n, f in fields.items() if n not in values and f.default is dataclasses.MISSING]
    if missing:
        raise InputError("missing field", file=where, field=missing[0])
    values = dict(values)
    if isinstance(values.get("targets"), list):
        values["targets"] = tuple(values["targets"])
    try:
        return cls(**values)
    except InputError as exc:
        raise exc.located(file=where) from None
    except TypeError as exc:
        raise InputError(f"bad spec ({exc})", file=where) from None
