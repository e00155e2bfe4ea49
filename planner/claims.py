"""Common claims about PEFT held against the measurements (and, where no row measures them, the planner's
projection, labelled as such). Each claim gets a verdict, the figure behind it, where the figure comes from and
what would measure it (better).

Verdicts: holds | holds under conditions | does not hold | not measured yet. The thresholds that turn a claim's
words into a test ("slight", "hours", "weeks", "small") are stated in each claim's `test` text.

Public:
    Claim                                        one verdict
    evaluate(rows, scenario, catalog, meas) -> list[Claim]
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from planner.gpu_fit import CUDA_CONTEXT_GIB

HOLDS, CONDITIONS, FAILS, UNMEASURED = "holds", "holds under conditions", "does not hold", "not measured yet"
SLIGHT_PCT = 10.0  # "only a slight latency": dynamic decode at most 10 % slower than merged
HOURS_LIMIT = 24.0  # "in hours": a run done within a day
WEEKS_MONTHS = 3.0  # "pays back within weeks": under three months
SMALL_MIB = 50.0  # "small enough to version beside code": under git hosts' 50 MB warning, no LFS needed


@dataclass(frozen=True)
class Claim:
    claim: str
    verdict: str
    figure: str  # the figure behind the verdict, with its unit
    basis: str  # measured | projected | none
    test: str  # how the claim's words were turned into a test
    evidence: str  # which rows or which planner call
    to_measure: str  # what would measure it (or measure it better)


def _ok(rows: list[dict], kind: str) -> list[dict]:
    return [r for r in rows if r.get("kind") == kind and r.get("status") == "ok"]


def _where(row: dict) -> str:
    prov = row.get("provenance", {})
    return f"{prov.get('device_name', '?')}, commit {str(prov.get('git_commit', '?'))[:10]}, {str(prov.get('timestamp', '?'))[:10]}"


def lora_fraction(rows: list[dict]) -> Claim:
    """LoRA trains under 0.1 % of a 7B model's parameters (4–8 million)."""
    from core.shapes import get_shape, lora_params

    claim = "LoRA trains under 0.1 % of a 7B model's parameters (4–8 million)"
    test = "trainable ÷ total parameters of measured LoRA runs of 7–8B models; under 0.1 % holds"
    found = [
        r
        for r in _ok(rows, "train")
        if r["spec"].get("method") in ("lora", "qlora")
        and 6e9 <= (r["metrics"].get("total_params") or 0) <= 9e9
        and r["metrics"].get("trainable_params")
    ]
    shape = get_shape("llama-3.1-8b")
    qv = lora_params(shape, 8, ("q_proj", "v_proj"))
    qv_note = (
        f"rank 8 on q and v only: {qv / 1e6:.1f} M ({qv / shape.total_params():.3%}), counted from the shape"
    )
    if not found:
        return Claim(
            claim,
            UNMEASURED,
            qv_note,
            "projected",
            test,
            "no LoRA row of a 7–8B model",
            "peftplan bench train --suite h200-standard (records trainable_params)",
        )
    fracs = {
        (r["spec"]["rank"], str(r["spec"].get("targets"))): r["metrics"]["trainable_params"]
        / r["metrics"]["total_params"]
        for r in found
    }
    low, high = min(fracs.values()), max(fracs.values())
    # above the line in every measured row: it holds only with fewer targets and a lower rank (the shape count)
    verdict = (
        HOLDS if high < 1e-3 else CONDITIONS if low < 1e-3 or qv / shape.total_params() < 1e-3 else FAILS
    )
    figure = "; ".join(f"rank {k[0]} {k[1]}: {v:.2%}" for k, v in sorted(fracs.items()))
    cond = (
        f"measured rows train {low:.2%} to {high:.2%}; under 0.1 % only with few targets and a low rank"
        if high >= 1e-3
        else ""
    )
    return Claim(
        claim,
        verdict,
        f"measured {figure}; {qv_note}",
        "measured",
        test,
        f"{len(found)} rows, e.g. {_where(found[0])}. {cond}".strip(),
        "a measured row with targets q_proj,v_proj at rank 8",
    )


def _capped_70b_qlora(meas, usable_gib: float):
    """A 70B QLoRA training run that ran under an allocator cap no larger than usable_gib, if any."""
    runs = [
        r
        for r in getattr(meas, "capped", ())
        if r.ran and r.config.method == "qlora" and "70b" in r.config.model and r.cap_gib <= usable_gib + 0.05
    ]
    return max(runs, key=lambda r: r.config.seq_len, default=None)


