"""Timed generation and logit comparison for the inference benchmark.

Prefill and decode. A request's prompt is first run through the model in one pass (prefill: compute-bound,
many tokens at once), then tokens come one at a time (decode: each step reads every weight for one token per
row, so at small batches it is bound by memory bandwidth, or in eager PyTorch by the host launching kernels).

How one `generate` call is timed: a logits processor stamps the moment each new token's logits are ready.
On CUDA the stamp is an event recorded on the stream (the host never waits, so the measurement does not slow
decoding down); on the CPU it is a clock read. With t0 taken just before the call (device idle):
- ttft = first stamp − t0: input checks, cache set-up, the prefill pass and the first token's logits;
- ms_per_token = (last stamp − first stamp) / (new_tokens − 1): the mean decode step, prefill excluded;
  step_ms_p50 / step_ms_p90: percentiles of the single steps (a one-off stall, such as CUDA graphs being
  re-recorded for a call's new static cache, moves the mean but not the median).
End-of-sequence is disabled (min_new_tokens = max_new_tokens), greedy, so every run has the same length.

Profiles: `plain` is eager `generate` with the default dynamic cache. `tuned` is the library's own compiled
path: `cache_implementation="static"`, for which transformers compiles the decode step with its default
CompileConfig (inductor, mode "reduce-overhead": CUDA graphs); the prefill stays eager. transformers compiles
only on accelerators: on the CPU the tuned profile is a static-cache eager run and the row says compiled=false.
The first compiled call compiles: it is a warm-up run; compile_s = its duration − a measured run's.
"""

from __future__ import annotations

import statistics
import time

import torch
from transformers import LogitsProcessor, LogitsProcessorList

from benchmarks.data import pattern_batch
from benchmarks.measure import (
    EnergyMeter,
    peak_memory,
    percentile,
    quiet_gc,
    reset_peak_memory,
    slow_down,
    slowdown_fraction,
    sync,
    window_figures,
    write_profile,
)

WARMUP_TOKENS = (
    4  # eager warm-up runs: prefill and a few decode steps at the measured shapes load the kernels
)


class TokenClock(LogitsProcessor):
    """Stamps the moment each generated token's logits are ready (see the module docstring); passes them on."""

    def __init__(self, device: str):
        self.cuda = device == "cuda"
        self.start_mark, self.marks = None, []

    def _mark(self):
        if self.cuda:
            event = torch.cuda.Event(enable_timing=True)
            event.record()
            return event
        return time.perf_counter()

    def start(self) -> None:
        self.slow = slowdown_fraction()  # read once per measured run, not once per token
        self.start_mark, self.marks, self.host_s = self._mark(), [], time.perf_counter()

    def __call__(self, input_ids, scores):
        if self.slow:  # testing the gate only: the step ends on the device, then its extra work
            sync("cuda" if self.cuda else "cpu")
            slow_down(time.perf_counter() - self.host_s)
            self.host_s = time.perf_counter()
        self.marks.append(self._mark())
        return scores

    def seconds(self) -> list[float]:
        """Seconds from start() to each stamp (synchronises the device first)."""
        if self.cuda:
            torch.cuda.synchronize()
            return [self.start_mark.elapsed_time(m) / 1000.0 for m in self.marks]
        return [m - self.start_mark for m in self.marks]


def prompts(batch: int, prompt_len: int, vocab_size: int, device: str, seed: int) -> torch.Tensor:
    """Synthetic prompts (benchmarks/data.py): cost depends on lengths, not on which tokens they are."""
    return pattern_batch(batch, prompt_len, vocab_size, torch.Generator().manual_seed(seed)).to(device)


