"""The regression gate on crafted rows whose verdicts are known, and on the committed H200 rows."""

from __future__ import annotations

import itertools
import json

import pytest

from core.errors import InputError
from core.paths import DATA_DIR
from peftplan.cli import main
from planner.regress import BASELINES_DIR, Sample, Threshold, device_class, judge, load_thresholds

T = [Threshold("tokens_per_s", "higher", 0.05), Threshold("peak_allocated_gib", "lower", 0.05)]
STEADY = [1000, 1004, 996, 1002, 998]  # 0.8% spread


def _row(
    name,
    windows=STEADY,
    peak=10.0,
    status="ok",
    device="NVIDIA H200",
    ts="2026-11-29T00:00:00+00:00",
    **extra,
):
    metrics = {
        "tokens_per_s_windows": windows,
        "tokens_per_s": sum(windows) / len(windows),
        "peak_allocated_gib": peak,
    }
    return {
        "schema_version": 1,
        "kind": "train",
        "name": name,
        "status": status,
        "error": None if status == "ok" else "boom",
        "spec": {"model": "m", "method": "lora"},
        "spec_hash": f"h-{name}",
        "code_version": "c",
        "metrics": metrics if status == "ok" else {},
        "provenance": {
            "git_commit": "x",
            "git_dirty": False,
            "torch": "t",
            "transformers": "t",
            "peft": "p",
            "bitsandbytes": "b",
            "device_name": device,
            "timestamp": ts,
            **extra,
        },
    }


def _scaled(factor, windows=STEADY):
    return [w * factor for w in windows]


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def _gate(tmp_path, base_rows, new_rows, *flags):
    base = (
        _write(tmp_path / "base.jsonl", base_rows)
        if base_rows is not None
        else str(tmp_path / "absent.jsonl")
    )
    return main(["results", "compare", base, _write(tmp_path / "new.jsonl", new_rows), *flags])


def test_judge_needs_the_tolerance_and_separated_windows():
    base = Sample(tuple(STEADY))
    assert judge(T[0], base, Sample(tuple(_scaled(0.90)))) == (pytest.approx(-0.10), "regressed")
    assert judge(T[0], base, Sample(tuple(_scaled(1.10))))[1] == "improved"
    assert judge(T[0], base, Sample(tuple(_scaled(0.97))))[1] == "ok"  # separated, but within 5%
    noisy = Sample((700.0, 1100.0, 900.0, 1200.0, 920.0))  # median 8% lower, windows overlap the baseline's
    assert judge(T[0], base, noisy)[1] == "noisy"
    assert (
        judge(T[1], Sample((10.0,)), Sample((10.6,)))[1] == "regressed"
    )  # one figure: the tolerance decides
    assert judge(T[1], Sample((10.0,)), Sample((9.0,)))[1] == "improved"


def test_false_alarm_rate_of_five_windows_a_side_is_one_in_252():
    """Two runs of exchangeable windows: of all C(10, 5) ways the ten figures fall to the two runs, exactly
    one has every new window below every baseline window."""
    values = [1000.0 + i for i in range(10)]  # 0.9% apart: within the tolerance, so disable it
    t = Threshold("tokens_per_s", "higher", 0.0)
    verdicts = []
    for new_idx in itertools.combinations(range(10), 5):
        new = Sample(tuple(values[i] for i in new_idx))
        base = Sample(tuple(values[i] for i in range(10) if i not in new_idx))
        verdicts.append(judge(t, base, new)[1])
    assert len(verdicts) == 252 and verdicts.count("regressed") == 1 and verdicts.count("improved") == 1


def test_real_regression_fails_with_exit_1_and_names_the_spec(tmp_path, capsys):
    assert _gate(tmp_path, [_row("a"), _row("b")], [_row("a", _scaled(0.9)), _row("b")]) == 1
    out = capsys.readouterr().out
    assert "regressed: a: tokens_per_s -10.0%" in out and "regressed: b" not in out


def test_improvement_and_noise_pass(tmp_path):
    noisy = [700, 1100, 900, 1200, 920]
    assert _gate(tmp_path, [_row("a"), _row("b")], [_row("a", _scaled(1.2)), _row("b", noisy)]) == 0


