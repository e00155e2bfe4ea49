"""The training configuration: defined once, used by the benchmark's spec, the planner, the CLI and the
dashboard.

A TrainConfig holds every field that moves a training figure (speed, memory): the benchmark's TrainSpec adds
only how a run is measured (warm-up and measured steps, learning rate, seed, device); the planner's job and
workload figures wrap a TrainConfig. Defaults are the benchmark's.

Public:
    TrainConfig(model, method="lora", rank=16, targets="all-linear", micro_batch=4, seq_len=2048,
                grad_checkpointing=False, optimizer="adamw_fused", attn_impl="sdpa", profile="plain",
                num_gpus=1, sharding=None, dropout=0.0, alpha=32, grad_accum=1, cpu_offload=False,
                checkpoint=None, allocator="caching") frozen, validated (InputError naming field and value)
    TrainConfig.key -> tuple                 every field that affects a figure: a measured row stands for
                                             this configuration only when its key is equal
    TrainConfig.target_modules               the adapted linears, in layer order (() for full fine-tuning)
    TrainConfig.fused_lora                   the tuned profile's fused bf16 adapter path runs
    config_from_spec(spec: dict) -> TrainConfig          (a result row's spec; missing fields: defaults)
    check_model(model, checkpoint, seq_len=None)
    CONFIG_FIELDS                            the field names, in order
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

from core.errors import InputError
from core.shapes import ALL_LINEAR, LINEAR_MODULES, ModelShape, get_shape, resolve_targets
from core.vocab import ALLOCATORS, ATTN_IMPLS, DEFAULT_ALLOCATOR, METHODS, OPTIMIZERS, PROFILES, SHARDINGS


def choice(field: str, value, choices) -> None:
    """InputError unless value is one of choices."""
    if value not in choices:
        raise InputError("unknown value", field=field, value=value, accepted=", ".join(map(str, choices)))


MAX_INT = 2**31 - 1  # no count in a configuration comes near it; 10**20 is a typo


def positive(field: str, value, *, zero_ok: bool = False) -> None:
    """InputError unless value is an integer from 1 (0 with zero_ok) to MAX_INT."""
    ok = isinstance(value, int) and not isinstance(value, bool) and (0 if zero_ok else 1) <= value <= MAX_INT
    if not ok:
        accepted = f"an integer from {0 if zero_ok else 1} to {MAX_INT}"
        raise InputError("bad value", field=field, value=value, accepted=accepted)


def check_model(model: str, checkpoint: str | None, seq_len: int | None = None) -> None:
    """A catalog shape name, or (with a checkpoint folder) any label; the sequence must fit its positions."""
    if checkpoint is not None:
        if not (Path(checkpoint) / "config.json").is_file():
            raise InputError(
                "checkpoint folder has no config.json",
                field="checkpoint",
                value=checkpoint,
                accepted="a local folder saved with save_pretrained (config.json + *.safetensors)",
            )
        return
    shape = get_shape(model)
    if seq_len is not None and seq_len > shape.max_positions:
        raise InputError(
            f"sequence longer than {model}'s {shape.max_positions} positions",
            field="seq_len",
            value=seq_len,
            accepted=f"1..{shape.max_positions}",
        )


def _check_flags(config: TrainConfig) -> None:
    for field in ("grad_checkpointing", "cpu_offload"):
        if not isinstance(getattr(config, field), bool):
            raise InputError("bad value", field=field, value=getattr(config, field), accepted="true or false")
    if not isinstance(config.dropout, (int, float)) or not 0.0 <= config.dropout < 1.0:
        raise InputError("bad value", field="dropout", value=config.dropout, accepted="a number in [0, 1)")


def _check_sharding(config: TrainConfig) -> None:
    """Sharding and CPU offload exist for runs over several GPUs only; there sharding defaults to
    full_shard (set here, so that equal configurations are equal)."""
    if config.num_gpus == 1:
        for field, default in (("sharding", None), ("cpu_offload", False)):
            if getattr(config, field) != default:
                raise InputError(
                    "needs num_gpus > 1 (one GPU trains unsharded)",
                    field=field,
                    value=getattr(config, field),
                    accepted=f"{json.dumps(default)} with num_gpus = 1",
                )
        return
    if config.sharding is None:
        object.__setattr__(config, "sharding", SHARDINGS[0])
    choice("sharding", config.sharding, SHARDINGS)


@dataclass(frozen=True)
class TrainConfig:
    """One training configuration: a model, a fine-tuning method and every knob that moves speed or memory."""

    model: str
    method: str = "lora"  # lora | qlora (NF4 base, double quantisation, bf16 compute) | full
    rank: int = 16  # LoRA rank: higher adds capacity, memory and time
    targets: str | tuple[str, ...] = ALL_LINEAR
    micro_batch: int = 4
    seq_len: int = 2048
    grad_checkpointing: bool = False
    optimizer: str = "adamw_fused"
    attn_impl: str = "sdpa"
    profile: str = "plain"
    num_gpus: int = 1
    sharding: str | None = None  # FSDP over num_gpus > 1; full_shard by default there
    dropout: float = 0.0
    alpha: int = 32
    grad_accum: int = 1
    cpu_offload: bool = False
    checkpoint: str | None = None  # a local folder with real weights instead of a random-init catalog shape
    # the CUDA caching allocator's mode (core.vocab.ALLOCATORS): moves reserved memory
    allocator: str = DEFAULT_ALLOCATOR

    def __post_init__(self):
        choice("method", self.method, METHODS)
        choice("optimizer", self.optimizer, OPTIMIZERS)
        choice("attn_impl", self.attn_impl, ATTN_IMPLS)
        choice("profile", self.profile, PROFILES)
        choice("allocator", self.allocator, ALLOCATORS)
        for field in ("rank", "alpha", "micro_batch", "seq_len", "grad_accum", "num_gpus"):
            positive(field, getattr(self, field), zero_ok=field == "rank" and self.method == "full")
        _check_flags(self)
        full_without_targets = self.method == "full" and not self.targets
        keep = self.targets == ALL_LINEAR or full_without_targets
        targets = self.targets if keep else tuple(resolve_targets(self.targets))
        object.__setattr__(self, "targets", targets)
        check_model(self.model, self.checkpoint, self.seq_len)
        _check_sharding(self)

    @cached_property
    def shape(self) -> ModelShape:
        return get_shape(self.model)

    @cached_property  # frozen: computed once per configuration (the planner asks often)
    def target_modules(self) -> tuple[str, ...]:
        """The linears that carry adapters, in layer order; () for full fine-tuning."""
        if self.method == "full":
            return ()
        order = {m: i for i, m in enumerate(LINEAR_MODULES)}
        return tuple(sorted(set(resolve_targets(self.targets)), key=order.get))

    @property
    def targets_label(self) -> str:
        if self.method == "full":
            return "-"
        modules = self.target_modules
        return ALL_LINEAR if modules == LINEAR_MODULES else ",".join(modules)

    @property
    def tokens_per_step(self) -> int:
        return self.micro_batch * self.seq_len * self.grad_accum * self.num_gpus

    @property
    def fused_lora(self) -> bool:
        """Whether the tuned profile computes this configuration's adapters fused and in bf16: adapters
        that share an input take it once (benchmarks/lora_fused.py); dropout keeps peft's own forward."""
        return self.profile == "tuned" and self.method != "full" and self.dropout == 0

    @cached_property
    def key(self) -> tuple:
        """Every field that affects a measured figure: a row stands for this configuration only when its key
        is equal. Left out: alpha (a scale factor), the checkpoint folder (weight values move neither speed
        nor memory); rank and targets mean nothing for full fine-tuning."""
        full = self.method == "full"
        return (
            self.model,
            self.method,
            0 if full else self.rank,
            self.target_modules,
            self.micro_batch,
            self.seq_len,
            self.grad_accum,
            self.grad_checkpointing,
            self.optimizer,
            self.attn_impl,
            self.profile,
            self.num_gpus,
            self.sharding,
            self.cpu_offload,
            float(self.dropout),
            self.allocator,
        )

    def with_(self, **changes) -> TrainConfig:
        return replace(self, **changes)

    def describe(self) -> dict:
        return {
            "model": self.model,
            "method": self.method,
            "rank": self.rank if self.method != "full" else 0,
            "targets": self.targets_label,
            "micro_batch": self.micro_batch,
            "seq_len": self.seq_len,
            "grad_accum": self.grad_accum,
            "grad_checkpointing": self.grad_checkpointing,
            "optimizer": self.optimizer,
            "attn_impl": self.attn_impl,
            "profile": self.profile,
            "num_gpus": self.num_gpus,
            "sharding": self.sharding,
            "cpu_offload": self.cpu_offload,
            "allocator": self.allocator,
        }


CONFIG_FIELDS = tuple(f.name for f in dataclasses.fields(TrainConfig))


def from_spec(cls, spec: dict):
    """A configuration dataclass from a row's spec: its own fields that are set (a JSON list of targets as a
    tuple); missing optional fields take the defaults, which are the benchmark's; run-only fields are ignored."""
    names = {f.name for f in dataclasses.fields(cls)}
    values = {k: v for k, v in spec.items() if k in names and v is not None}
    if isinstance(values.get("targets"), list):
        values["targets"] = tuple(values["targets"])
    return cls(**values)


def config_from_spec(spec: dict) -> TrainConfig:
    """The TrainConfig of a training row's spec."""
    return from_spec(TrainConfig, spec)
