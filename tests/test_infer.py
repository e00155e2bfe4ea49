"""The inference benchmark on tiny models: exactness of merged vs dynamic and of mixed batches, fixed-length
generation, the NF4 merge, and every mode and task through the real isolated runner (CPU; GPU-marked where CUDA)."""

from __future__ import annotations

import pytest
import torch

from benchmarks.adapters import add_random_adapter, base_weight, lora_layers
from benchmarks.infer import COMMON_METRICS, NULL_ON_CPU, TASK_METRICS, build_base, run_infer
from benchmarks.infer_ops import generate_once, measure_generation, prompts
from benchmarks.infer_spec import InferSpec
from benchmarks.runner import run_isolated, run_sweep
from benchmarks.suites import Entry, load_suite
from core.rows import read_rows, validate_row
from core.vocab import MODES, TASKS


def tiny(**values) -> InferSpec:
    base = {"model": "tiny-llama", "device": "cpu", "rank": 4, "alpha": 8, "prompt_len": 16, "new_tokens": 8}
    return InferSpec(**{**base, **values})


def fp32_model_with_adapters(names: list[str]):
    model, _ = build_base(tiny(mode="dynamic", task="decode", dtype="fp32"))
    for i, name in enumerate(names):
        model = add_random_adapter(model, name, rank=4, alpha=8, targets="all-linear", seed=10 + i)
    return model


def test_merged_and_dynamic_logits_agree_in_fp32():
    m = run_infer(tiny(mode="merged", task="fidelity", dtype="fp32", batch=2, new_tokens=16))
    assert m["logit_rel_diff_max"] < 1e-4
    assert m["token_agreement"] == 1.0 and m["compared_tokens"] == 32
    assert m["adapter_rel_diff_mean"] > 1e-3  # the adapter moves the logits: the agreement is not trivial


def test_merging_into_bf16_drifts_by_rounding_only():
    m = run_infer(tiny(mode="merged", task="fidelity", batch=2, new_tokens=16))
    assert 0 < m["logit_rel_diff_mean"] < 0.05


@torch.no_grad()
def test_a_mixed_adapter_batch_equals_each_adapter_alone_row_by_row():
    names = ["a0", "a1", "a2"]
    model = fp32_model_with_adapters(names)
    ids = prompts(4, 12, 256, "cpu", seed=0)
    rows = ["a0", "a1", "a2", "a0"]
    mixed = model(input_ids=ids, adapter_names=rows).logits
    for i, name in enumerate(rows):
        model.set_adapter(name)
        torch.testing.assert_close(mixed[i], model(input_ids=ids[i : i + 1]).logits[0], atol=1e-5, rtol=1e-5)
    model.set_adapter("a1")
    assert not torch.allclose(mixed[0], model(input_ids=ids[0:1]).logits[0], atol=1e-3)  # adapters differ


def test_mixed_generation_equals_each_adapter_generating_alone():
    names = ["a0", "a1"]
    model = fp32_model_with_adapters(names)
    ids = prompts(4, 12, 256, "cpu", seed=1)
    rows = ["a0", "a1", "a1", "a0"]
    mixed = generate_once(model, ids, 6, static=False, device="cpu", adapter_names=rows)["tokens"]
    for i, name in enumerate(rows):
        model.set_adapter(name)
        alone = generate_once(model, ids[i : i + 1], 6, static=False, device="cpu")["tokens"]
        assert torch.equal(mixed[i], alone[0])


def test_generation_length_is_fixed_even_when_almost_every_token_ends_a_sequence():
    model, _ = build_base(tiny(mode="base", task="decode"))
    model.generation_config.eos_token_id = list(
        range(1, 256)
    )  # without min_new_tokens, generate stops at once
    ids = prompts(2, 8, 256, "cpu", seed=0)
    run = generate_once(model, ids, 5, static=False, device="cpu")
    assert run["tokens"].shape == (2, 13) and run["ttft_s"] > 0 and run["decode_s"] > 0