def test_memory_growth_beyond_tolerance_regresses(tmp_path):
    assert _gate(tmp_path, [_row("a")], [_row("a", peak=11.0)]) == 1


def test_missing_baseline_fails_unless_first_run_is_accepted(tmp_path, capsys):
    assert _gate(tmp_path, None, [_row("a")]) == 3
    assert "no baseline for device class 'h200'" in capsys.readouterr().out
    assert _gate(tmp_path, None, [_row("a")], "--accept-first-run") == 0
    assert _gate(tmp_path, [_row("a", device="NVIDIA H100 80GB HBM3")], [_row("a")]) == 3


def test_device_strings_normalise_to_classes(tmp_path, capsys):
    assert device_class("NVIDIA H200") == device_class("nvidia  h200") == "h200"
    assert device_class("NVIDIA H200 NVL") == "h200-nvl" and device_class(None) is None
    assert _gate(tmp_path, [_row("a")], [_row("a", device="nvidia h200")]) == 0
    assert (
        _gate(tmp_path, [_row("a")], [_row("a", device="NVIDIA H200 NVL")]) == 3
    )  # another product: no baseline
    assert "baselines exist for: h200" in capsys.readouterr().out


def test_mixed_devices_in_one_run_fail(tmp_path):
    base = [_row("a"), _row("b", device="NVIDIA H100 80GB HBM3")]
    assert _gate(tmp_path, base, [_row("a"), _row("b", device="NVIDIA H100 80GB HBM3")]) == 9


def test_missing_spec_on_either_side_fails(tmp_path, capsys):
    assert _gate(tmp_path, [_row("a"), _row("b")], [_row("a")]) == 5
    assert "b: in the baseline, not in the new run" in capsys.readouterr().out
    assert _gate(tmp_path, [_row("a")], [_row("a"), _row("c")]) == 5


def test_error_row_where_the_baseline_was_ok_fails(tmp_path, capsys):
    assert _gate(tmp_path, [_row("a"), _row("b")], [_row("a"), _row("b", status="oom")]) == 6
    # every spec crashed before it saw a device: the rows still meet the baseline
    assert _gate(tmp_path, [_row("a")], [_row("a", status="error", device=None)]) == 6
    assert "a: 'error' where the baseline was ok" in capsys.readouterr().out


def test_empty_or_absent_new_run_fails(tmp_path):
    assert _gate(tmp_path, [_row("a")], []) == 4
    base = _write(tmp_path / "base.jsonl", [_row("a")])
    assert main(["results", "compare", base, str(tmp_path / "never-written.jsonl")]) == 4


def test_null_renamed_or_missing_metric_fails(tmp_path):
    for metrics in ({"tokens_per_s": None}, {"tokens_per_sec": 1000.0}, {}):
        new = _row("a")
        new["metrics"] = {**metrics, "peak_allocated_gib": 10.0}
        assert _gate(tmp_path, [_row("a")], [new]) == 7


def test_thresholds_that_gate_nothing_fail(tmp_path):
    thresholds = tmp_path / "t.toml"
    thresholds.write_text('[metrics.ms_per_token]\nbetter = "lower"\ntolerance = 0.05\n')
    assert _gate(tmp_path, [_row("a")], [_row("a")], "--thresholds", str(thresholds)) == 8


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("metrics = 5\n", "metrics"),
        ("", "metrics"),
        ('[metrics.tokens_per_s]\nbetter = "faster"\ntolerance = 0.05\n', "better"),
        ("[metrics.tokens_per_s]\nbetter = 'higher'\ntolerance = 5\n", "tolerance"),
        ("[metric]\n", "metric"),
        ("[metrics.tokens_per_s]\nbetter = 'higher'\ntolerance = 0.05\nwindow = 3\n", "window"),
        ("metrics = [", "TOML"),
    ],
)
def test_malformed_thresholds_are_one_message_and_exit_2(tmp_path, capsys, text, field):
    bad = tmp_path / "t.toml"
    bad.write_text(text)
    with pytest.raises(InputError, match=field):
        load_thresholds(bad)
    assert _gate(tmp_path, [_row("a")], [_row("a")], "--thresholds", str(bad)) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "Traceback" not in err


