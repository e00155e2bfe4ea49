"""The inference benchmark: one InferSpec in, one metrics dict out (the worker wraps it into a result row).

The model is built like the training benchmark's (random weights of a real shape, bf16 or NF4 built layer by
layer; or a local checkpoint), then served in the spec's mode: alone (`base`), with a LoRA adapter beside it
(`dynamic`, peft), or with the adapter merged into its weights (`merged`, peft's `merge_and_unload`). The
adapter is random with a non-zero update (benchmarks/adapters.py), or a saved one (`adapter`, checked
against the base's fingerprint). Then one task is measured; benchmarks/infer_ops.py says how generation is
timed. Every timed region is synchronised on CUDA; warm-up runs come first and are not timed; peak memory is
reset before the measured runs; figures are medians over `repeats` runs.

Merging into an NF4 base: peft dequantises each 4-bit weight to bf16, adds the LoRA delta (in fp32: peft
keeps adapters in fp32), moves the sum to host memory and re-quantises it to NF4; the merged model stays
4-bit, and its outputs drift from the dynamic model's by that second rounding (the fidelity task measures it).
"""

from __future__ import annotations

import gc
import statistics
import tempfile
from pathlib import Path

import torch

from benchmarks.adapters import (
    adapter_bytes,
    add_random_adapter,
    base_weight,
    file_bytes,
    hotswap,
    load_adapter,
    lora_layers,
    registered,
    save_adapter,
)
from benchmarks.infer_ops import (
    compare_logits,
    continuation_logits,
    measure_generation,
    profile_generation,
    prompts,
)
from benchmarks.infer_spec import InferSpec
from benchmarks.lora_fused import fuse_shared_inputs, fused_names
from benchmarks.lora_serve import ADAPTER_DTYPE, BATCHED, LEAN, install_batched, install_lean
from benchmarks.measure import launch_overhead_us, timed, weights_gib, window_figures
from benchmarks.models import build_model, fingerprint, shape_of

MIB = 1024**2
ADAPTER = "a0"  # name of the (first) adapter
# The figures each task's rows carry (the tests check every one is there). Rows of every task also carry
# build_s, base_weights_gib and weights_gib.
TASK_METRICS = {
    "prefill": ("prefill_tokens_per_s", "ttft_ms", "peak_allocated_gib", "peak_reserved_gib"),
    "decode": (
        "ms_per_token",
        "decode_tokens_per_s",
        "step_ms_p50",
        "ttft_ms",
        "generate_s",
        "peak_allocated_gib",
        "peak_reserved_gib",
        "energy_j_per_token",
    ),
    "merge": (
        "merge_s",
        "merge_adapter_s",
        "unmerge_s",
        "unmerge_weight_rel_diff",
        "weights_dynamic_gib",
        "merge_method",
    ),
    "adapters": (
        "adapter_load_s",
        "switch_ms",
        "hotswap_ms",
        "adapter_mib",
        "adapter_file_mib",
        "resident_adapters",
    ),
    "mixed": ("ms_per_token", "decode_tokens_per_s", "ttft_ms", "peak_allocated_gib", "distinct_adapters"),
    "fidelity": (
        "logit_rel_diff_max",
        "logit_rel_diff_mean",
        "token_agreement",
        "logit_abs_diff_max",
        "adapter_rel_diff_mean",
        "merge_s",
        "merge_method",
    ),
}
COMMON_METRICS = ("build_s", "base_weights_gib", "weights_gib")
# Figures that are null by design on the CPU (no allocator ledger, no NVML energy counter).
NULL_ON_CPU = ("peak_allocated_gib", "energy_j_per_token")


def merge_method(spec: InferSpec) -> str:
    if spec.base == "nf4":
        return (
            "peft merge_and_unload into bitsandbytes NF4: each weight dequantised to bf16, the fp32 LoRA "
            "delta added, re-quantised to NF4 (double quantisation) via host memory; the merged model stays 4-bit"
        )
    return f"peft merge_and_unload: W += (alpha/r)·B·A in place, in {spec.dtype}"


def keep_nf4_layout(model) -> None:
    """On a CPU with AVX512-BF16, bitsandbytes repacks an NF4 weight into a CPU kernel layout on its first
    eval forward; dequantize_4bit, and so peft's merge, does not read that layout (a merge after a forward
    gives wrong weights). The CPU runs keep the standard layout."""
    for module in model.modules():
        if hasattr(module, "support_avx512bf16_for_cpu"):
            module.support_avx512bf16_for_cpu = False


