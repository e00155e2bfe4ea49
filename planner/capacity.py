"""Capacity: how many GPUs of each type a monthly workload needs, as a schedule of whole jobs, and what
fits in which GPU's memory.

A workload is jobs per month × tokens per job × epochs of one training configuration, with a deadline: the
wall-clock hours within which all the month's jobs must be done (730 h = spread over the month). A job is
never split: it runs start to end on one group of GPUs. For each GPU type and each group size n (1, 2, 4, 8
GPUs per job) the planner takes the fastest configuration that fits (planner.job_plan.plan_job), so a job
takes h(n) hours and a group can run k(n) = floor(deadline / h(n)) jobs back to back. The fewest GPUs that
run every job by the deadline is then a small covering problem, solved exactly by dynamic programming:

    gpus(j) = min over n of  n + gpus(j − k(n)),   gpus(j ≤ 0) = 0

The schedule lists the groups, and for each job its group, start and finish; rounds are the jobs that run at
the same time. Groups do not change size within the month (a simplification: reshaping groups mid-month
could occasionally save GPUs).

Public:
    Workload(job: TrainConfig, tokens_per_job, jobs_per_month=1, epochs=1, deadline_hours=730, ...)
        .build(model, tokens_per_job, **values)
    schedule_jobs(n_jobs, deadline_hours, job_hours_by_n) -> Schedule | None
    gpus_needed(workload, catalog=None, meas=None) -> DataFrame      one row per GPU type, fewest first
    fits_matrix(models=None, methods=..., seq_lens=(2048,), gpus=None, micro_batch=4, catalog=None,
                meas=None) -> DataFrame
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from core.errors import InputError
from planner.capacity_matrix import fits_matrix
from planner.catalog import Catalog, Gpu, load_catalog
from planner.config import TrainConfig
from planner.job_plan import (
    DEFAULT_UTILISATION,
    GPU_COUNTS,
    HOURS_PER_MONTH,
    JobPlan,
    TrainScenario,
    build_wrapping,
    plan_job,
)
from planner.measured import Measurements, empty_measurements

__all__ = ["Schedule", "Workload", "fits_matrix", "gpus_needed", "schedule_jobs"]
MAX_JOBS_PER_MONTH = 100_000


@dataclass(frozen=True)
class Workload:
    job: TrainConfig  # micro_batch is the largest tried; checkpointing and GPUs per job are chosen
    tokens_per_job: int
    jobs_per_month: float = 1.0
    epochs: float = 1.0
    deadline_hours: float = HOURS_PER_MONTH
    utilisation: float = DEFAULT_UTILISATION

    def __post_init__(self):
        for name, ok, accepted in (
            (
                "jobs_per_month",
                0 < self.jobs_per_month <= MAX_JOBS_PER_MONTH,
                f"in (0, {MAX_JOBS_PER_MONTH}]",
            ),
            ("deadline_hours", 0 < self.deadline_hours <= HOURS_PER_MONTH, "hours in (0, 730]"),
        ):
            if not ok:
                raise InputError("bad value", field=name, value=getattr(self, name), accepted=accepted)
        self.scenario()  # validates tokens, epochs, utilisation

    @classmethod
    def build(cls, model: str, tokens_per_job: int, **values) -> Workload:
        """A workload from flat values: TrainConfig's fields and the workload's own."""
        return build_wrapping(cls, model, tokens_per_job, values)

    @property
    def n_jobs(self) -> int:
        return max(1, math.ceil(self.jobs_per_month - 1e-9))

    def scenario(self) -> TrainScenario:
        return TrainScenario(
            self.job,
            self.tokens_per_job,
            epochs=self.epochs,
            runs_per_month=self.jobs_per_month,
            utilisation=self.utilisation,
            max_hours_per_run=self.deadline_hours,
        )


@dataclass(frozen=True)
class Schedule:
    groups: list[int]  # GPUs of each group
    jobs: list[dict]  # job, group, gpus, start_h, end_h
    finish_hours: float  # when the last job ends

    @property
    def n_gpus(self) -> int:
        return sum(self.groups)

    def rounds(self) -> list[dict]:
        """Jobs that start together: round r is every group's r-th job."""
        by_start: dict[float, list[dict]] = {}
        for job in self.jobs:
            by_start.setdefault(round(job["start_h"], 9), []).append(job)
        return [
            {"round": i, "jobs": [j["job"] for j in js], "start_h": s, "end_h": max(j["end_h"] for j in js)}
            for i, (s, js) in enumerate(sorted(by_start.items()), start=1)
        ]


