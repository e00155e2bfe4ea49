"""The inference configuration: one base model, one way of serving a LoRA adapter, one task; defined once,
used by the inference benchmark's spec (benchmarks/infer_spec.py) and the planner's serving figures.

Modes (how the adapter is served):
- base: the model alone, no adapter;
- dynamic: peft LoRA beside the frozen base (unmerged; one base can serve many adapters);
- merged: the adapter folded into the base weights with peft's `merge_and_unload` (one standalone model).

Tasks (what is measured; the fields each task reads):
- prefill: time to first token of `batch` prompts of `prompt_len` tokens;
- decode: `new_tokens` generated after a `prompt_len` prompt, per-token latency (profile plain or tuned);
- merge: merge / unmerge / merge_and_unload cost of one adapter (mode merged);
- adapters: load from disk, switch, hot-swap and memory of `n_adapters` resident adapters (mode dynamic);
- mixed: decode of a batch whose rows use `n_adapters` distinct adapters through peft's `adapter_names`;
- fidelity: merged against dynamic logits on the same `batch` × (`prompt_len` + `new_tokens`) tokens.
Fields a task does not read are kept in the spec (and its hash) but have no effect.

InferConfig holds every field that moves a figure; the benchmark's InferSpec adds how it is measured
(warm-up and repeats, seed, device, a saved adapter folder). Defaults are the benchmark's.

Public:
    InferConfig(model, mode, task, ...)        frozen, validated (InputError naming field and value)
    InferConfig.key                           every field that moves a figure
    infer_config_from_spec(spec: dict) -> InferConfig
    INFER_CONFIG_FIELDS
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from core.config import check_model, choice, from_spec, positive
from core.errors import InputError
from core.shapes import ALL_LINEAR, get_shape, resolve_targets
from core.vocab import BASES, DTYPES, MODES, PROFILES, TASK_MODES, TASKS

TUNED_TASKS = ("prefill", "decode", "mixed")  # tasks the tuned profile (benchmarks/lora_serve.py) serves


@dataclass(frozen=True)
class InferConfig:
    """One inference configuration: a base (bf16 or NF4), a serving mode and a task."""

    model: str
    mode: str  # base | dynamic | merged
    task: str  # prefill | decode | merge | adapters | mixed | fidelity
    base: str = "bf16"  # bf16 | nf4 (bitsandbytes NF4, double quantisation, bf16 compute)
    batch: int = 1
    prompt_len: int = 512
    new_tokens: int = 128  # decode, mixed and fidelity; end-of-sequence disabled, so every row is this long
    profile: str = "plain"  # plain = eager peft | tuned = lean LoRA path (+ compiled static-cache decode)
    dtype: str = "bf16"  # bf16 | fp32 (fp32 is for exactness checks on small models, bf16 base only)
    rank: int = 16  # LoRA rank of the random adapters
    alpha: int = 32
    targets: str | tuple[str, ...] = ALL_LINEAR
    n_adapters: int = 1  # adapters: resident adapters (>= 2); mixed: distinct adapters in the batch
    checkpoint: str | None = None  # a local folder with real weights instead of a random-init shape

    def __post_init__(self):
        for field, choices in (
            ("base", BASES),
            ("mode", MODES),
            ("task", TASKS),
            ("profile", PROFILES),
            ("dtype", DTYPES),
        ):
            choice(field, getattr(self, field), choices)
        for field in ("batch", "prompt_len", "new_tokens", "rank", "alpha", "n_adapters"):
            positive(field, getattr(self, field))
        targets = self.targets if self.targets == ALL_LINEAR else tuple(resolve_targets(self.targets))
        object.__setattr__(self, "targets", targets)
        check_model(self.model, self.checkpoint)
        self._check_length()
        self._check_combination()

    @property
    def key(self) -> tuple:
        """Every field that moves a figure (alpha scales; the checkpoint's weight values move nothing)."""
        targets = self.targets if isinstance(self.targets, str) else tuple(sorted(self.targets))
        return (
            self.model,
            self.mode,
            self.task,
            self.base,
            self.batch,
            self.prompt_len,
            self.new_tokens,
            self.profile,
            self.dtype,
            self.rank,
            targets,
            self.n_adapters,
        )

    def _check_length(self) -> None:
        """The tokens a task runs through the model must fit the model's positions."""
        tokens = {"prefill": self.prompt_len, "merge": 0, "adapters": 0}.get(
            self.task, self.prompt_len + self.new_tokens
        )
        if self.checkpoint is not None:  # its config is read in the worker, where the model is built
            return
        positions = get_shape(self.model).max_positions
        if tokens > positions:
            raise InputError(
                f"prompt and new tokens longer than {self.model}'s {positions} positions",
                field="prompt_len",
                value=tokens,
                accepted=f"prompt_len + new_tokens <= {positions}",
            )

    def _check_combination(self) -> None:
        if self.mode not in TASK_MODES[self.task]:
            raise InputError(
                f"task '{self.task}' does not run in mode '{self.mode}'",
                field="mode",
                value=self.mode,
                accepted=" or ".join(TASK_MODES[self.task]) + f" for task '{self.task}'",
            )
        if self.profile == "tuned" and self.task not in TUNED_TASKS:
            raise InputError(
                f"the tuned profile serves tasks {', '.join(TUNED_TASKS)}",
                field="profile",
                value=self.profile,
                accepted=f"plain for task '{self.task}'",
            )
        if self.task in ("decode", "mixed") and self.new_tokens < 2:
            raise InputError(
                "a per-token time needs at least two new tokens",
                field="new_tokens",
                value=self.new_tokens,
                accepted="an integer >= 2",
            )
        if self.dtype == "fp32" and self.base == "nf4":
            raise InputError(
                "an NF4 base computes in bf16",
                field="dtype",
                value=self.dtype,
                accepted="bf16 with base 'nf4' (fp32 needs base 'bf16')",
            )
        if self.task == "adapters" and self.n_adapters < 2:
            raise InputError(
                "switching needs two resident adapters",
                field="n_adapters",
                value=self.n_adapters,
                accepted="an integer >= 2 for task 'adapters'",
            )
        if self.task == "mixed" and self.n_adapters > self.batch:
            raise InputError(
                "more adapters than rows in the batch",
                field="n_adapters",
                value=self.n_adapters,
                accepted=f"1..{self.batch} (the batch)",
            )
        if self.task not in ("adapters", "mixed") and self.n_adapters != 1:
            raise InputError(
                f"task '{self.task}' serves one adapter",
                field="n_adapters",
                value=self.n_adapters,
                accepted="1 (several adapters: tasks 'adapters' and 'mixed')",
            )


INFER_CONFIG_FIELDS = tuple(f.name for f in dataclasses.fields(InferConfig))


def infer_config_from_spec(spec: dict) -> InferConfig:
    """The InferConfig of an inference row's spec."""
    return from_spec(InferConfig, spec)
