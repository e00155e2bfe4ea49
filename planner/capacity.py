"""Capacity: how many GPUs of each type a monthly workload needs, and what fits in which GPU's memory.

A workload is jobs per month × tokens per job × epochs of one model and method, with a deadline: the
wall-clock hours within which the month's jobs must be done (730 h = spread over the month). For each GPU
type the planner takes the fewest GPUs per job that fit (planner.cost.choose_config), then the GPUs per job
(1, 2, 4, 8) that minimise the total while each job meets the deadline.

Public:
    Workload(model, tokens_per_job, jobs_per_month=1, method="lora", epochs=1, deadline_hours=730, ...)
    gpus_needed(workload, catalog=None, meas=None) -> DataFrame     one row per GPU type
    fits_matrix(models=None, methods=("lora", "qlora", "full"), seq_lens=(2048,), gpus=None,
                micro_batch=4, catalog=None, meas=None, headroom_frac=DEFAULT_HEADROOM_FRAC) -> DataFrame
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from core.errors import InputError
from core.shapes import get_shape, load_shapes
from core.vocab import METHODS
from planner.catalog import Catalog, Gpu, load_catalog, resolve_gpu
from planner.config import TrainConfig
from planner.cost import DEFAULT_UTILISATION, GPU_COUNTS, HOURS_PER_MONTH, TrainScenario, choose_config
from planner.measured import Measurements, empty_measurements
from planner.memory import DEFAULT_HEADROOM_FRAC, predict_memory
from planner.throughput import predict_tokens_per_s


@dataclass(frozen=True)
class Workload:
    model: str
    tokens_per_job: int
    jobs_per_month: float = 1.0
    method: str = "lora"
    epochs: float = 1.0
    deadline_hours: float = HOURS_PER_MONTH
    rank: int = 16
    targets: str | tuple[str, ...] = "all-linear"
    micro_batch: int = 4
    seq_len: int = 2048
    profile: str = "plain"
    utilisation: float = DEFAULT_UTILISATION

    def scenario(self) -> TrainScenario:
        return TrainScenario(
            self.model,
            self.tokens_per_job,
            self.method,
            self.epochs,
            self.jobs_per_month,
            self.rank,
            self.targets,
            self.micro_batch,
            self.seq_len,
            self.profile,
            self.utilisation,
        )


def _plan_gpu(work: Workload, gpu: Gpu, meas: Measurements, catalog: Catalog) -> dict:
    fit = choose_config(work.scenario(), gpu, meas, catalog)
    if fit is None:
        return {"gpu": gpu.name, "fits": False, "note": f"does not fit 8 × {gpu.name}"}
    cfg, mem = fit
    best = None
    for n in (c for c in GPU_COUNTS if c >= cfg.num_gpus):
        tput = predict_tokens_per_s(cfg.with_(num_gpus=n), gpu, meas, catalog)
        job_hours = work.tokens_per_job * work.epochs / tput.tokens_per_s / 3600 / work.utilisation
        if job_hours > work.deadline_hours:
            continue
        concurrent = max(1, math.ceil(work.jobs_per_month * job_hours / work.deadline_hours - 1e-9))
        if best is None or n * concurrent < best[0] * best[1]:
            best = (n, concurrent, tput, job_hours)
    row = {
        "gpu": gpu.name,
        "fits": True,
        "config": cfg.describe(),
        "peak_allocated_gib": mem.peak_allocated_gib,
        "memory_basis": mem.basis,
        "memory_gib": gpu.memory_gib,
    }
    if best is None:
        return {
            **row,
            "meets_deadline": False,
            "note": f"one job takes longer than {work.deadline_hours:g} h on 8 GPUs",
        }
    n, concurrent, tput, job_hours = best
    return {
        **row,
        "meets_deadline": True,
        "gpus_per_job": n,
        "concurrent_jobs": concurrent,
        "gpus_needed": n * concurrent,
        "tokens_per_s_per_job": tput.tokens_per_s,
        "job_hours": job_hours,
        "gpu_hours_per_month": work.jobs_per_month * job_hours * n,
        "basis": tput.basis,
        "model": tput.model,
        "note": "",
    }


def gpus_needed(workload: Workload, catalog: Catalog | None = None, meas: Measurements | None = None):
    """GPUs needed per GPU type for the workload to meet its deadline (fewest first)."""
    import pandas as pd

    catalog = catalog or load_catalog()
    meas = meas if meas is not None else empty_measurements()
    TrainConfig(
        workload.model,
        workload.method,
        workload.rank,
        workload.targets,
        workload.micro_batch,
        workload.seq_len,
        profile=workload.profile,
    )  # validates the workload's fields
    if workload.deadline_hours <= 0 or workload.jobs_per_month <= 0:
        raise InputError(
            "bad workload",
            field="deadline_hours/jobs_per_month",
            value=(workload.deadline_hours, workload.jobs_per_month),
            accepted="positive numbers",
        )
    frame = pd.DataFrame([_plan_gpu(workload, gpu, meas, catalog) for gpu in catalog.gpus.values()])
    if "gpus_needed" in frame:
        frame = frame.sort_values(["gpus_needed", "gpu"], na_position="last", ignore_index=True)
    return frame


def _matrix_cell(
    model: str, method: str, seq: int, gpu: Gpu, micro_batch: int, meas, catalog, headroom_frac: float
) -> dict:
    """The fastest one-GPU configuration that fits (checkpointing and smaller batches tried), or the
    fewest GPUs that would fit when none does."""
    cell = {"gpu": gpu.name, "model": model, "method": method, "seq_len": seq, "memory_gib": gpu.memory_gib}
    best, smallest = None, None
    for ckpt, batch in [(False, micro_batch)] + [
        (True, b) for b in dict.fromkeys((micro_batch, 2, 1)) if b <= micro_batch
    ]:
        cfg = TrainConfig(model, method, 16, "all-linear", batch, seq, ckpt)
        mem = predict_memory(cfg, gpu, meas, catalog, headroom_frac)
        smallest = (
            mem if smallest is None or mem.peak_allocated_gib < smallest.peak_allocated_gib else smallest
        )
        if mem.fits:
            tps = predict_tokens_per_s(cfg, gpu, meas, catalog).tokens_per_s
            if best is None or tps > best[2]:
                best = (cfg, mem, tps)
    mem = best[1] if best else smallest
    cell.update(
        peak_allocated_gib=mem.peak_allocated_gib,
        headroom_gib=mem.headroom_gib,
        headroom_frac=mem.headroom_gib / gpu.memory_gib,
        fits=best is not None,
        basis=mem.basis,
        micro_batch=mem.config["micro_batch"],
        grad_checkpointing=mem.config["grad_checkpointing"],
        tokens_per_s=best[2] if best else None,
        min_gpus=1 if best else None,
    )
    if best is None:
        scn = TrainScenario(model, 1, method, micro_batch=micro_batch, seq_len=seq)
        fit = choose_config(scn, gpu, meas, catalog)
        cell["min_gpus"] = fit[0].num_gpus if fit else None
    cell["config"] = (
        f"batch {cell['micro_batch']}" + (", checkpointing" if cell["grad_checkpointing"] else "")
        if best
        else (f"needs {cell['min_gpus']} GPUs (FSDP)" if cell["min_gpus"] else "needs > 8 GPUs")
    )
    return cell


def fits_matrix(
    models: list[str] | None = None,
    methods: tuple[str, ...] = METHODS,
    seq_lens: tuple[int, ...] = (2048,),
    gpus: list[str] | None = None,
    micro_batch: int = 4,
    catalog: Catalog | None = None,
    meas: Measurements | None = None,
    headroom_frac: float = DEFAULT_HEADROOM_FRAC,
):
    """GPU × model × method × sequence length: whether it fits one GPU, with which configuration, and the
    headroom left (negative: short by that much). Models default to every released model in the catalog."""
    import pandas as pd

    catalog = catalog or load_catalog()
    meas = meas if meas is not None else empty_measurements()
    models = models or [m for m, s in load_shapes().items() if "test shape" not in s.source]
    chosen = [resolve_gpu(g, catalog.gpus) for g in (gpus or list(catalog.gpus))]
    rows = []
    for model in models:
        limit = get_shape(model).max_positions
        for method in methods:
            for seq in (s for s in seq_lens if s <= limit):
                rows.extend(
                    _matrix_cell(model, method, seq, gpu, micro_batch, meas, catalog, headroom_frac)
                    for gpu in chosen
                )
    return pd.DataFrame(rows)
