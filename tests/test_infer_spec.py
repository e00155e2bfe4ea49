"""InferSpec validation, and the inference entries of the built-in suites (no torch needed)."""

from __future__ import annotations

import pytest

from benchmarks.infer_spec import InferSpec
from benchmarks.spec import build_spec
from benchmarks.suites import load_suite
from core.errors import InputError
from core.vocab import MODES, TASKS


def spec(**values) -> InferSpec:
    base = {
        "model": "tiny-llama",
        "mode": "dynamic",
        "task": "decode",
        "device": "cpu",
        "prompt_len": 32,
        "new_tokens": 8,
    }
    return InferSpec(**{**base, **values})


def test_round_trip_through_a_dict_keeps_the_hash():
    s = spec(targets=("q_proj", "v_proj"), n_adapters=1)
    again = build_spec(InferSpec, s.to_dict(), where="test")
    assert again == s and again.hash == s.hash
    assert s.to_dict()["targets"] == ["q_proj", "v_proj"]


def test_hash_differs_by_mode_only_where_the_mode_differs():
    assert spec(mode="merged").hash != spec(mode="dynamic").hash
    assert spec(mode="merged").hash == spec(mode="merged").hash


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"mode": "base", "task": "merge"}, "mode"),
        ({"mode": "merged", "task": "mixed"}, "mode"),
        ({"mode": "dynamic", "task": "fidelity"}, "mode"),
        ({"mode": "base", "task": "adapters"}, "mode"),
        ({"task": "adapters", "n_adapters": 2, "profile": "tuned"}, "profile"),
        ({"memory_cap_gib": 0}, "memory_cap_gib"),
        ({"profile": "tuned", "warmup": 0}, "warmup"),
        ({"task": "adapters", "n_adapters": 1}, "n_adapters"),
        ({"task": "mixed", "batch": 2, "n_adapters": 3}, "n_adapters"),
        ({"task": "decode", "n_adapters": 2}, "n_adapters"),
        ({"task": "decode", "new_tokens": 1}, "new_tokens"),
        ({"base": "nf4", "dtype": "fp32"}, "dtype"),
        ({"base": "int8"}, "base"),
        ({"mode": "lora"}, "mode"),
        ({"task": "serve"}, "task"),
        ({"prompt_len": 500, "new_tokens": 100}, "prompt_len"),
        ({"batch": 0}, "batch"),
        ({"repeats": 0}, "repeats"),
        ({"targets": ("q_proj", "lm_head")}, "targets"),
        ({"allow_mismatch": "yes"}, "allow_mismatch"),
        ({"model": "llama-9"}, "model"),
    ],
)
def test_invalid_specs_are_refused_with_one_error_naming_the_field(values, field):
    with pytest.raises(InputError) as info:
        spec(**values)
    assert info.value.field == field
    assert "accepted" in str(info.value)


def test_lengths_are_checked_only_where_the_task_runs_tokens():
    spec(task="merge", mode="merged", prompt_len=512, new_tokens=128)  # merge runs no tokens: fine
    spec(task="prefill", mode="base", prompt_len=512, new_tokens=128)  # prefill reads prompt_len only
    with pytest.raises(InputError):
        spec(task="prefill", mode="base", prompt_len=513)


def test_a_saved_adapter_must_be_a_peft_folder_and_serve_one_adapter(tmp_path):
    with pytest.raises(InputError) as info:
        spec(adapter=str(tmp_path))
    assert info.value.field == "adapter" and "adapter_config.json" in str(info.value)
    (tmp_path / "adapter_config.json").write_text("{}")
    assert spec(adapter=str(tmp_path)).adapter == str(tmp_path)
    with pytest.raises(InputError):
        spec(adapter=str(tmp_path), mode="base")
    with pytest.raises(InputError):
        spec(adapter=str(tmp_path), task="mixed")


def test_cpu_smoke_covers_every_mode_and_task():
    entries = load_suite("cpu-smoke", "infer")
    assert {e.spec.task for e in entries} == set(TASKS)
    assert {e.spec.mode for e in entries} == set(MODES)
    assert {e.spec.base for e in entries} == {"bf16", "nf4"}
    assert all(e.spec.device == "cpu" for e in entries)
    assert len(entries) <= 6  # each spec pays a process start: the suite must stay under a minute


def test_h200_standard_inference_part():
    entries = load_suite("h200-standard", "infer")
    assert 10 <= len(entries) <= 25
    assert all(e.spec.device == "cuda" for e in entries)
    names = {e.spec.model for e in entries}
    assert {"llama-3.1-8b", "qwen2.5-7b", "llama-3.1-70b"} <= names
    tuned = [e for e in entries if e.spec.profile == "tuned"]
    assert {e.spec.mode for e in tuned} == {"merged", "dynamic"}
    assert all(e.timeout_s >= 300 for e in tuned)  # the first compiled call compiles for 35-50 s
    seventy = [e for e in entries if e.spec.model == "llama-3.1-70b"]
    assert [(e.spec.base, e.spec.mode, e.spec.task, e.spec.batch) for e in seventy] == [
        ("nf4", "dynamic", "decode", 1)
    ]


def test_suite_defaults_reach_only_the_kinds_that_have_the_field(tmp_path):
    suite = tmp_path / "s.toml"
    suite.write_text(
        '[defaults]\ndevice = "cpu"\nlr = 0.01\nwarmup = 0\n'
        '[[train]]\nname = "t"\nmodel = "tiny-llama"\nmethod = "lora"\nseq_len = 64\n'
        '[[infer]]\nname = "i"\nmodel = "tiny-llama"\nmode = "base"\ntask = "prefill"\nprompt_len = 8\n'
    )
    (train,) = load_suite(str(suite), "train")
    (infer,) = load_suite(str(suite), "infer")
    assert train.spec.lr == 0.01 and infer.spec.warmup == 0 and infer.spec.device == "cpu"
    suite.write_text(
        '[defaults]\nlearning_rate = 0.01\n[[infer]]\nname = "i"\nmodel = "tiny-llama"\nmode = "base"\n'
        'task = "prefill"\nprompt_len = 8\n'
    )
    with pytest.raises(InputError) as info:
        load_suite(str(suite), "infer")
    assert info.value.field == "learning_rate" and "[defaults]" in str(info.value)


def test_a_suite_entry_with_a_bad_combination_names_the_file_and_entry(tmp_path):
    suite = tmp_path / "bad.toml"
    suite.write_text('[[infer]]\nname = "oops"\nmodel = "tiny-llama"\nmode = "base"\ntask = "merge"\n')
    with pytest.raises(InputError) as info:
        load_suite(str(suite), "infer")
    message = str(info.value)
    assert "bad.toml" in message and "oops" in message and "field 'mode'" in message
