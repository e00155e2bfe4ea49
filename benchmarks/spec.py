"""Benchmark specs: frozen, validated on construction, hashed for resume.

A spec is pure data (no torch here): the parent process validates suites and CLI flags with it before any
worker starts, so bad input fails fast with one message naming the field, the value and what is accepted.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from core.errors import InputError
from core.shapes import ALL_LINEAR, get_shape, resolve_targets
from core.vocab import ATTN_IMPLS, DEVICES, METHODS, OPTIMIZERS, PROFILES, SHARDINGS


def spec_hash(spec_dict: dict) -> str:
    """Digest of the canonical JSON of a spec: equal specs, equal hash, whatever the key order."""
    canonical = json.dumps(spec_dict, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def spec_to_dict(spec) -> dict:
    """A spec as plain JSON-ready data (target tuples become lists): what rows store and hashes cover."""
    d = dataclasses.asdict(spec)
    d["targets"] = spec.targets if isinstance(spec.targets, str) else list(spec.targets)
    if d.get("memory_cap_gib", 0) is None:  # uncapped: left out, so specs from before the field hash as they did
        del d["memory_cap_gib"]
    return d


def _choice(field: str, value, choices) -> None:
    if value not in choices:
        raise InputError("unknown value", field=field, value=value, accepted=", ".join(map(str, choices)))


MAX_INT = 2**31 - 1  # no count in a spec comes near it; 10**20 is a typo


def _positive(field: str, value, *, zero_ok: bool = False) -> None:
    ok = isinstance(value, int) and not isinstance(value, bool) and (0 if zero_ok else 1) <= value <= MAX_INT
    if not ok:
        raise InputError("bad value", field=field, value=value, accepted=f"an integer from {0 if zero_ok else 1} to {MAX_INT}")


def check_sharding(spec: TrainSpec) -> None:
    """Sharding and CPU offload exist for runs over several processes only; there sharding defaults to
    full_shard (set here, so that equal runs hash equal)."""
    if spec.num_gpus == 1:
        for field, default in (("sharding", None), ("cpu_offload", False)):
            if getattr(spec, field) != default:
                raise InputError("needs num_gpus > 1 (one GPU trains unsharded)", field=field,
                                 value=getattr(spec, field), accepted=f"{json.dumps(default)} with num_gpus = 1")
        return
    if spec.profile == "tuned":
        raise InputError("the tuned profile is built for one GPU", field="profile", value=spec.profile,
                         accepted="plain with num_gpus > 1")
    if spec.sharding is None:
        object.__setattr__(spec, "sharding", SHARDINGS[0])
    _choice("sharding", spec.sharding, SHARDINGS)
    if spec.cpu_offload and spec.device != "cuda":
        raise InputError("CPU offload moves GPU shards to the host", field="cpu_offload", value=True,
                         accepted="false with device cpu")
    if spec.checkpoint is not None:
        raise InputError("sharded runs build random-init catalog shapes", field="checkpoint", value=spec.checkpoint,
                         accepted="null with num_gpus > 1 (a checkpoint folder runs with num_gpus = 1)")


def check_model(model: str, checkpoint: str | None, seq_len: int | None = None) -> None:
    """A catalog shape name, or (with a checkpoint folder) any label; the sequence must fit its positions."""
    if checkpoint is not None:
        folder = Path(checkpoint)
        if not (folder / "config.json").is_file():
            raise InputError("checkpoint folder has no config.json", field="checkpoint", value=checkpoint,
                             accepted="a local folder saved with save_pretrained (config.json + *.safetensors)")
        return
    shape = get_shape(model)
    if seq_len is not None and seq_len > shape.max_positions:
        raise InputError(f"sequence longer than {model}'s {shape.max_positions} positions", field="seq_len",
                         value=seq_len, accepted=f"1..{shape.max_positions}")


def check_memory_cap(spec) -> None:
    """`memory_cap_gib` emulates a smaller card on a larger one: the caching allocator may reserve at most that
    much (torch.cuda.set_per_process_memory_fraction, applied by benchmarks/memory_cap.py before anything is
    allocated); an `oom` row under the cap is the measured answer "does not fit"."""
    cap = spec.memory_cap_gib
    if cap is None:
        return
    if isinstance(cap, bool) or not isinstance(cap, (int, float)) or not cap > 0:
        raise InputError("bad value", field="memory_cap_gib", value=cap, accepted="a number of GiB > 0, or null")
    if spec.device != "cuda" or getattr(spec, "num_gpus", 1) != 1:
        raise InputError("the cap is the CUDA caching allocator's, in one process", field="memory_cap_gib",
                         value=cap, accepted="null unless device is cuda and num_gpus is 1")


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
    memory_cap_gib: float | None = None  # emulate a smaller card: the most the allocator may reserve (CUDA)

    def __post_init__(self):
        _choice("method", self.method, METHODS)
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        _choice("attn_impl", self.attn_impl, ATTN_IMPLS)
        _choice("profile", self.profile, PROFILES)
        _choice("device", self.device, DEVICES)
        for field in ("rank", "alpha", "micro_batch", "seq_len", "grad_accum", "measure_steps", "num_gpus"):
            _positive(field, getattr(self, field))
        for field in ("warmup_steps", "seed"):
            _positive(field, getattr(self, field), zero_ok=True)
        if self.profile == "tuned" and self.warmup_steps == 0:  # compilation must not land in the timed steps
            raise InputError("the tuned profile compiles during the first step", field="warmup_steps", value=0,
                             accepted="1 or more with profile tuned")
        if not isinstance(self.dropout, (int, float)) or not 0.0 <= self.dropout < 1.0:
            raise InputError("bad value", field="dropout", value=self.dropout, accepted="a number in [0, 1)")
        if isinstance(self.lr, bool) or not isinstance(self.lr, (int, float)) or not 0 < self.lr <= 10:
            raise InputError("bad value", field="lr", value=self.lr, accepted="a finite number > 0 and <= 10")
        for field in ("grad_checkpointing", "cpu_offload"):
            if not isinstance(getattr(self, field), bool):
                raise InputError("bad value", field=field, value=getattr(self, field), accepted="true or false")
        targets = self.targets if self.targets == ALL_LINEAR else tuple(resolve_targets(self.targets))
        object.__setattr__(self, "targets", targets)
        check_model(self.model, self.checkpoint, self.seq_len)
        check_sharding(self)
        check_memory_cap(self)
        if self.method == "qlora" and self.device == "cpu" and self.optimizer == "paged_adamw_8bit":
            raise InputError("paged 8-bit AdamW needs CUDA", field="optimizer", value=self.optimizer,
                             accepted="adamw_fused on the CPU")

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
    except InputError as exc:  # an error in a catalog (models.csv) keeps its own file
        raise (exc.located(file=where) if exc.file is None else exc) from None
    except TypeError as exc:
        raise InputError(f"bad spec ({exc})", file=where) from None