def test_a_slowed_baseline_is_refused(tmp_path):
    assert _gate(tmp_path, [_row("a", test_slowdown=0.1)], [_row("a")]) == 2


def test_markdown_summary_holds_a_table(tmp_path):
    summary = tmp_path / "summary.md"
    assert _gate(tmp_path, [_row("a")], [_row("a", _scaled(0.9))], "--summary", str(summary)) == 1
    text = summary.read_text()
    assert "| a | tokens_per_s | 1,000 ±0.4% | 900 ±0.4% | -10.0% | ❌ regressed |" in text
    assert len(text) < 65536


PROOF_DIR = DATA_DIR / "regression" / "proof"


def test_shipped_thresholds_and_baseline_pass_the_unchanged_run_and_fail_the_slowdown(capsys):
    """The committed H200 rows: the baseline (run 1 of five unchanged runs) against run 2, and against the run
    with the testing-only 10% slowdown, which the gate fails on the GPU-bound specs."""
    assert {t.metric for t in load_thresholds()} >= {"tokens_per_s", "prefill_tokens_per_s", "ms_per_token"}
    assert main(["results", "compare", str(BASELINES_DIR), str(PROOF_DIR / "h200-run2.jsonl")]) == 0
    assert main(["results", "compare", str(BASELINES_DIR), str(PROOF_DIR / "h200-slowdown10.jsonl")]) == 1
    out = capsys.readouterr().out
    for spec in ("lora-r16-b2x1024", "qlora-r16-b4x1024", "merged-decode-b8x512", "dynamic-decode-b8x512"):
        assert f"regressed: ci-llama8b-{spec}" in out


def test_no_false_alarm_between_the_five_unchanged_h200_runs(capsys):
    """Every ordered pair of the five unchanged runs passes with the shipped thresholds."""
    runs = sorted(PROOF_DIR.glob("h200-run*.jsonl"))
    assert len(runs) == 5
    codes = [main(["results", "compare", str(a), str(b)]) for a, b in itertools.permutations(runs, 2)]
    assert codes == [0] * 20, capsys.readouterr().out


def test_a_training_window_is_its_median_step():
    """One stalled step moves its window little; a change that slows every step moves every window."""
    from benchmarks.train import step_windows

    steady = step_windows(1000, [1.0] * 15)
    stalled = step_windows(1000, [1.0] * 7 + [3.0] + [1.0] * 7)
    slower = step_windows(1000, [1.1] * 15)
    assert steady == stalled == [1000.0] * 5
    assert slower == pytest.approx([1000 / 1.1] * 5)
    assert step_windows(1000, [1.0, 2.0, 4.0]) == [1000.0, 500.0, 250.0]


def test_measured_windows_and_the_slowdown_switch(monkeypatch):
    from benchmarks.measure import split_windows, window_figures
    from benchmarks.provenance import host_provenance, slowdown_fraction

    assert split_windows(list(range(10))) == [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]]
    assert split_windows([1, 2, 3]) == [[1], [2], [3]] and [
        len(w) for w in split_windows(list(range(7)))
    ] == [2, 2, 1, 1, 1]
    figures = window_figures("x", [9.0, 10.0, 12.0])
    assert figures == {"x_windows": [9.0, 10.0, 12.0], "x_median": 10.0, "x_rel_spread": pytest.approx(0.3)}
    assert "test_slowdown" not in host_provenance()
    monkeypatch.setenv("PEFTPLAN_TEST_SLOWDOWN", "0.1")
    assert slowdown_fraction() == 0.1 and host_provenance()["test_slowdown"] == 0.1
    monkeypatch.setenv("PEFTPLAN_TEST_SLOWDOWN", "10%")
    with pytest.raises(InputError, match="PEFTPLAN_TEST_SLOWDOWN"):
        slowdown_fraction()


