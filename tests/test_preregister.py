"""Pre-registered predictions: written for a suite before it is measured, scored against the rows measured
afterwards, never predicted again."""

from __future__ import annotations

import pytest
from test_planner_fixtures import measurements, train_row

from core.errors import InputError
from planner.measured import empty_measurements
from planner.plan_commands import _preregistered_heading
from planner.preregister import (
    committed_out_of_sample,
    load_predictions,
    out_of_sample,
    predict_suite,
    write_predictions,
)

SUITE = """
[defaults]
measure_steps = 3
[[train]]
name = "a"
model = "llama-3.1-8b"
method = "lora"
micro_batch = 2
[[train]]
name = "b"
model = "llama-3.2-1b"
method = "qlora"
targets = ["q_proj", "v_proj"]
"""


def test_predictions_are_scored_against_rows_measured_later(tmp_path):
    suite = tmp_path / "s.toml"
    suite.write_text(SUITE)
    preds = predict_suite(suite, "h200", empty_measurements())
    assert [p["name"] for p in preds] == ["a", "b"] and preds[0]["made_by"]["commit"]
    assert all(p["basis"]["tokens_per_s"] == "projected" for p in preds)
    path = tmp_path / "p.jsonl"
    write_predictions(preds, path)
    loaded = load_predictions(path)
    assert loaded == preds
    # "a" measured 10 % slower and 2 % larger than predicted; "b" not measured
    pa = preds[0]["predicted"]
    row = train_row(
        micro_batch=2,
        tokens_per_s=pa["tokens_per_s"] / 1.1,
        peak_allocated_gib=pa["peak_allocated_gib"] / 1.02,
    )
    frame, summary = out_of_sample(loaded, measurements(tmp_path / "rows", [row]))
    tps = frame[(frame["name"] == "a") & (frame["metric"] == "tokens_per_s")]["error_frac"].item()
    assert tps == pytest.approx(0.1)
    assert frame[frame["name"] == "b"]["measured"].isna().all()
    by_metric = summary.set_index("metric")
    assert by_metric.loc["tokens_per_s", "n"] == 1 and not by_metric.loc["tokens_per_s", "met"]
    assert by_metric.loc["peak_allocated_gib", "median_abs_error"] == pytest.approx(0.02)


def test_a_broken_predictions_file_names_file_and_row(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text('{"name": "x"}\n')
    with pytest.raises(InputError, match="row 1"):
        load_predictions(path)


def test_committed_sets_come_newest_first_and_say_what_they_score(tmp_path):
    suite = tmp_path / "s.toml"
    suite.write_text(SUITE)
    preds = predict_suite(suite, "h200", empty_measurements())
    folder = tmp_path / "predictions"
    older = [p | {"made_by": {"commit": "aaaa", "timestamp": "2026-01-01T00:00:00+00:00"}} for p in preds]
    newer = [p | {"made_by": {"commit": "bbbb", "timestamp": "2026-02-01T00:00:00+00:00"}} for p in preds]
    write_predictions(older, folder / "z-old.jsonl")  # named to sort first: the timestamp decides
    write_predictions(newer, folder / "a-new.jsonl")
    row = train_row(micro_batch=2, tokens_per_s=preds[0]["predicted"]["tokens_per_s"])
    sets = committed_out_of_sample(measurements(tmp_path / "rows", [row]), folder)
    assert [name for name, _, _ in sets] == ["a-new.jsonl", "z-old.jsonl"]
    heading = _preregistered_heading(sets[0][0], sets[0][1])
    assert "made by bbbb" in heading and "1 of 2 entries measured" in heading and "in sample" in heading
    unmeasured = committed_out_of_sample(empty_measurements(), folder)[0]
    assert "0 of 2 entries measured" in _preregistered_heading(unmeasured[0], unmeasured[1])
    assert "in sample" not in _preregistered_heading(unmeasured[0], unmeasured[1])


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('[[train]]\nname = "a"\nmodel = "llama-3.1-8b"\nmethod = "lora"\n', "duplicate entry name"),
        ('[[trian]]\nname = "c"\nmodel = "llama-3.1-8b"\nmethod = "lora"\n', "unknown table"),
        ('[[train]]\nmodel = "llama-3.1-8b"\nmethod = "lora"\n', "every entry needs a name"),
    ],
)
def test_a_suite_is_refused_as_the_benchmark_refuses_it(tmp_path, extra, message):
    from benchmarks.suites import load_suite

    suite = tmp_path / "s.toml"
    suite.write_text(SUITE + extra)
    with pytest.raises(InputError, match=message):
        predict_suite(suite, "h200", empty_measurements())
    with pytest.raises(InputError, match=message):
        load_suite(str(suite), "train")


def test_a_built_in_suite_is_predicted_entry_for_entry():
    from benchmarks.suites import load_suite

    preds = predict_suite("h200-oos", "h200", empty_measurements())
    assert [p["name"] for p in preds] == [e.name for e in load_suite("h200-oos", "train")]
