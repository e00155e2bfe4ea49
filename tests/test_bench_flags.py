"""Every `peftplan bench` flag reaches what runs: the spec each entry carries, its time limit, the results
file, the filter and the sweep's options (run_sweep is replaced by a recorder; nothing is run)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

import benchmarks.cli as bench_cli
from peftplan.cli import main

# flag -> (value on the command line, the spec field it sets, the value the spec holds)
SPEC_FLAGS = {
    "--model": ("llama-3.2-1b", "model", "llama-3.2-1b"),
    "--method": ("qlora", "method", "qlora"),
    "--rank": ("8", "rank", 8),
    "--alpha": ("4", "alpha", 4),
    "--dropout": ("0.05", "dropout", 0.05),
    "--targets": ("q_proj,v_proj", "targets", ("q_proj", "v_proj")),
    "--micro-batch": ("3", "micro_batch", 3),
    "--seq-len": ("256", "seq_len", 256),
    "--grad-accum": ("2", "grad_accum", 2),
    "--optimizer": ("paged_adamw_8bit", "optimizer", "paged_adamw_8bit"),
    "--attn-impl": ("eager", "attn_impl", "eager"),
    "--profile": ("tuned", "profile", "tuned"),
    "--warmup-steps": ("5", "warmup_steps", 5),
    "--measure-steps": ("7", "measure_steps", 7),
    "--lr": ("0.002", "lr", 0.002),
    "--seed": ("11", "seed", 11),
}


@pytest.fixture
def recorded(monkeypatch):
    calls = []

    def run_sweep(entries, out, *, device_name, force, progress, device_shared=False):
        calls.append(SimpleNamespace(entries=entries, out=out, force=force, progress=progress))
        return SimpleNamespace(counts={"ok": len(entries)}, skipped=0, collected=0, stopped=None)

    monkeypatch.setattr(bench_cli, "run_sweep", run_sweep)
    return calls


def _run(argv, tmp_path) -> int:
    return main(["bench", "train", *argv, "--out", str(tmp_path / "rows.jsonl")])


def test_every_spec_flag_is_tested():
    flags = {flag for flag, _ in bench_cli.TRAIN_FLAGS}
    assert flags - {"--checkpoint"} == set(SPEC_FLAGS)


@pytest.mark.parametrize("flag", sorted(SPEC_FLAGS))
def test_spec_flag_reaches_the_spec(flag, recorded, tmp_path):
    value, field, expected = SPEC_FLAGS[flag]
    base = {"--model": "llama-3.2-1b", "--method": "lora"}
    argv = [a for k, v in {**base, flag: value}.items() for a in (k, v)]
    assert _run(argv, tmp_path) == 0
    (entry,) = recorded[0].entries
    assert getattr(entry.spec, field) == expected


def test_checkpoint_and_grad_checkpointing_reach_the_spec(recorded, tmp_path):
    folder = tmp_path / "weights"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    argv = ["--model", "mine", "--method", "lora", "--checkpoint", str(folder), "--grad-checkpointing"]
    assert _run(argv, tmp_path) == 0
    spec = recorded[0].entries[0].spec
    assert spec.checkpoint == str(folder) and spec.grad_checkpointing is True


def test_sweep_flags_reach_the_sweep(recorded, tmp_path):
    argv = [
        "--suite",
        "cpu-smoke",
        "--only",
        "tiny-llama-lora*",
        "--device",
        "cpu",
        "--force",
        "--no-progress",
    ]
    assert _run(argv, tmp_path) == 0
    call = recorded[0]
    assert [e.name for e in call.entries] == ["tiny-llama-lora-r8"]
    assert call.entries[0].spec.device == "cpu"
    assert call.force is True and call.progress is False and call.out == tmp_path / "rows.jsonl"
    # --timeout-s is a single spec's limit: beside --suite it is refused, not ignored
    assert _run([*argv, "--timeout-s", "77"], tmp_path) == 2
    single = [
        "--model",
        "tiny-llama",
        "--method",
        "lora",
        "--seq-len",
        "64",
        "--device",
        "cpu",
        "--timeout-s",
        "77",
    ]
    assert _run(single, tmp_path) == 0
    assert recorded[1].entries[0].timeout_s == 77 and recorded[1].entries[0].spec.device == "cpu"
    assert recorded[1].force is False and recorded[1].progress is True


def test_bench_all_runs_both_kinds_of_a_suite_in_one_sweep(recorded, tmp_path):
    """`bench all`: the suite's training entries then its inference entries, one sweep, one results file."""
    out = tmp_path / "rows.jsonl"
    argv = ["bench", "all", "--suite", "ci-gpu", "--only", "*-r16-*", "--out", str(out)]
    assert main(argv) == 0
    assert [e.kind for e in recorded[0].entries] == ["train", "train"] and recorded[0].out == out
    assert main(["bench", "all", "--suite", "ci-gpu", "--out", str(out)]) == 0
    kinds = [e.kind for e in recorded[1].entries]
    assert kinds == sorted(kinds, reverse=True) and set(kinds) == {"train", "infer"}
    assert main(["bench", "all", "--suite", "ci-gpu", "--only", "zzz", "--out", str(out)]) == 2
    assert main(["bench", "all", "--out", str(out)]) == 2  # a suite is needed: `all` has no single spec
    assert len(recorded) == 2


@pytest.mark.parametrize("given, expected", [(None, "1"), ("0", "0")])
def test_a_sweep_asks_nvml_for_gpus_unless_told_otherwise(given, expected, recorded, tmp_path, monkeypatch):
    """Workers fork from the sweep's server only where its imports left CUDA alone: NVML's count does."""
    monkeypatch.setenv(bench_cli.NVML_CHECK, given or "")  # restored after the test, whatever the sweep sets
    if given is None:
        monkeypatch.delenv(bench_cli.NVML_CHECK)
    assert _run(["--model", "llama-3.2-1b", "--method", "lora"], tmp_path) == 0
    assert bench_cli.os.environ[bench_cli.NVML_CHECK] == expected