def hf_model(model):
    """The transformers model inside a peft wrapper (or the model itself)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def generate_once(
    model,
    ids: torch.Tensor,
    new_tokens: int,
    *,
    static: bool,
    device: str,
    adapter_names: list[str] | None = None,
    extra: list | None = None,
) -> dict:
    """One timed greedy generate call of exactly `new_tokens` tokens (`extra`: more logits processors)."""
    clock = TokenClock(device)
    processors = LogitsProcessorList([clock, *(extra or [])])
    kwargs = {
        "input_ids": ids,
        "attention_mask": torch.ones_like(ids),
        "max_new_tokens": new_tokens,
        "min_new_tokens": new_tokens,
        "do_sample": False,
        "logits_processor": processors,
    }
    if static:
        kwargs["cache_implementation"] = "static"
    if adapter_names is not None:
        kwargs["adapter_names"] = adapter_names
    sync(device)
    clock.start()
    start = time.perf_counter()
    out = model.generate(**kwargs)
    sync(device)
    total_s = time.perf_counter() - start
    marks = clock.seconds()
    if len(marks) != new_tokens or out.shape[1] != ids.shape[1] + new_tokens:
        raise RuntimeError(
            f"generate made {out.shape[1] - ids.shape[1]} tokens ({len(marks)} stamps), "
            f"asked for exactly {new_tokens}"
        )
    steps_s = [b - a for a, b in zip(marks[:-1], marks[1:], strict=True)]
    return {
        "ttft_s": marks[0],
        "decode_s": marks[-1] - marks[0],
        "steps_s": steps_s,
        "total_s": total_s,
        "tokens": out,
    }


def measure_generation(
    model,
    ids: torch.Tensor,
    *,
    new_tokens: int,
    static: bool,
    warmup: int,
    repeats: int,
    device: str,
    adapter_names: list[str] | None = None,
) -> dict:
    """Warm-up runs, then `repeats` measured runs (peak memory reset before them); medians of the figures.
    new_tokens = 1 measures prefill (time to first token) only. `static`: the compiled static-cache path."""
    # A compiled static-cache run must warm up at the measured length (another length is another graph).
    warm_tokens = new_tokens if static else min(new_tokens, WARMUP_TOKENS)
    warm = [
        generate_once(model, ids, warm_tokens, static=static, device=device, adapter_names=adapter_names)
        for _ in range(warmup)
    ]
    reset_peak_memory(device)
    meter = EnergyMeter(device)
    with meter.measure() as energy, quiet_gc():  # benchmarks/measure.py: no whole-heap collection mid-run
        runs = [
            generate_once(model, ids, new_tokens, static=static, device=device, adapter_names=adapter_names)
            for _ in range(repeats)
        ]
    batch, prompt_len = ids.shape
    ttft_s = statistics.median(r["ttft_s"] for r in runs)
    total_s = statistics.median(r["total_s"] for r in runs)
    metrics = {
        "ttft_ms": ttft_s * 1000,
        "prefill_tokens_per_s": batch * prompt_len / ttft_s,
        **window_figures("prefill_tokens_per_s", [batch * prompt_len / r["ttft_s"] for r in runs]),
        "generate_s": total_s,
        **peak_memory(device),
        "energy_j_per_token": None
        if energy["joules"] is None
        else energy["joules"] / (repeats * batch * new_tokens),
    }
    if new_tokens > 1:
        step_s = statistics.median(r["decode_s"] / (new_tokens - 1) for r in runs)
        steps_ms = [s * 1000 for r in runs for s in r["steps_s"]]
        metrics |= {
            "ms_per_token": step_s * 1000,
            "decode_tokens_per_s": batch / step_s,
            "ms_per_token_spread": _spread_ms(runs, new_tokens),
            **window_figures("ms_per_token", [r["decode_s"] / (new_tokens - 1) * 1000 for r in runs]),
            "step_ms_p50": percentile(steps_ms, 50),
            "step_ms_p90": percentile(steps_ms, 90),
        }
    if static:
        compiled = hasattr(hf_model(model), "_compiled_call")
        metrics |= {"compiled": compiled, "compile_s": warm[0]["total_s"] - total_s if compiled else None}
    return metrics


def _spread_ms(runs: list[dict], new_tokens: int) -> float:
    """Max − min of the per-token time over the measured runs (how stable the median is)."""
    per_token = [r["decode_s"] / (new_tokens - 1) * 1000 for r in runs]
    return max(per_token) - min(per_token)


@torch.no_grad()
def continuation_logits(model, seq: torch.Tensor, n: int) -> torch.Tensor:
    """fp32 logits predicting the last `n` tokens of `seq` (teacher-forced: one forward pass)."""
    logits = model(input_ids=seq, attention_mask=torch.ones_like(seq), logits_to_keep=n + 1).logits
    return logits[:, :-1].float()


def compare_logits(reference: torch.Tensor, other: torch.Tensor) -> dict:
    """Relative L2 difference per position (‖other − reference‖ / ‖reference‖ over the vocabulary), its max
    and mean, the largest absolute difference, and the share of positions with the same greedy token."""
    rel = (other - reference).norm(dim=-1) / reference.norm(dim=-1).clamp_min(torch.finfo(torch.float32).tiny)
    return {
        "logit_rel_diff_max": float(rel.max()),
        "logit_rel_diff_mean": float(rel.mean()),
        "logit_abs_diff_max": float((other - reference).abs().max()),
        "token_agreement": float((other.argmax(-1) == reference.argmax(-1)).float().mean()),
        "compared_tokens": int(rel.numel()),
    }


PROFILE_STEPS = 8  # decode steps recorded (the last ones of the call): the profile stays small at any length


class _ProfilerStep(LogitsProcessor):
    """Advances the profiler's schedule at each new token, so that only chosen decode steps are recorded."""

    def __init__(self, prof):
        self.prof = prof

    def __call__(self, input_ids, scores):
        self.prof.step()
        return scores


def profile_generation(
    model,
    ids: torch.Tensor,
    new_tokens: int,
    *,
    static: bool,
    device: str,
    label: str,
    adapter_names: list[str] | None = None,
) -> None:
    """Where the time of one (warm) generate call goes, by operator, appended to $PEFTPLAN_PROFILE_OUT when set
    (after the measured runs: the figures of the row are not taken under the profiler). Prefill alone
    (new_tokens 1): the prefill; else the last PROFILE_STEPS decode steps before the last."""
    steps = min(PROFILE_STEPS, max(new_tokens - 2, 1))
    wait = 0 if new_tokens == 1 else new_tokens - 1 - steps
    what = "the prefill" if new_tokens == 1 else f"{steps} decode steps"

    def run(prof) -> None:
        generate_once(
            model,
            ids,
            new_tokens,
            static=static,
            device=device,
            adapter_names=adapter_names,
            extra=[_ProfilerStep(prof)],
        )

    write_profile(f"{label}: {new_tokens} new tokens", what, run, device, (wait, steps))
