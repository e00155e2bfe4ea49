"""Which configurations fit in which GPU's memory: GPU × model × method × sequence length.

Each cell is the fastest one-GPU configuration (micro-batch up to the requested one × checkpointing) whose
reserved memory plus the CUDA context fits the card (planner.gpu_fit), comfortable fits before tight ones;
when none fits one GPU, the fewest GPUs (FSDP) that would. Headroom is what the card has left after reserved
memory and context; `state` is fits, tight or does not fit.

Public:
    fits_matrix(models=None, methods=("lora", "qlora", "full"), seq_lens=(2048,), gpus=None, micro_batch=4,
                catalog=None, meas=None, **job_values) -> DataFrame     (job_values: rank, targets, profile)
"""

from __future__ import annotations

from core.shapes import get_shape, load_shapes
from core.vocab import METHODS
from planner.catalog import Catalog, Gpu, load_catalog, resolve_gpu
from planner.config import TrainConfig
from planner.gpu_fit import gpu_fit
from planner.job_plan import TrainScenario, plan_job
from planner.measured import Measurements, empty_measurements
from planner.memory import predict_memory


def _cell(job: TrainConfig, gpu: Gpu, meas, catalog) -> dict:
    scn = TrainScenario(job, tokens=1)
    model, method, seq = job.model, job.method, job.seq_len
    plan = plan_job(scn, gpu, 1, meas, catalog)
    if plan is not None:
        mem, fit, cfg = plan.memory, plan.fit, plan.config
    else:  # the smallest configuration on one GPU, to show by how much it misses
        cfg = scn.job.with_(micro_batch=1, grad_checkpointing=True)
        mem = predict_memory(cfg, gpu, meas, catalog)
        fit = gpu_fit(mem, gpu, meas, cfg)
    cell = {
        "gpu": gpu.name,
        "model": model,
        "method": method,
        "seq_len": seq,
        "memory_gib": gpu.memory_gib,
        "peak_allocated_gib": mem.peak_allocated_gib,
        "reserved_gib": mem.reserved_gib,
        "need_gib": fit.need_gib,
        "headroom_gib": fit.headroom_gib,
        "headroom_frac": fit.headroom_gib / gpu.memory_gib,
        "state": fit.state,
        "fit_basis": fit.basis,  # measured: a run under an allocator cap answered it
        "fit_derivation": fit.derivation,
        "fits": plan is not None,
        "basis": mem.basis,
        "micro_batch": cfg.micro_batch,
        "grad_checkpointing": cfg.grad_checkpointing,
        "tokens_per_s": plan.tokens_per_s if plan else None,
        "min_gpus": 1 if plan else None,
    }
    if plan is None:
        cell["min_gpus"] = next((n for n in (2, 4, 8) if plan_job(scn, gpu, n, meas, catalog)), None)
    ckpt = ", checkpointing" if cfg.grad_checkpointing else ""
    if plan:
        cell["config"] = f"batch {cfg.micro_batch}{ckpt}" + (" (tight)" if fit.state == "tight" else "")
    else:
        cell["config"] = f"needs {cell['min_gpus']} GPUs (FSDP)" if cell["min_gpus"] else "needs > 8 GPUs"
    return cell


def fits_matrix(
    models: list[str] | None = None,
    methods: tuple[str, ...] = METHODS,
    seq_lens: tuple[int, ...] = (2048,),
    gpus: list[str] | None = None,
    micro_batch: int = 4,
    catalog: Catalog | None = None,
    meas: Measurements | None = None,
    **job_values,
):
    """GPU × model × method × sequence length: whether it fits one GPU, with which configuration, and the
    headroom left (negative: short by that much). Models default to every released model in the catalog;
    job_values are further TrainConfig fields (rank, targets, profile, ...)."""
    import pandas as pd

    catalog = catalog or load_catalog()
    meas = meas if meas is not None else empty_measurements()
    models = models or [m for m, s in load_shapes().items() if "test shape" not in s.source]
    chosen = [resolve_gpu(g, catalog.gpus, field="--gpus") for g in (gpus or list(catalog.gpus))]
    rows = []
    for model in models:
        limit = get_shape(model).max_positions
        for method in methods:
            for seq in (s for s in seq_lens if s <= limit):
                job = TrainConfig(model, method, micro_batch=micro_batch, seq_len=seq, **job_values)
                rows.extend(_cell(job, gpu, meas, catalog) for gpu in chosen)
    return pd.DataFrame(rows)