def qlora_70b_48gb(rows: list[dict], catalog, meas) -> Claim:
    """QLoRA fine-tunes a 70B model on one 48 GB GPU."""
    from planner.config import TrainConfig
    from planner.memory import predict_memory

    claim = "QLoRA fine-tunes a 70B model on one 48 GB GPU"
    test = "peak memory of a 70B QLoRA run (micro-batch 1, 2048 tokens, checkpointing) under an L40S's 48 GB"
    gpu = catalog.gpus.get("L40S")
    measured = [
        r
        for r in _ok(rows, "train")
        if r["spec"].get("method") == "qlora"
        and "70b" in r["spec"]["model"]
        and r["metrics"].get("peak_allocated_gib")
    ]
    cfg = TrainConfig("llama-3.1-70b", "qlora", micro_batch=1, seq_len=2048, grad_checkpointing=True)
    pred = predict_memory(cfg, gpu, meas, catalog)
    limit = gpu.memory_gib if gpu else 44.7
    capped = _capped_70b_qlora(meas, limit - CUDA_CONTEXT_GIB)
    if capped is not None:  # the measured answer: it ran with the allocator capped to what the card leaves
        c = capped.config
        return Claim(
            claim,
            HOLDS,
            f"ran under a {capped.cap_gib:g} GiB allocator cap ({limit:.1f} GiB L40S less the CUDA context): "
            f"micro-batch {c.micro_batch} × {c.seq_len}, checkpointing {c.grad_checkpointing}, "
            f"{c.optimizer}, {c.profile} profile",
            "measured",
            test,
            f"{capped.name} on {capped.device_name}, memory capped to a 48 GB card's",
            "the same run on an L40S or RTX 6000 Ada (48 GB)",
        )
    if measured:
        best = min(measured, key=lambda r: r["metrics"]["peak_allocated_gib"])
        peak = best["metrics"]["peak_allocated_gib"]
        spec = best["spec"]
        # with under 10 % to spare, it holds only in the configuration measured
        verdict = HOLDS if peak < 0.9 * limit else CONDITIONS if peak < limit else FAILS
        figure = (
            f"measured peak {peak:.1f} GiB (micro-batch {spec['micro_batch']} × {spec['seq_len']}, "
            f"checkpointing {spec.get('grad_checkpointing')}) against {limit:.1f} GiB; the planner "
            f"projects {pred.peak_allocated_gib:.1f} GiB with checkpointing"
        )
        if peak >= limit and pred.fits:
            verdict = CONDITIONS
        return Claim(
            claim,
            verdict,
            figure,
            "measured",
            test,
            f"{_where(best)}; measured on a larger GPU",
            "the same run on an L40S or RTX 6000 Ada (48 GB)",
        )
    verdict = CONDITIONS if pred.fits else FAILS
    return Claim(
        claim,
        verdict,
        f"projected peak {pred.peak_allocated_gib:.1f} GiB of {limit:.1f} GiB",
        "projected",
        test,
        pred.model,
        "peftplan bench train with a 70B QLoRA spec on a 48 GB GPU",
    )


def qlora_13b_hours(scenario, catalog, meas) -> Claim:
    """QLoRA fine-tunes a 13B model on one A100 or H100 in hours."""
    from planner.job_plan import TrainScenario, choose_config

    claim = "QLoRA fine-tunes a 13B model on one A100 or H100 in hours"
    scn = TrainScenario.build(
        "qwen2.5-14b",
        scenario.tokens,
        method="qlora",
        epochs=scenario.epochs,
        utilisation=scenario.utilisation,
    )
    tokens = scn.billed_tokens
    test = (
        f"one run of this page's job ({tokens / 1e6:,.0f}M tokens) with qwen2.5-14b (the nearest catalog "
        f"model) on one GPU, within {HOURS_LIMIT:g} h"
    )
    results, bases = [], set()
    for name in ("A100 80GB", "H100 SXM"):
        gpu = catalog.gpus.get(name)
        plan = choose_config(scn, gpu, meas, catalog, counts=(1,)) if gpu else None
        if plan is None:
            results.append((name, None))
            continue
        bases.add(plan.throughput.basis)
        results.append((name, plan.job_hours))
    hours = [h for _, h in results if h is not None]
    verdict = (
        FAILS
        if not hours
        else HOLDS
        if max(hours) <= HOURS_LIMIT
        else CONDITIONS
        if min(hours) <= HOURS_LIMIT
        else FAILS
    )
    figure = "; ".join(f"{n}: {h:,.1f} h" if h is not None else f"{n}: does not fit" for n, h in results)
    basis = "measured" if bases == {"measured"} else "projected"
    return Claim(
        claim,
        verdict,
        figure,
        basis,
        test,
        "planner.throughput on the planner's chosen configuration",
        "peftplan bench train with a 13–14B QLoRA spec on an A100 or H100",
    )


