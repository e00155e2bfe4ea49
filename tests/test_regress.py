"""The regression gate: hand-made row pairs whose verdicts are known."""

from __future__ import annotations

import json

import pytest

from core.errors import InputError
from peftplan.cli import main
from planner.regress import Threshold, compare, judge, load_thresholds


def _row(name, tokens_per_s, peak, status="ok", device="NVIDIA H200", ts="2026-11-29T00:00:00+00:00"):
    return {"schema_version": 1, "kind": "train", "name": name, "status": status, "error": None,
            "spec": {"model": "m", "method": "lora"}, "spec_hash": f"h-{name}", "code_version": "c",
            "metrics": {"tokens_per_s": tokens_per_s, "peak_allocated_gib": peak} if status == "ok" else {},
            "provenance": {"git_commit": "x", "git_dirty": False, "torch": "t", "transformers": "t", "peft": "p",
                           "bitsandbytes": "b", "device_name": device, "timestamp": ts}}  # fmt: skip


T = [Threshold("tokens_per_s", "higher", 0.05), Threshold("peak_allocated_gib", "lower", 0.05)]


def test_judge_by_hand():
    assert judge(T[0], 100.0, 94.0)[1] == "regressed"  # 6% slower
    assert judge(T[0], 100.0, 96.0)[1] == "ok"
    assert judge(T[0], 100.0, 106.0)[1] == "improved"
    assert judge(T[1], 10.0, 10.6)[1] == "regressed"  # 6% more memory
    assert judge(T[1], 10.0, 9.0)[1] == "improved"


def test_compare_pairs_rows_by_spec_and_device():
    base = [_row("a", 1000, 10), _row("b", 1000, 10), _row("c", 1000, 10), _row("d", 1000, 10, device="cpu")]
    new = [_row("a", 900, 10), _row("b", 1010, 10.1), _row("c", 0, 0, status="oom"), _row("d", 10, 10, device="cpu"), _row("a", 1, 1, device="NVIDIA H100")]
    verdicts = {(f.name, f.metric): f.verdict for f in compare(base, new, T)}
    assert verdicts[("a", "tokens_per_s")] == "regressed"
    assert verdicts[("b", "tokens_per_s")] == "ok" and verdicts[("b", "peak_allocated_gib")] == "ok"
    assert verdicts[("c", "status")] == "failed"
    assert verdicts[("d", "tokens_per_s")] == "regressed"  # same device (cpu) on both sides
    assert len([f for f in compare(base, new, T) if f.name == "a"]) == 2  # the H100 row has no baseline


def test_latest_row_wins():
    base = [_row("a", 1000, 10)]
    new = [_row("a", 500, 10, ts="2026-11-01T00:00:00+00:00"), _row("a", 1000, 10, ts="2026-11-02T00:00:00+00:00")]
    assert {f.verdict for f in compare(base, new, T)} == {"ok"}


def test_cli_exit_codes(tmp_path, capsys):
    base, good, bad = tmp_path / "base.jsonl", tmp_path / "good.jsonl", tmp_path / "bad.jsonl"
    base.write_text(json.dumps(_row("a", 1000, 10)) + "\n")
    good.write_text(json.dumps(_row("a", 1001, 10)) + "\n")
    bad.write_text(json.dumps(_row("a", 800, 10)) + "\n")
    assert main(["results", "compare", str(base), str(good)]) == 0
    assert main(["results", "compare", str(base), str(bad)]) == 1
    assert "regressed" in capsys.readouterr().out


def test_shipped_thresholds_load_and_bad_ones_are_named(tmp_path):
    assert {t.metric for t in load_thresholds()} >= {"tokens_per_s", "peak_allocated_gib", "ms_per_token"}
    bad = tmp_path / "t.toml"
    bad.write_text('[metrics.tokens_per_s]\nbetter = "faster"\ntolerance = 0.05\n')
    with pytest.raises(InputError, match="better"):
        load_thresholds(bad)