def build_base(spec: InferSpec):
    """The base model in eval mode with generation caching on; returns (model, figures)."""
    model, build_s = build_model(
        spec.model, spec.base, spec.device, seed=spec.seed, checkpoint=spec.checkpoint
    )
    if spec.dtype == "fp32":
        model = model.float()
    if spec.device == "cpu":
        keep_nf4_layout(model)
    model.eval()
    model.config.use_cache = True  # build_model turns it off (training); generation needs the KV cache
    gen = model.generation_config
    gen.use_cache = True
    if gen.pad_token_id is None:  # prompts have no padding; set it so generate does not warn on every call
        eos = gen.eos_token_id
        gen.pad_token_id = (eos[0] if isinstance(eos, list) else eos) if eos is not None else 0
    return model, {"build_s": build_s, "base_weights_gib": weights_gib(model, spec.device)}


def first_adapter(model, spec: InferSpec, base_fp: dict):
    """The spec's saved adapter (fingerprint-checked) or a random one, as adapter ADAPTER."""
    if spec.adapter is not None:
        return load_adapter(model, spec.adapter, ADAPTER, base_fp, spec.allow_mismatch)
    return add_random_adapter(
        model, ADAPTER, rank=spec.rank, alpha=spec.alpha, targets=spec.targets, seed=spec.seed
    )


def compute_dtype(spec: InferSpec) -> torch.dtype:
    return torch.float32 if spec.dtype == "fp32" else torch.bfloat16


def serve_tuned(model, spec: InferSpec, rows: list[str] | None = None) -> list[str]:
    """The tuned profile's serving path: the projections that share an input fused (benchmarks/lora_fused.py),
    and for dynamic adapters benchmarks/lora_serve.py's lean forward (one adapter on every row) or batched
    gather (each row its own adapter). Returns what was applied for the row."""
    applied = ["static_cache_generate"] if spec.task != "prefill" else []
    dtype = compute_dtype(spec)
    if spec.mode != "dynamic":
        return applied + fused_names(fuse_shared_inputs(model, "base"))
    if rows is not None and len(set(rows)) > 1:
        names = sorted(set(rows))
        install_batched(model, names, rows, dtype)
        return applied + [BATCHED] + fused_names(fuse_shared_inputs(model, "batched", names, dtype))
    name = rows[0] if rows else ADAPTER
    install_lean(model, name, dtype)
    return applied + [ADAPTER_DTYPE, LEAN] + fused_names(fuse_shared_inputs(model, "lean", [name], dtype))


def prepare(spec: InferSpec):
    """Build the base and serve it in the spec's mode (merge and fidelity merge inside the task, so they
    start dynamic). Returns (model, fingerprint of the base, figures)."""
    model, figures = build_base(spec)
    base_fp = fingerprint(spec.model, spec.checkpoint)
    if spec.mode != "base":
        model = first_adapter(model, spec, base_fp)
        if spec.adapter is not None and spec.register is not None:
            figures["registry_adapters"] = [registered(spec.adapter, spec.register, origin={})]
        if spec.mode == "merged" and spec.task not in ("merge", "fidelity"):
            model, merge_s = timed(spec.device, model.merge_and_unload)
            figures |= {"merge_s": merge_s, "merge_method": merge_method(spec)}
    if spec.profile == "tuned" and spec.task != "mixed":  # mixed installs its path once its adapters exist
        figures["tuned_applied"] = serve_tuned(model, spec)
    gc.collect()
    figures["weights_gib"] = weights_gib(model, spec.device)
    return model, base_fp, figures


def run_generation(model, spec: InferSpec, new_tokens: int, adapter_names: list[str] | None = None) -> dict:
    vocab = shape_of(spec.model, spec.checkpoint).vocab_size
    ids = prompts(spec.batch, spec.prompt_len, vocab, spec.device, spec.seed)
    static = spec.profile == "tuned" and new_tokens > 1  # prefill alone has no decode step to compile
    metrics = measure_generation(
        model,
        ids,
        new_tokens=new_tokens,
        static=static,
        warmup=spec.warmup,
        repeats=spec.repeats,
        device=spec.device,
        adapter_names=adapter_names,
    )
    if (
        spec.profile == "tuned"
    ):  # where a tuned run's time goes ($PEFTPLAN_PROFILE_OUT; eager runs are not asked)
        profile_generation(
            model,
            ids,
            new_tokens,
            static=static,
            device=spec.device,
            adapter_names=adapter_names,
            label=f"{spec.model} {spec.base} {spec.mode} {spec.task} b{spec.batch} {spec.profile}",
        )
    return metrics


