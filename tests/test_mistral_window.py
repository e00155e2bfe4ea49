"""Mistral as released (no sliding window), and rows measured with transformers' default window set aside."""

from __future__ import annotations

from test_planner_fixtures import measurements, train_row

from benchmarks.models import hf_config
from core.shapes import get_shape


def test_mistral_is_built_without_a_sliding_window_as_released():
    assert hf_config(get_shape("mistral-7b")).sliding_window is None
    assert hf_config(get_shape("tiny-mistral")).sliding_window is None


def _mistral(seq_len: int, says_window: bool) -> dict:
    row = train_row(
        "mistral-7b", micro_batch=1, seq_len=seq_len, timestamp=f"2026-01-0{1 + says_window}T00:00:00+00:00"
    )
    if says_window:
        row["metrics"]["sliding_window"] = None
    return row


def test_long_mistral_rows_of_the_windowed_build_are_set_aside(tmp_path):
    meas = measurements(tmp_path, [_mistral(4096, False), _mistral(8192, True), _mistral(1024, False)])
    assert sorted(r.config.seq_len for r in meas.gpu_train()) == [1024, 8192]
    assert [r.config.seq_len for r in meas.superseded] == [4096]
    (why,) = [reason for _, reason in meas.skipped]
    assert "sliding window" in why and "measure it again" in why