def dynamic_slight(rows: list[dict]) -> Claim:
    """Dynamic adapter loading costs only a slight latency."""
    claim = "Serving an adapter dynamically (unmerged) costs only a slight latency"
    test = f"decode ms per token, dynamic over merged, same spec and GPU; at most {SLIGHT_PCT:g} % holds"
    pairs: dict[tuple, dict[str, float]] = {}
    newest_last = sorted(_ok(rows, "infer"), key=lambda r: str(r["provenance"].get("timestamp") or ""))
    for r in newest_last:  # the latest measurement of a spec wins, as everywhere in the planner
        spec, ms = r["spec"], r["metrics"].get("ms_per_token")
        if spec.get("task") != "decode" or ms is None or spec.get("mode") not in ("merged", "dynamic"):
            continue
        key = tuple(str(spec.get(k)) for k in ("model", "base", "batch", "prompt_len", "profile")) + (
            r["provenance"].get("device_name"),
        )
        pairs.setdefault(key, {})[spec["mode"]] = ms
    over = {
        k: (v["dynamic"] / v["merged"] - 1) * 100
        for k, v in pairs.items()
        if {"merged", "dynamic"} <= v.keys()
    }
    if not over:
        return Claim(
            claim,
            UNMEASURED,
            "no merged/dynamic pair",
            "none",
            test,
            "",
            "peftplan bench infer --suite h200-standard (decode, merged and dynamic)",
        )
    values = sorted(over.values())
    verdict = HOLDS if values[-1] <= SLIGHT_PCT else CONDITIONS if values[0] <= SLIGHT_PCT else FAILS
    figure = (
        f"dynamic decode {values[0]:+.0f} % to {values[-1]:+.0f} % per token over merged "
        f"(median {statistics.median(values):+.0f} %, {len(values)} pairs)"
    )
    return Claim(
        claim,
        verdict,
        figure,
        "measured",
        test,
        "plain decode is eager generate, bound by kernel "
        "launches: the extra LoRA kernels weigh most at small batch",
        "the same pairs with a serving engine (vLLM, fused LoRA kernels)",
    )


def pays_back(scenario, catalog, meas) -> Claim:
    """For continuous pipelines self-hosting pays back within weeks; for one-off jobs managed APIs win."""
    from dataclasses import replace

    from planner.breakeven import payback, savings
    from planner.cost import compare_training

    claim = "Continuous pipelines: self-hosting pays back within weeks; one-off jobs: managed APIs win"
    test = (
        f"on-prem payback against the managed API under {WEEKS_MONTHS:g} months for a busy server, and the "
        "managed API cheapest at one run a month, for this page's job"
    )
    one_off, _, managed = savings(compare_training(replace(scenario, runs_per_month=1.0), catalog, meas))
    found = [p for p in payback(scenario, catalog, meas) if p.months_vs_managed is not None]
    months = min((p.months_vs_managed for p in found), default=None)
    weeks = months is not None and months <= WEEKS_MONTHS
    managed_wins = one_off <= 0
    verdict = HOLDS if weeks and managed_wins else CONDITIONS if weeks or managed_wins else FAILS
    figure = (
        f"on-prem payback against managed: {months:,.1f} months; "
        if months is not None
        else "no on-prem payback; "
    )
    against = managed.provider if managed else "no managed offer"
    saving = f"saves ${one_off:,.0f} against" if one_off >= 0 else f"costs ${-one_off:,.0f} more than"
    figure += f"one run a month: self-hosting {saving} {against}"
    return Claim(
        claim,
        verdict,
        figure,
        "projected",
        test,
        "planner.breakeven.payback and savings",
        "measured tokens/s on the GPUs priced (the figure is as good as its throughput)",
    )


def adapters_small(rows: list[dict]) -> Claim:
    """Adapters are small enough to version beside application code."""
    claim = "LoRA adapters are small enough to version beside application code"
    test = f"adapter file size of measured runs under {SMALL_MIB:g} MiB (git hosts warn above 50 MB)"
    sizes, per_param = {}, set()
    for r in _ok(rows, "train"):
        size, params = r["metrics"].get("adapter_bytes"), r["metrics"].get("trainable_params")
        if size:
            sizes[(r["spec"]["model"], r["spec"].get("rank"))] = size / 2**20
            if params:
                per_param.add(round(size / params))
    if not sizes:
        return Claim(
            claim,
            UNMEASURED,
            "no adapter size measured",
            "none",
            test,
            "",
            "peftplan bench train (records adapter_bytes)",
        )
    small = [k for k, v in sizes.items() if v < SMALL_MIB]
    verdict = HOLDS if len(small) == len(sizes) else CONDITIONS if small else FAILS
    figure = "; ".join(
        f"{m} rank {r}: {v:,.0f} MiB" for (m, r), v in sorted(sizes.items(), key=lambda kv: kv[1])
    )
    stored = (
        f"{'/'.join(str(b) for b in sorted(per_param))} bytes per parameter as saved" if per_param else ""
    )
    return Claim(
        claim,
        verdict,
        figure,
        "measured",
        test,
        f"adapter_bytes of the training rows, all linear layers; {stored}",
        "adapters saved in bf16 (2 bytes per parameter) and with fewer target modules",
    )


def evaluate(rows: list[dict], scenario, catalog, meas) -> list[Claim]:
    """Every claim, in the order they are usually made."""
    return [
        lora_fraction(rows),
        qlora_70b_48gb(rows, catalog, meas),
        qlora_13b_hours(scenario, catalog, meas),
        dynamic_slight(rows),
        pays_back(scenario, catalog, meas),
        adapters_small(rows),
    ]