def run_prefill(model, spec: InferSpec, base_fp: dict) -> dict:
    metrics = run_generation(model, spec, new_tokens=1)
    metrics.pop("energy_j_per_token", None)  # one token per row: an energy per token would be the prefill's
    return metrics


def run_decode(model, spec: InferSpec, base_fp: dict) -> dict:
    # eager decode at small batches is host-bound: record how fast this host issues kernels beside it
    return run_generation(model, spec, new_tokens=spec.new_tokens) | {
        "kernel_launch_us": launch_overhead_us(spec.device)
    }


def run_mixed(model, spec: InferSpec, base_fp: dict) -> dict:
    """A batch whose rows are spread round-robin over n_adapters resident adapters (peft's adapter_names)."""
    names = [ADAPTER] + [f"a{i}" for i in range(1, spec.n_adapters)]
    for i, name in enumerate(names[1:], start=1):
        model = add_random_adapter(
            model, name, rank=spec.rank, alpha=spec.alpha, targets=spec.targets, seed=spec.seed + i
        )
    resident = {"distinct_adapters": len(names), "weights_gib": weights_gib(model, spec.device)}
    rows = [names[i % len(names)] for i in range(spec.batch)]
    if spec.profile == "tuned":  # the rows' adapters are set on the layers: generate gets no adapter_names
        resident["tuned_applied"] = serve_tuned(model, spec, rows)
        rows = None
    return (
        run_generation(model, spec, new_tokens=spec.new_tokens, adapter_names=rows)
        | resident
        | {"kernel_launch_us": launch_overhead_us(spec.device)}
    )


def run_fidelity(model, spec: InferSpec, base_fp: dict) -> dict:
    """Merged against dynamic on the same tokens: the dynamic model's greedy continuation of the prompts,
    scored teacher-forced by both (so every position compares the same context)."""
    vocab = shape_of(spec.model, spec.checkpoint).vocab_size
    ids = prompts(spec.batch, spec.prompt_len, vocab, spec.device, spec.seed)
    seq = model.generate(
        input_ids=ids,
        attention_mask=torch.ones_like(ids),
        max_new_tokens=spec.new_tokens,
        min_new_tokens=spec.new_tokens,
        do_sample=False,
    )
    dynamic = continuation_logits(model, seq, spec.new_tokens)
    with model.disable_adapter():
        base = continuation_logits(model, seq, spec.new_tokens)
    effect = compare_logits(base, dynamic)["logit_rel_diff_mean"]  # how far the adapter moves the outputs
    del base
    merged_model, merge_s = timed(spec.device, model.merge_and_unload)
    figures = compare_logits(dynamic, continuation_logits(merged_model, seq, spec.new_tokens))
    del dynamic  # weights_gib below counts the merged model's tensors only
    return {
        **figures,
        "adapter_rel_diff_mean": effect,
        "merge_s": merge_s,
        "merge_method": merge_method(spec),
        "weights_gib": weights_gib(merged_model, spec.device),
        "measured_runs": 1,
    }


def run_merge(model, spec: InferSpec, base_fp: dict) -> dict:
    """Each run: a fresh random adapter is attached (untimed), merged in place (merge_adapter), unmerged
    (unmerge_adapter), then merged and unloaded (merge_and_unload: what merged serving does)."""
    weights_dynamic = weights_gib(model, spec.device)
    times = {"merge_adapter_s": [], "unmerge_s": [], "merge_s": []}
    drift = None
    for i in range(spec.warmup + spec.repeats):
        if i:
            model = add_random_adapter(
                model, ADAPTER, rank=spec.rank, alpha=spec.alpha, targets=spec.targets, seed=spec.seed + i
            )
        probe = lora_layers(model, ADAPTER)[0]
        before = base_weight(probe).float().clone()
        _, merge_adapter_s = timed(spec.device, model.merge_adapter)
        _, unmerge_s = timed(spec.device, model.unmerge_adapter)
        after = base_weight(probe).float()
        drift = float((after - before).norm() / before.norm())  # what a merge + unmerge leaves behind
        model, merge_s = timed(spec.device, model.merge_and_unload)
        if i >= spec.warmup:
            for key, value in (
                ("merge_adapter_s", merge_adapter_s),
                ("unmerge_s", unmerge_s),
                ("merge_s", merge_s),
            ):
                times[key].append(value)
    gc.collect()
    return {
        **{k: statistics.median(v) for k, v in times.items()},
        "unmerge_weight_rel_diff": drift,
        "weights_dynamic_gib": weights_dynamic,
        "weights_gib": weights_gib(model, spec.device),
        "merge_method": merge_method(spec),
    }