def test_regressions_page_shows_history_with_noise_bands(tmp_path, monkeypatch):
    """The Regressions page over an unchanged H200 run and the slowdown run: one series per spec, its noise
    band, and the gate's verdict on the step between the two rows."""
    import shutil

    from streamlit.testing.v1 import AppTest

    from dashboards import RESULTS_ENV

    folder = tmp_path / "results"
    folder.mkdir()
    shutil.copy(PROOF_DIR / "h200-run1.jsonl", folder / "a.jsonl")
    shutil.copy(PROOF_DIR / "h200-slowdown10.jsonl", folder / "b.jsonl")
    monkeypatch.setenv(RESULTS_ENV, str(folder))
    app = DATA_DIR.parent / "dashboards" / "app.py"
    at = AppTest.from_file(str(app), default_timeout=30).run()
    at.switch_page("views/regressions.py").run()
    assert not at.exception and not at.error
    fig = json.loads(at.get("plotly_chart")[0].proto.spec)
    names = [t.get("name") for t in fig["data"]]
    lora = next(n for n in names if n and n.startswith("noise band:") and " lora " in n)
    band = next(t for t in fig["data"] if t.get("name") == lora)
    assert max(band["y"]) > min(band["y"])  # the windows' spread, not a line
    steps = at.dataframe[-1].value
    verdicts = dict(zip(steps["spec"], steps["verdict"], strict=True))
    assert verdicts[lora.removeprefix("noise band: ")] == "regressed"


def test_committed_baseline_covers_the_ci_gpu_suite():
    """A spec change (a new hash) would make every CI run fail as "spec missing": refresh the baseline with it."""
    from benchmarks.suites import load_suite
    from core.rows import read_rows

    suite = {e.name: e.spec_hash for kind in ("train", "infer") for e in load_suite("ci-gpu", kind)}
    baseline = {r["name"]: r["spec_hash"] for r in read_rows(BASELINES_DIR / "h200.jsonl")}
    assert baseline == suite


def test_rows_carry_windows_and_the_slowdown_adds_its_share(monkeypatch):
    """The real training and decode code paths on a tiny model (CPU): windows, their median and spread; and
    the slowdown switch adds its fraction of a timed region inside that region."""
    import time

    from benchmarks.infer import run_infer
    from benchmarks.infer_spec import InferSpec
    from benchmarks.measure import timed
    from benchmarks.spec import TrainSpec
    from benchmarks.train import run_train

    train = run_train(
        TrainSpec(
            model="tiny-llama",
            method="lora",
            micro_batch=2,
            seq_len=32,
            warmup_steps=1,
            measure_steps=10,
            device="cpu",
        )
    )
    assert len(train["tokens_per_s_windows"]) == 5
    assert train["tokens_per_s_median"] == pytest.approx(sorted(train["tokens_per_s_windows"])[2])
    # the host's time to issue a step lies within the step; collections inside the region are counted
    assert 0 < train["host_issue_s_median"] <= train["step_time_median_s"]
    assert train["gc_collections"] >= 0 and train["gc_pause_s"] >= 0
    decode = run_infer(
        InferSpec(
            model="tiny-llama",
            mode="dynamic",
            task="decode",
            prompt_len=16,
            new_tokens=4,
            repeats=3,
            device="cpu",
        )
    )
    assert len(decode["ms_per_token_windows"]) == 3 and decode["ms_per_token_rel_spread"] >= 0
    assert len(decode["prefill_tokens_per_s_windows"]) == 3
    import benchmarks.measure as measure

    waits = []
    monkeypatch.setattr(measure.time, "sleep", lambda s: waits.append(s))  # the switch's wait, recorded
    timed("cpu", lambda: sum(range(10_000)))
    assert waits == []  # off: nothing added
    monkeypatch.setenv("PEFTPLAN_TEST_SLOWDOWN", "0.5")
    start = time.perf_counter()
    timed("cpu", lambda: sum(range(100_000)))
    work_s = time.perf_counter() - start
    assert len(waits) == 1 and 0 < waits[0] <= 0.5 * work_s  # half of the timed region's own duration
