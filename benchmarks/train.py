"""The training benchmark: one TrainSpec in, one metrics dict out (the worker wraps it into a result row).

What one step is: `grad_accum` micro-batches of `micro_batch` × `seq_len` synthetic tokens (a learnable
pattern, benchmarks/data.py), forward with the loss, backward, optimizer step. Warm-up steps (allocator,
kernels, optimizer-state creation) run first and are not timed; then the peak-memory counters are reset and
each measured step is timed between device synchronisations.

Windows: the measured steps are split into consecutive windows (benchmarks/measure.py); a window's figure is
tokens per step over the median step time of that window, so one stalled step (the host pre-empted, a
collection) moves its window little, while a change that slows every step moves every window. The headline
`tokens_per_s` stays the mean over all measured steps. `host_issue_s_median` is the host's time to hand a
step's work to the device, up to where it waits for the result; it is at most the step time. Far below it, the
host runs ahead of the device; near it, either the host sets the pace or the device's launch queue filled and
the host waited inside the issue (the 8B ci-gpu steps on an H200 read 93-96% of their step time).

Methods (the `plain` profile: what transformers + peft defaults give):
- lora: bf16 base frozen, LoRA adapters (peft) on the target modules;
- qlora: the base's decoder linears in bitsandbytes NF4 (double quantisation, bf16 compute), LoRA on top;
  embeddings, norms and the output head stay bf16 (no fp32 up-cast of them: that is an extra 4 GiB on 8B);
- full: every weight trained in bf16, AdamW states in bf16 (what loading a model in bf16 and training it gives).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.data import PatternBatches
from benchmarks.lora_fused import FUSED_BASE, FUSED_LORA, install_training
from benchmarks.measure import (
    EnergyMeter,
    launch_overhead_us,
    matmul_peak_tflops,
    peak_memory,
    quiet_gc,
    reset_peak_memory,
    split_windows,
    summarize_times,
    timed,
    weights_gib,
    window_figures,
    write_profile,
)
from benchmarks.models import build_model, shape_of
from benchmarks.spec import TrainSpec
from benchmarks.tuned import apply_tuned, compile_outcome
from core.flops import train_flops_per_token
from core.vocab import TUNED_BASE_RELEASED


def _attach_lora(model, spec: TrainSpec):
    from peft import LoraConfig, get_peft_model

    targets = spec.targets if isinstance(spec.targets, str) else list(spec.targets)
    config = LoraConfig(
        r=spec.rank,
        lora_alpha=spec.alpha,
        lora_dropout=spec.dropout,
        target_modules=targets,
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, config)


def attach_method(model, spec: TrainSpec):
    """Gradient checkpointing if asked, then LoRA adapters, or every weight trainable for full fine-tuning."""
    if spec.grad_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if spec.method == "full":
        return model.requires_grad_(True)
    return _attach_lora(model, spec)


def _optimizer(params, spec: TrainSpec):
    if spec.optimizer == "paged_adamw_8bit":
        import bitsandbytes as bnb

        return bnb.optim.PagedAdamW8bit(params, lr=spec.lr)
    return torch.optim.AdamW(params, lr=spec.lr, fused=True)


def param_counts(model) -> tuple[int, int]:
    """(trainable, total) parameters; NF4 weights count as the parameters they encode, not packed bytes."""
    if hasattr(model, "get_nb_trainable_parameters"):  # peft knows the 4-bit packing
        return model.get_nb_trainable_parameters()
    total = sum(p.numel() for p in model.parameters())
    return sum(p.numel() for p in model.parameters() if p.requires_grad), total


def adapter_bytes(model) -> int:
    """Size on disk of the adapter as peft saves it (safetensors)."""
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        return sum(p.stat().st_size for p in Path(tmp).glob("*.safetensors"))


def tune_lora(model, built: dict) -> None:
    """The tuned profile's LoRA path once the adapters exist (benchmarks/lora_fused.py): targets that share an
    input fused, adapters computed in bf16 (peft keeps its fp32 weights). What it cannot do goes to
    tuned_skipped with the reason, and the run goes on with peft's own forward."""
    try:
        applied = install_training(model, torch.bfloat16)
    except ValueError as exc:  # dropout, several active adapters: peft's forward keeps the semantics
        built["tuned_skipped"].append(f"{FUSED_LORA}: {exc}")
        return
    built["tuned_applied"] += applied
    if FUSED_BASE in applied and torch.cuda.is_available():
        # the separate base weights are gone: give their blocks back, or the caching allocator keeps them
        # reserved beside everything the run allocates (0.3-10.5 GiB on the H200 rows before this)
        torch.cuda.empty_cache()
        built["tuned_applied"].append(TUNED_BASE_RELEASED)


def prepare(spec: TrainSpec):
    """Build the model, attach the method, make the optimizer. Returns (model, optimizer, build figures)."""
    quant = "nf4" if spec.method == "qlora" else "bf16"
    model, build_s = build_model(
        spec.model, quant, spec.device, attn_impl=spec.attn_impl, seed=spec.seed, checkpoint=spec.checkpoint
    )
    built = {
        "build_s": build_s,
        "weights_gib": weights_gib(model, spec.device),
        "sliding_window": getattr(model.config, "sliding_window", None),  # None: full causal attention
    }
    if spec.profile == "tuned":  # fused kernels, compiled decoder layers (benchmarks/tuned.py)
        built["tuned_skipped"] = []
        built["tuned_applied"] = apply_tuned(model, spec, built["tuned_skipped"])
    model = attach_method(model, spec)
    if spec.profile == "tuned" and spec.method != "full":
        tune_lora(model, built)
    model.train()
    optimizer = _optimizer([p for p in model.parameters() if p.requires_grad], spec)
    return model, optimizer, built