def run_adapters(model, spec: InferSpec, base_fp: dict) -> dict:
    """Adapter operations around resident adapter a0: load from disk, switch (set_adapter), hot-swap."""
    names = [ADAPTER] + [f"a{i}" for i in range(1, spec.n_adapters)]
    runs = range(spec.warmup + spec.repeats)
    with tempfile.TemporaryDirectory(prefix="peftplan-adapters-") as tmp:
        folders = {ADAPTER: save_adapter(model, ADAPTER, Path(tmp), base_fp)}
        for i, name in enumerate(names[1:], start=1):  # made, saved, dropped: they live on disk only
            model = add_random_adapter(
                model, name, rank=spec.rank, alpha=spec.alpha, targets=spec.targets, seed=spec.seed + i
            )
            folders[name] = save_adapter(model, name, Path(tmp), base_fp)
            model.delete_adapter(name)
        records = register_saved(spec, folders)  # untimed: before any measurement
        model.set_adapter(ADAPTER)
        load_s = []
        for i in runs:
            _, seconds = timed(
                spec.device, lambda i=i: load_adapter(model, folders[names[1]], f"load{i}", base_fp)
            )
            resident_bytes = adapter_bytes(model, f"load{i}")
            model.delete_adapter(f"load{i}")
            load_s.append(seconds)
        for name in names[1:]:
            load_adapter(model, folders[name], name, base_fp)
        switch_s = [
            timed(spec.device, lambda i=i: model.set_adapter(names[(i + 1) % len(names)]))[1] for i in runs
        ]
        model.set_adapter(ADAPTER)
        swap_s = [
            timed(spec.device, lambda i=i: hotswap(model, folders[names[1 - i % 2]], ADAPTER, base_fp))[1]
            for i in runs
        ]
        file_mib = file_bytes(folders[ADAPTER]) / MIB
    keep = slice(spec.warmup, None)
    return {
        "adapter_load_s": statistics.median(load_s[keep]),
        **window_figures("adapter_load_s", load_s[keep]),
        "switch_ms": statistics.median(switch_s[keep]) * 1000,
        "hotswap_ms": statistics.median(swap_s[keep]) * 1000,
        "adapter_mib": resident_bytes / MIB,
        "adapter_file_mib": file_mib,
        "resident_adapters": len(names),
        "weights_gib": weights_gib(model, spec.device),
    } | ({"registry_adapters": records} if records else {})


def register_saved(spec: InferSpec, folders: dict[str, Path]) -> list[dict]:
    """With spec.register: record the random adapters the run saved (adapter a_i drawn with seed + i) in the
    adapter registry, each pointing back at this spec's hash; returns what the row keeps of them."""
    if spec.register is None:
        return []
    origin = {
        "kind": "infer",
        "spec_hash": spec.hash,
        "task": spec.task,
        "folder": "temporary (removed after the run)",
    }
    return [
        registered(folder, spec.register, origin=origin | {"adapter": name}, seed=spec.seed + i)
        for i, (name, folder) in enumerate(folders.items())
    ]


TASKS = {
    "prefill": run_prefill,
    "decode": run_decode,
    "merge": run_merge,
    "adapters": run_adapters,
    "mixed": run_mixed,
    "fidelity": run_fidelity,
}


def run_infer(spec: InferSpec) -> dict:
    if spec.device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' asked for, but torch sees no CUDA device")
    torch.manual_seed(spec.seed)
    model, base_fp, figures = prepare(spec)
    metrics = TASKS[spec.task](model, spec, base_fp)
    return {**figures, "measured_runs": spec.repeats, **metrics}
