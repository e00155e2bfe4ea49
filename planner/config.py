"""One training configuration, as the planner predicts it, and small input parsers.

A TrainConfig mirrors the training benchmark's spec (the fields that change memory or speed), so that a
measured row and a prediction can be matched field by field.

Public:
    TrainConfig(model, method="lora", rank=16, targets="all-linear", micro_batch=4, seq_len=2048,
                grad_checkpointing=False, optimizer="adamw_fused", attn_impl="sdpa", profile="plain",
                num_gpus=1, sharding=None, dropout=0.0)      frozen, validated (InputError)
    TrainConfig.key -> tuple                 what must be equal for a measured row to stand for this config
    config_from_spec(spec: dict) -> TrainConfig
    parse_tokens(text) -> int                "100M", "1.5B", "250k", "1e9"
    parse_positive(text, field, integer=False) -> float | int
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import cached_property

from core.errors import InputError
from core.shapes import ALL_LINEAR, LINEAR_MODULES, ModelShape, get_shape, resolve_targets
from core.vocab import ATTN_IMPLS, METHODS, OPTIMIZERS, PROFILES, SHARDINGS

_SUFFIX = {"": 1, "k": 10**3, "m": 10**6, "b": 10**9, "g": 10**9, "t": 10**12}


def _fail(field: str, value: object, accepted: str) -> InputError:
    return InputError("bad value", field=field, value=value, accepted=accepted)


@dataclass(frozen=True)
class TrainConfig:
    model: str
    method: str = "lora"
    rank: int = 16
    targets: tuple[str, ...] | str = ALL_LINEAR
    micro_batch: int = 4
    seq_len: int = 2048
    grad_checkpointing: bool = False
    optimizer: str = "adamw_fused"
    attn_impl: str = "sdpa"
    profile: str = "plain"
    num_gpus: int = 1
    sharding: str | None = None
    dropout: float = 0.0

    def __post_init__(self):
        shape = get_shape(self.model)  # InputError for an unknown model
        if self.method not in METHODS:
            raise _fail("method", self.method, ", ".join(METHODS))
        if self.method == "full":
            object.__setattr__(self, "rank", 0)
            object.__setattr__(self, "targets", ())
        else:
            if not isinstance(self.rank, int) or self.rank <= 0:
                raise _fail("rank", self.rank, "a positive integer")
            order = {m: i for i, m in enumerate(LINEAR_MODULES)}
            targets = tuple(sorted(set(resolve_targets(self.targets)), key=order.get))
            object.__setattr__(self, "targets", targets)
        for field in ("micro_batch", "seq_len", "num_gpus"):
            value = getattr(self, field)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise _fail(field, value, "a positive integer")
        if self.seq_len > shape.max_positions:
            raise _fail("seq_len", self.seq_len, f"at most {shape.max_positions} for {self.model}")
        for field, choices in (
            ("optimizer", OPTIMIZERS),
            ("attn_impl", ATTN_IMPLS),
            ("profile", PROFILES),
            ("sharding", (None, *SHARDINGS)),
        ):
            if getattr(self, field) not in choices:
                raise _fail(field, getattr(self, field), ", ".join(str(c) for c in choices))
        if not 0 <= self.dropout < 1:
            raise _fail("dropout", self.dropout, "a probability in [0, 1)")

    @cached_property
    def shape(self) -> ModelShape:
        return get_shape(self.model)

    @property
    def targets_label(self) -> str:
        if self.method == "full":
            return "-"
        return ALL_LINEAR if self.targets == LINEAR_MODULES else ",".join(self.targets)

    @property
    def key(self) -> tuple:
        """Fields a measured row must share to replace a prediction (dropout does not move memory or speed
        enough to split on, and old rows may lack it)."""
        return (
            self.model,
            self.method,
            self.rank,
            self.targets,
            self.micro_batch,
            self.seq_len,
            self.grad_checkpointing,
            self.optimizer,
            self.attn_impl,
            self.profile,
            self.num_gpus,
            self.sharding,
        )

    def with_(self, **changes) -> TrainConfig:
        return replace(self, **changes)

    def describe(self) -> dict:
        return {
            "model": self.model,
            "method": self.method,
            "rank": self.rank,
            "targets": self.targets_label,
            "micro_batch": self.micro_batch,
            "seq_len": self.seq_len,
            "grad_checkpointing": self.grad_checkpointing,
            "optimizer": self.optimizer,
            "attn_impl": self.attn_impl,
            "profile": self.profile,
            "num_gpus": self.num_gpus,
            "sharding": self.sharding,
        }


def config_from_spec(spec: dict) -> TrainConfig:
    """The TrainConfig of a training row's spec (missing optional fields take the benchmark defaults)."""
    targets = spec.get("targets", ALL_LINEAR)
    if isinstance(targets, list):
        targets = tuple(targets)
    return TrainConfig(
        model=spec.get("model"),
        method=spec.get("method", "lora"),
        rank=int(spec.get("rank") or 0) if spec.get("method") == "full" else spec.get("rank", 16),
        targets=targets if spec.get("method") != "full" else (),
        micro_batch=spec.get("micro_batch", 1),
        seq_len=spec.get("seq_len", 2048),
        grad_checkpointing=bool(spec.get("grad_checkpointing", False)),
        optimizer=spec.get("optimizer", "adamw_fused"),
        attn_impl=spec.get("attn_impl", "sdpa"),
        profile=spec.get("profile", "plain"),
        num_gpus=int(spec.get("num_gpus") or 1),
        sharding=spec.get("sharding") or None,
        dropout=float(spec.get("dropout") or 0.0),
    )


MAX_TOKENS = 1e15  # a thousand trillion tokens per job: more than any training run


def parse_tokens(text: str | int | float, field: str = "tokens") -> int:
    """A token count with an optional suffix: 100M, 1.5B, 250k, 2e9 (k=1e3, M=1e6, B/G=1e9, T=1e12)."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        value = float(text)
    else:
        match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:e[0-9]+)?)\s*([kmbgt]?)\s*", str(text), re.IGNORECASE)
        if not match:
            raise _fail(field, text, "a positive count, optionally with a suffix k, M, B or T (100M, 1.5B)")
        value = float(match.group(1)) * _SUFFIX[match.group(2).lower()]
    if not 1 <= value <= MAX_TOKENS:  # NaN fails this too
        raise _fail(field, text, f"from one token to {MAX_TOKENS:.0e} tokens")
    return int(round(value))


def parse_positive(text: str | float, field: str, integer: bool = False, maximum: float = 1e9) -> float | int:
    """A positive number (or integer) up to `maximum` from a CLI string; InputError naming the option
    otherwise (NaN, infinity and 1e300 included: a figure that large only overflows what follows)."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        value = float("nan")
    if not 0 < value <= maximum or (integer and value != int(value)):
        raise _fail(field, text, f"a positive {'integer' if integer else 'number'} up to {maximum:g}")
    return int(value) if integer else value
