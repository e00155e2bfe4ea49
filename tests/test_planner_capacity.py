"""Capacity: GPUs per type for a workload and deadline, and the fits-in-memory matrix."""

from __future__ import annotations

import math

import pytest

from core.errors import InputError
from planner.capacity import Workload, fits_matrix, gpus_needed
from planner.catalog import load_catalog
from planner.config import TrainConfig
from planner.memory import predict_memory
from planner.throughput import predict_tokens_per_s


def test_gpus_needed_meets_the_deadline_with_the_fewest_gpus():
    work = Workload("llama-3.1-8b", 100_000_000, jobs_per_month=20, epochs=3, deadline_hours=72)
    frame = gpus_needed(work)
    h200 = frame[frame.gpu == "H200"].iloc[0]
    cfg = TrainConfig("llama-3.1-8b", micro_batch=4)
    job_hours = 300e6 / predict_tokens_per_s(cfg, "h200").tokens_per_s / 3600 / 0.9
    assert h200.gpus_per_job == 1 and h200.job_hours == pytest.approx(job_hours)
    assert h200.gpus_needed == math.ceil(20 * job_hours / 72)
    met = frame[frame.meets_deadline == True]  # noqa: E712
    assert (met.gpus_needed == met.gpus_per_job * met.concurrent_jobs).all()
    assert (met.job_hours <= 72).all()
    assert list(met.gpus_needed) == sorted(met.gpus_needed)


def test_a_deadline_no_gpu_can_meet_is_said():
    frame = gpus_needed(Workload("llama-3.1-70b", 10**10, deadline_hours=1))
    assert not frame.meets_deadline.fillna(False).any()
    assert frame.note.str.contains("longer than 1 h|does not fit").all()


def test_bad_workload():
    with pytest.raises(InputError, match="deadline_hours"):
        gpus_needed(Workload("llama-3.1-8b", 10**8, deadline_hours=0))


def test_fits_matrix_agrees_with_predict_memory():
    frame = fits_matrix(["llama-3.1-8b", "llama-3.1-70b"], ("lora", "qlora"), (2048,))
    assert len(frame) == 2 * 2 * len(load_catalog().gpus)
    cell = frame[(frame.gpu == "H200") & (frame.model == "llama-3.1-70b") & (frame.method == "lora")].iloc[0]
    assert not cell.fits and cell.config == "needs 2 GPUs (FSDP)"
    cell = frame[(frame.gpu == "H200") & (frame.model == "llama-3.1-70b") & (frame.method == "qlora")].iloc[0]
    assert cell.fits and cell.headroom_frac > 0
    cfg = TrainConfig(
        "llama-3.1-70b",
        "qlora",
        micro_batch=int(cell.micro_batch),
        grad_checkpointing=bool(cell.grad_checkpointing),
    )
    assert cell.peak_allocated_gib == pytest.approx(predict_memory(cfg, "h200").peak_allocated_gib)
    fitting = frame[frame.fits]
    assert (fitting.headroom_gib >= 0).all() and (frame[~frame.fits].headroom_gib < 0).all()