def issue_step(model, optimizer, batches, grad_accum: int):
    """One step's work handed to the device; returns the loss as a tensor (reading it waits for the device)."""
    total = 0.0
    for _ in range(grad_accum):
        ids, labels = next(batches)
        loss = model(input_ids=ids, labels=labels).loss / grad_accum
        loss.backward()
        total += loss.detach()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return total


def train_step(model, optimizer, batches, grad_accum: int) -> float:
    return float(issue_step(model, optimizer, batches, grad_accum))


def step_windows(tokens_per_step: int, times_s: list[float]) -> list[float]:
    """Tokens per second of each window of measured steps, from the window's median step time."""
    return [tokens_per_step / statistics.median(w) for w in split_windows(times_s)]


def _measure_steps(model, optimizer, batches, spec: TrainSpec) -> tuple[list, list, list, dict]:
    """The measured steps: (losses, step seconds, host issue seconds, gc figures)."""
    losses, times, issue_s = [], [], []

    def step() -> float:
        start = time.perf_counter()
        total = issue_step(model, optimizer, batches, spec.grad_accum)
        issue_s.append(time.perf_counter() - start)
        return float(total)

    with quiet_gc() as collections:
        for _ in range(spec.measure_steps):
            loss, seconds = timed(spec.device, step)
            losses.append(loss)
            times.append(seconds)
    return losses, times, issue_s, collections


def profile_step(model, optimizer, batches, spec: TrainSpec) -> None:
    """One more step under torch.profiler, its summary appended to $PEFTPLAN_PROFILE_OUT (where set)."""
    label = f"{spec.model} {spec.method} r{spec.rank} b{spec.micro_batch}x{spec.seq_len} {spec.profile}"
    write_profile(
        label,
        "one training step",
        lambda prof: train_step(model, optimizer, batches, spec.grad_accum),
        spec.device,
    )


def run_train(spec: TrainSpec) -> dict:
    device = spec.device
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' asked for, but torch sees no CUDA device")
    from benchmarks.train_fsdp import run_train_fsdp, wants_fsdp  # imports this module: not at the top

    if wants_fsdp(spec):  # several GPUs (torchrun ranks): sharded with FSDP
        return run_train_fsdp(spec)
    torch.manual_seed(spec.seed)
    peak_tflops = matmul_peak_tflops(device)  # measured before the model takes the memory
    model, optimizer, built = prepare(spec)
    shape = shape_of(spec.model, spec.checkpoint)
    batches = PatternBatches(spec.micro_batch, spec.seq_len, shape.vocab_size, device, spec.seed)

    warm = [
        timed(device, lambda: train_step(model, optimizer, batches, spec.grad_accum))
        for _ in range(spec.warmup_steps)
    ]
    losses = [loss for loss, _ in warm]
    built["first_step_s"] = warm[0][1] if warm else None  # with the tuned profile, compilation is in it
    if spec.profile == "tuned":
        built.update(compile_outcome(built))
    launch_us = launch_overhead_us(device)  # how fast this host drives the device, just before the steps
    reset_peak_memory(device)
    meter = EnergyMeter(device)
    with meter.measure() as energy:
        measured, times, issue_s, collections = _measure_steps(model, optimizer, batches, spec)
    losses += measured
    memory = peak_memory(device)
    # where a step's time goes, when $PEFTPLAN_PROFILE_OUT asks: after the measured steps
    profile_step(model, optimizer, batches, spec)

    tokens = spec.tokens_per_step * spec.measure_steps
    tokens_per_s = tokens / sum(times)
    windows = step_windows(spec.tokens_per_step, times)
    flops = train_flops_per_token(
        shape, spec.method, spec.seq_len, spec.grad_checkpointing, spec.rank, spec.targets
    )
    trainable, total = param_counts(model)
    return {
        "tokens_per_s": tokens_per_s,
        **window_figures("tokens_per_s", windows),
        "samples_per_s": spec.micro_batch * spec.grad_accum * spec.num_gpus * spec.measure_steps / sum(times),
        **summarize_times(times),
        "host_issue_s_median": statistics.median(issue_s),
        "kernel_launch_us": launch_us,
        "kernel_launch_us_after": launch_overhead_us(device),
        **collections,
        **memory,
        **built,
        "trainable_params": trainable,
        "total_params": total,
        "adapter_bytes": None if spec.method == "full" else adapter_bytes(model),
        "flops_per_token": flops,
        "matmul_peak_tflops": peak_tflops,
        "mfu": flops * tokens_per_s / (peak_tflops * 1e12),
        "loss_first": losses[0],
        "loss_last": losses[-1],
        "energy_j_per_token": None if energy["joules"] is None else energy["joules"] / tokens,
        "world_size": spec.num_gpus,
        "measured_tokens": tokens,
    }
