"""Leave-one-out accuracy: says so when there are no rows; reports each error, its median and its worst."""

from __future__ import annotations

import pytest
from test_planner_fixtures import measurements, train_row

from planner.accuracy import GOALS, leave_one_out
from planner.config import TrainConfig
from planner.measured import empty_measurements
from planner.memory_terms import memory_terms


def test_no_rows_says_so():
    report = leave_one_out(empty_measurements())
    assert report.empty and "no measured rows" in report.message and "peftplan bench train" in report.message


def test_rows_that_follow_the_model_are_predicted_exactly_and_a_bad_row_is_reported(tmp_path):
    # Test rows: peaks from the planner's own terms + 1.0 GiB, and one row 30 % off; tokens/s all equal
    # efficiency, so every left-out row is predicted from the others' median.
    rows = []
    for batch, seq in [(1, 1024), (2, 2048), (4, 2048), (2, 4096)]:
        t = memory_terms(TrainConfig("llama-3.1-8b", micro_batch=batch, seq_len=seq))
        rows.append(
            train_row(
                micro_batch=batch, seq_len=seq, peak_allocated_gib=sum(t.values()) + 1.0, tokens_per_s=None
            )
        )
    rows.append(train_row(micro_batch=8, seq_len=512, peak_allocated_gib=1.3 * 60.0, tokens_per_s=None))
    report = leave_one_out(measurements(tmp_path, rows))
    assert set(report.rows.metric) == {"peak_allocated_gib"} and len(report.rows) == 5
    summary = report.summary.set_index("metric").loc["peak_allocated_gib"]
    assert summary.n == 5 and summary.worst_abs_error == report.rows.error_frac.abs().max()
    assert summary.median_abs_error == pytest.approx(report.rows.error_frac.abs().median())
    assert (summary.goal_median, summary.goal_worst) == GOALS["peak_allocated_gib"]
    assert summary.worst_abs_error > 0.05 and not summary.met  # the odd row shows, it is not hidden


def test_repeats_of_a_spec_are_left_out_with_it(tmp_path):
    rows = [
        train_row(tokens_per_s=1000.0, timestamp="2026-01-01T00:00:00+00:00"),
        train_row(tokens_per_s=1000.0, timestamp="2026-01-02T00:00:00+00:00"),
        train_row(rank=8, tokens_per_s=2000.0),
    ]
    report = leave_one_out(measurements(tmp_path, rows))
    first = report.rows[(report.rows.metric == "tokens_per_s") & (report.rows["rank"] == 16)].iloc[0]
    assert first.model_note.startswith("calibrated on 1 H200 row")  # only the rank-8 row was left to use