def test_decode_figures_are_consistent_and_the_static_cache_path_says_if_it_compiled():
    model, _ = build_base(tiny(mode="base", task="decode"))
    ids = prompts(3, 8, 256, "cpu", seed=0)
    m = measure_generation(model, ids, new_tokens=6, static=True, warmup=1, repeats=3, device="cpu")
    assert m["decode_tokens_per_s"] == pytest.approx(3 / (m["ms_per_token"] / 1000))
    assert m["prefill_tokens_per_s"] == pytest.approx(3 * 8 / (m["ttft_ms"] / 1000))
    assert m["ttft_ms"] < m["generate_s"] * 1000
    assert m["compiled"] is False and m["compile_s"] is None  # transformers compiles on accelerators only


def test_an_nf4_merge_after_a_forward_gives_the_merged_weights():
    model, _ = build_base(tiny(mode="merged", task="merge", base="nf4"))
    model = add_random_adapter(model, "a0", rank=4, alpha=8, targets="all-linear", seed=0)
    layer = lora_layers(model, "a0")[0]
    expected = base_weight(layer).float() + layer.get_delta_weight("a0").float()
    with torch.no_grad():
        model(input_ids=prompts(1, 8, 256, "cpu", seed=0))  # a forward first, as in the fidelity task
    layer.merge()
    merged = base_weight(layer).float()
    # re-quantising to NF4 costs ~10% of the weight's norm; a misread weight layout costs over 100%
    assert (merged - expected).norm() / expected.norm() < 0.2


def test_the_nf4_merge_stays_4bit_and_says_how_it_merged():
    m = run_infer(tiny(mode="merged", task="merge", base="nf4", warmup=0, repeats=1))
    assert "NF4" in m["merge_method"] and "re-quantised" in m["merge_method"]
    assert m["weights_gib"] == pytest.approx(m["base_weights_gib"], rel=0.05)
    assert m["unmerge_weight_rel_diff"] > 1e-3  # merge + unmerge re-quantises twice: the base weights move


def check_row(row: dict) -> None:
    validate_row(row)
    assert row["status"] == "ok", row["error"]
    metrics, spec = row["metrics"], row["spec"]
    for key in COMMON_METRICS + TASK_METRICS[spec["task"]]:
        assert key in metrics, f"{row['name']}: no {key}"
        if key not in NULL_ON_CPU:
            assert metrics[key] is not None, f"{row['name']}: {key} is null"
    if spec["mode"] == "merged" and spec["task"] != "merge":
        assert metrics["merge_s"] > 0 and metrics["merge_method"]


@pytest.mark.slow
def test_every_mode_and_task_gives_ok_rows_through_the_runner(tmp_path):
    entries = load_suite("cpu-smoke", "infer")
    out = tmp_path / "infer.jsonl"
    summary = run_sweep(entries, out, device_name="cpu", progress=False)
    assert summary.counts == {"ok": len(entries)}
    rows = read_rows(out)
    for row in rows:
        check_row(row)
    assert {r["spec"]["mode"] for r in rows} == set(MODES)
    assert {r["spec"]["task"] for r in rows} == set(TASKS)
    assert all(r["spec_hash"] == e.spec.hash for r, e in zip(rows, entries, strict=True))
    summary = run_sweep(entries, out, device_name="cpu", progress=False)  # resume: nothing left to do
    assert summary.skipped == len(entries)


@pytest.mark.gpu
@pytest.mark.slow
@pytest.mark.parametrize(
    "values",
    [
        {"mode": "dynamic", "task": "decode", "profile": "tuned", "warmup": 2},
        {"mode": "merged", "task": "decode", "base": "nf4"},
        {"mode": "dynamic", "task": "mixed", "batch": 4, "n_adapters": 2},
        {"mode": "merged", "task": "fidelity", "base": "nf4", "batch": 2},
        {"mode": "dynamic", "task": "adapters", "n_adapters": 2},
        {"mode": "merged", "task": "merge", "base": "nf4"},
    ],
)
def test_tiny_specs_on_cuda(values):
    entry = Entry(kind="infer", name="gpu", spec=tiny(device="cuda", **values), timeout_s=300)
    row = run_isolated(entry)
    validate_row(row)
    assert row["status"] == "ok", row["error"]
    metrics = row["metrics"]
    for key in COMMON_METRICS + TASK_METRICS[values["task"]]:
        assert metrics.get(key) is not None, f"no {key}"
    if values.get("profile") == "tuned":
        assert metrics["compiled"] is True and metrics["compile_s"] > 0
