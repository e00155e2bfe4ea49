"""The `tuned` training profile: the fastest settings this suite has found, applied to the base model before
the adapters are attached. The row records what was actually applied (`tuned_applied`) and why anything
wanted was left out (`tuned_skipped`), read back from the model rather than assumed.

- Liger kernels (CUDA only: they are Triton GPU kernels), patched into the model instance:
  - fused linear cross-entropy: the output projection and the loss are computed chunk by chunk, so the fp32
    logits (batch × sequence × vocabulary × 4 bytes: about 4 GiB for Llama-3 8B at 4 × 2048) never exist;
  - RMSNorm, SwiGLU (the MLP's gate) and RoPE as fused kernels.
  Where liger_kernel is missing or fails to import, the profile goes on without it and says so.
- torch.compile of each decoder layer (`Module.compile`, in place: parameter names and the saved adapter are
  unchanged). Parameters are graph inputs, so every layer runs the one compiled graph and compile time does
  not grow with depth. The first layer's input is made to require grad (as peft does for checkpointing) so
  that it matches every other layer's and no second graph is compiled for it; the cost is one extra input
  gradient at the bottom layer. NF4 layers (QLoRA) compile too: bitsandbytes' 4-bit matmul is a registered
  torch op. Compilation happens during the first step, inside the benchmark's warm-up (`first_step_s`).
  A frame that fails to compile runs eagerly instead of failing the run; `compile_outcome` then reports the
  graphs compiled, the frames that fell back, the graph breaks and dynamo's first warning, and drops
  `compile_layers` from `tuned_applied` when nothing was compiled.
"""

from __future__ import annotations

import inspect
import logging
import sys
from collections.abc import Callable

import torch
from transformers.modeling_layers import GradientCheckpointingLayer

from benchmarks.spec import TrainSpec

LIGER_KERNELS = ("liger_rope", "liger_rms_norm", "liger_swiglu", "liger_fused_linear_cross_entropy")
COMPILE = "compile_layers"
REASON_CHARS = 300


def _short(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:REASON_CHARS]


class _FirstWarning(logging.Handler):
    """Keeps the first warning dynamo logs (where a compile error was suppressed, its message) for the row:
    the worker's stderr is not kept when the run succeeds."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.message: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if self.message is None:
            exc = record.exc_info[1] if record.exc_info else None
            self.message = _short(exc) if exc is not None else record.getMessage()[:REASON_CHARS]


_DYNAMO_WARNINGS = _FirstWarning()


def decoder_layers(model) -> list[torch.nn.Module]:
    return [m for m in model.modules() if isinstance(m, GradientCheckpointingLayer)]


def _from_liger(fn) -> bool:
    fn = getattr(fn, "__func__", fn)
    return (getattr(fn, "__module__", None) or "").startswith("liger_kernel")


def liger_applied(model) -> list[str]:
    """The Liger kernels `model` runs, read from the model (instance-bound forwards, the module's RoPE)."""
    layers = decoder_layers(model)
    norms = [m for m in model.modules() if type(m).__name__.endswith("RMSNorm")]
    mlps = [layer.mlp for layer in layers if hasattr(layer, "mlp")]
    found = {
        "liger_rope": _from_liger(getattr(sys.modules[type(model).__module__], "apply_rotary_pos_emb", None)),
        "liger_rms_norm": bool(norms) and all(_from_liger(m.__dict__.get("forward")) for m in norms),
        "liger_swiglu": bool(mlps) and all(_from_liger(m.__dict__.get("forward")) for m in mlps),
        "liger_fused_linear_cross_entropy": _from_liger(model.__dict__.get("forward")),
    }
    return [name for name in LIGER_KERNELS if found[name]]


def apply_liger(model, device: str) -> tuple[list[str], list[str]]:
    """Patch Liger's kernels into `model` (RoPE, RMSNorm, SwiGLU, fused linear cross-entropy).
    Returns (applied, reasons for what was left out)."""
    if device != "cuda":
        return [], ["liger: Triton GPU kernels, not used on the CPU"]
    try:
        from liger_kernel.transformers.monkey_patch import MODEL_TYPE_TO_APPLY_LIGER_FN
    except Exception as exc:  # noqa: BLE001 — not installed, or built for another torch/triton/transformers
        return [], [f"liger: liger_kernel does not import ({_short(exc)})"]
    model_type = getattr(model.config, "model_type", None)
    patch = MODEL_TYPE_TO_APPLY_LIGER_FN.get(model_type)
    if patch is None:
        return [], [f"liger: no Liger kernels for model type {model_type!r}"]
    wanted = {
        "rope": True,
        "rms_norm": True,
        "swiglu": True,
        "cross_entropy": False,
        "fused_linear_cross_entropy": True,
    }
    accepted = inspect.signature(patch).parameters
    reasons = []
    try:
        patch(model=model, **{k: v for k, v in wanted.items() if k in accepted})
    except Exception as exc:  # noqa: BLE001 — a partial patch is reported as what it is, below
        reasons.append(f"liger: patching {model_type} failed ({_short(exc)})")
    applied = liger_applied(model)
    reasons += [f"{name}: not in effect after patching" for name in LIGER_KERNELS if name not in applied]
    return applied, reasons


def compile_layers(model, backend: str | Callable = "inductor") -> int:
    """Compile every decoder layer in place (lazily: tracing happens at the first call). Returns the count."""
    layers = decoder_layers(model)
    if layers:
        model.enable_input_require_grads()  # the first layer's input like every other's: one graph for all
    for layer in layers:
        layer.compile(backend=backend)
    return len(layers)


def eager_on_compile_error() -> None:
    """A frame that fails to compile runs eagerly instead of failing the run (reported by compile_outcome,
    with dynamo's first warning)."""
    import torch._dynamo

    torch._dynamo.config.suppress_errors = True
    _DYNAMO_WARNINGS.message = None
    logger = logging.getLogger("torch._dynamo")
    if _DYNAMO_WARNINGS not in logger.handlers:
        logger.addHandler(_DYNAMO_WARNINGS)


def apply_tuned(model, spec: TrainSpec, skipped: list[str] | None = None) -> list[str]:
    """Apply the tuned profile to the base model (before LoRA is attached); returns the names of the
    optimisations applied. Reasons for anything left out are appended to `skipped` where given."""
    skipped = [] if skipped is None else skipped
    applied, reasons = apply_liger(model, spec.device)
    skipped += reasons
    if compile_layers(model):
        eager_on_compile_error()
        applied.append(COMPILE)
    else:
        skipped.append(f"{COMPILE}: no decoder layers found")
    return applied


def compile_outcome(built: dict) -> dict:
    """After the warm-up (where compilation happens): graphs compiled, frames that fell back to eager, graph
    breaks; `compile_layers` leaves `tuned_applied` when no graph was compiled. Updates for the metrics."""
    from torch._dynamo.utils import counters

    graphs = counters["stats"]["unique_graphs"]
    out = {
        "compiled_graphs": graphs,
        "compile_fallback_frames": counters["frames"]["total"] - counters["frames"]["ok"],
        "compile_graph_breaks": sum(counters["graph_break"].values()),
        "compile_warning": _DYNAMO_WARNINGS.message,
    }
    applied = list(built.get("tuned_applied", []))
    if COMPILE in applied and graphs == 0:
        out["tuned_applied"] = [name for name in applied if name != COMPILE]
        reason = f"{COMPILE}: nothing compiled, the layers ran eagerly (compile_warning says why)"
        out["tuned_skipped"] = list(built.get("tuned_skipped", [])) + [reason]
    return out