def schedule_jobs(n_jobs: int, deadline_hours: float, job_hours_by_n: dict[int, float]) -> Schedule | None:
    """The fewest GPUs that run n_jobs whole jobs by the deadline, groups of n GPUs each running
    floor(deadline / h(n)) jobs back to back; ties: the earlier finish. None when no job fits the deadline."""
    per_group = {n: int(deadline_hours / h + 1e-9) for n, h in job_hours_by_n.items() if h > 0}
    per_group = {n: k for n, k in per_group.items() if k > 0}
    if not per_group:
        return None
    best: list[tuple[int, float, tuple[int, ...]]] = [(0, 0.0, ())]  # jobs -> (gpus, finish, groups)
    for j in range(1, n_jobs + 1):
        options = []
        for n, k in per_group.items():
            gpus, finish, groups = best[max(0, j - k)]
            done = min(k, j)  # this group runs the last `done` jobs
            options.append((gpus + n, max(finish, done * job_hours_by_n[n]), groups + (n,)))
        best.append(min(options, key=lambda o: (o[0], o[1], len(o[2]))))
    gpus, finish, groups = best[n_jobs]
    jobs, left = [], n_jobs
    for g, n in enumerate(sorted(groups, reverse=True), start=1):
        for i in range(min(per_group[n], left)):
            h = job_hours_by_n[n]
            jobs.append({"job": len(jobs) + 1, "group": g, "gpus": n, "start_h": i * h, "end_h": (i + 1) * h})
        left -= min(per_group[n], left)
    return Schedule(sorted(groups, reverse=True), jobs, finish)


def _groups_text(groups: list[int]) -> str:
    counts: dict[int, int] = {}
    for n in groups:
        counts[n] = counts.get(n, 0) + 1
    return " + ".join(f"{c} × {n} GPU{'s' if n > 1 else ''}" for n, c in counts.items())


def _plan_gpu(work: Workload, gpu: Gpu, meas: Measurements, catalog: Catalog) -> dict:
    scn = work.scenario()
    plans: dict[int, JobPlan] = {n: p for n in GPU_COUNTS if (p := plan_job(scn, gpu, n, meas, catalog))}
    if not plans:
        return {"gpu": gpu.name, "fits": False, "note": f"does not fit 8 × {gpu.name}"}
    sched = schedule_jobs(work.n_jobs, work.deadline_hours, {n: p.job_hours for n, p in plans.items()})
    row = {"gpu": gpu.name, "fits": True, "memory_gib": gpu.memory_gib}
    if sched is None:
        fastest = min(plans.values(), key=lambda p: p.job_hours)
        return {
            **row,
            "meets_deadline": False,
            "job_hours": fastest.job_hours,
            "note": f"one job takes {fastest.job_hours:,.1f} h on {fastest.config.num_gpus} GPUs, "
            f"longer than the {work.deadline_hours:g} h deadline",
        }
    main = plans[sched.groups[0]]
    rounds = sched.rounds()
    return {
        **row,
        "meets_deadline": True,
        "gpus_needed": sched.n_gpus,
        "groups": _groups_text(sched.groups),
        "gpus_per_job": sched.groups[0] if len(set(sched.groups)) == 1 else None,
        "rounds": len(rounds),
        "finish_hours": sched.finish_hours,
        "job_hours": main.job_hours,
        "tokens_per_s_per_job": main.tokens_per_s,
        "gpu_hours_per_month": sum((j["end_h"] - j["start_h"]) * j["gpus"] for j in sched.jobs),
        "micro_batch": main.config.micro_batch,
        "grad_checkpointing": main.config.grad_checkpointing,
        "memory_state": main.fit.state,
        "headroom_gib": main.fit.headroom_gib,
        "config": main.config.describe(),
        "basis": main.throughput.basis,
        "derivation": main.throughput.model,
        "schedule": sched.jobs,
        "rounds_detail": rounds,
        "note": "tight memory" if main.fit.state == "tight" else "",
    }


def gpus_needed(workload: Workload, catalog: Catalog | None = None, meas: Measurements | None = None):
    """GPUs needed per GPU type for every job of the workload to end by the deadline (fewest first), with
    the schedule behind each count."""
    import pandas as pd

    catalog = catalog or load_catalog()
    meas = meas if meas is not None else empty_measurements()
    frame = pd.DataFrame([_plan_gpu(workload, gpu, meas, catalog) for gpu in catalog.gpus.values()])
    if "gpus_needed" in frame:
        frame = frame.sort_values(
            ["gpus_needed", "finish_hours", "gpu"], na_position="last", ignore_index=True
        )
    return frame
