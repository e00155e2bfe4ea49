"""Sharded training over several GPUs (or CPU processes): the same benchmark as benchmarks/train.py, with the
model sharded by FSDP2 (`torch.distributed.fsdp.fully_shard`), one process per GPU started by torchrun
(benchmarks/distributed.py).

How the model gets onto the ranks without any rank holding it whole in bf16 (a 70B shape is 131 GiB):
- lora / full: the model is built on the meta device (shapes, no memory), LoRA is attached, each decoder
  layer and then the root are sharded, and only then is each rank's shard allocated and random-initialised;
- qlora: each rank builds the NF4 model layer by layer (benchmarks/models.py: about half a byte a parameter),
  with the packed 4-bit weights stored as bf16 so that FSDP can shard them like any bf16 tensor (bitsandbytes
  keeps the quantisation constants on the module and re-attaches them after each all-gather), then shards it.
LoRA with FSDP2: the frozen base weights and the trainable adapters share each layer's parameter group; only
parameters that have a gradient are reduce-scattered.

Sharding strategies (spec.sharding): full_shard = parameters, gradients and optimizer states sharded, layers
re-gathered for the backward (ZeRO-3); shard_grad_op = parameters kept gathered from forward to backward
(ZeRO-2: more memory, fewer all-gathers); hybrid_shard = full_shard within a host, replicated across hosts
(on one host it shards like full_shard). cpu_offload keeps the sharded parameters, gradients and optimizer
step on the host (CPUOffloadPolicy).

Figures: each rank times its steps; a step of the job lasts as long as its slowest rank (max over ranks).
tokens_per_s counts the tokens of all ranks; peak memory and weights_gib are per GPU (max over ranks); MFU
divides by the sum of the ranks' measured matmul peaks (world size × the mean per-GPU peak, which is the
matmul_peak_tflops reported).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import torch
import torch.distributed as dist
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.fsdp import CPUOffloadPolicy, fully_shard
from torch.distributed.tensor import DTensor

from benchmarks.data import PatternBatches
from benchmarks.distributed import launched_world_size
from benchmarks.measure import (
    GIB,
    EnergyMeter,
    _quant_state_bytes,
    matmul_peak_tflops,
    peak_memory,
    reset_peak_memory,
    summarize_times,
    sync,
    timed,
)
from benchmarks.models import _decoder_layer_class, build_random, hf_config, shape_of
from benchmarks.spec import TrainSpec
from benchmarks.train import _optimizer, attach_method, param_counts, train_step
from core.flops import train_flops_per_token

INIT_STD = 0.02  # transformers' initializer_range for these families
RESHARD_AFTER_FORWARD = {"full_shard": True, "shard_grad_op": False, "hybrid_shard": True}


def wants_fsdp(spec: TrainSpec) -> bool:
    """Sharded when the spec asks for several GPUs or when this process is one of several torchrun ranks."""
    return spec.num_gpus > 1 or launched_world_size() > 1


def _init_process_group(spec: TrainSpec) -> bool:
    """Join the job's process group (NCCL on GPUs, gloo on the CPU); False if it was already joined."""
    if launched_world_size() != spec.num_gpus:
        raise RuntimeError(
            f"num_gpus = {spec.num_gpus} runs as {spec.num_gpus} processes started by torchrun, but this process "
            f"is one of {launched_world_size()}: run it through `peftplan bench` (benchmarks.runner), which "
            f"launches `torchrun --nproc_per_node {spec.num_gpus} -m benchmarks.distributed`"
        )
    if dist.is_initialized():
        return False
    if spec.device == "cpu":
        dist.init_process_group("gloo")
        return True
    local_ranks = int(os.environ.get("LOCAL_WORLD_SIZE", spec.num_gpus))
    if torch.cuda.device_count() < local_ranks:
        raise RuntimeError(
            f"{local_ranks} ranks on this host, but torch sees {torch.cuda.device_count()} GPU(s)"
        )
    local = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    torch.cuda.set_device(local)
    dist.init_process_group("nccl", device_id=local)
    return True


def _mesh(spec: TrainSpec):
    world = dist.get_world_size()
    if spec.sharding == "hybrid_shard":  # shard within a host, replicate across hosts
        per_host = int(os.environ.get("LOCAL_WORLD_SIZE", world))
        return init_device_mesh(
            spec.device, (world // per_host, per_host), mesh_dim_names=("replicate", "shard")
        )
    return init_device_mesh(spec.device, (world,))


def _reduce(values: list[float | None], op: str, device: str) -> list[float | None]:
    """Element-wise max or sum over ranks; a None (not measured) on any rank gives None."""
    missing = torch.tensor([float(v is None) for v in values], dtype=torch.float64, device=device)
    data = torch.tensor([0.0 if v is None else float(v) for v in values], dtype=torch.float64, device=device)
    dist.all_reduce(missing, op=dist.ReduceOp.MAX)
    dist.all_reduce(data, op=dist.ReduceOp.MAX if op == "max" else dist.ReduceOp.SUM)
    return [None if m else float(d) for m, d in zip(missing.tolist(), data.tolist(), strict=True)]


def _build_base(spec: TrainSpec):
    """The base model, unsharded: on the meta device (bf16), or NF4 on this rank's device (qlora)."""
    if spec.method == "qlora":
        return build_random(
            spec.model, "nf4", spec.device, spec.attn_impl, spec.seed, quant_storage=torch.bfloat16
        )
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):  # shapes only: each rank allocates its own shard after sharding
        model = AutoModelForCausalLM.from_config(
            hf_config(shape_of(spec.model)), dtype=torch.bfloat16, attn_implementation=spec.attn_impl
        )
    model.config.use_cache = False
    return model


def _shard(model, layer_cls, spec: TrainSpec) -> None:
    """fully_shard each decoder layer (one all-gather per layer), then the root (embeddings, norm, head)."""
    kwargs = {"mesh": _mesh(spec), "reshard_after_forward": RESHARD_AFTER_FORWARD[spec.sharding]}
    if spec.cpu_offload:
        kwargs["offload_policy"] = CPUOffloadPolicy(pin_memory=True)
    for module in model.modules():
        if isinstance(module, layer_cls):
            fully_shard(module, **kwargs)
    fully_shard(model, **{**kwargs, "reshard_after_forward": None})  # root: kept for the backward right after


@torch.no_grad()
def _materialise(model, spec: TrainSpec) -> None:
    """Allocate this rank's shards of a meta-built model and initialise them as transformers would (random
    normal weights, unit norms, zero biases; LoRA A uniform and B zero as peft does); recompute the rotary
    tables."""
    on_gpu = spec.device == "cuda" and not spec.cpu_offload  # offloaded shards live on the host
    home = torch.device("cuda", torch.cuda.current_device()) if on_gpu else torch.device("cpu")
    model.to_empty(device=home)
    generator = torch.Generator(device=home).manual_seed(spec.seed + dist.get_rank())
    for name, param in model.named_parameters():
        local = param.to_local() if isinstance(param, DTensor) else param
        if "lora_B" in name or name.endswith("bias"):
            local.zero_()
        elif "lora_A" in name:
            bound = param.shape[1] ** -0.5
            local.uniform_(-bound, bound, generator=generator)
        elif param.dim() == 1:
            local.fill_(1.0)
        else:
            local.normal_(0.0, INIT_STD, generator=generator)
    for module in model.modules():
        if type(module).__name__.endswith("RotaryEmbedding"):
            fresh = type(module)(config=module.config)
            for buffer, _ in list(module.named_buffers(recurse=False)):
                setattr(module, buffer, getattr(fresh, buffer).to(spec.device))


def _local_bytes(params) -> int:
    local = [p.to_local() if isinstance(p, DTensor) else p for p in params]
    return sum(t.numel() * t.element_size() for t in local)


def _weights_gib(model, spec: TrainSpec) -> float:
    """This rank's share of the base model, the adapter left out as in the one-GPU rows: on CUDA the
    allocator's count (with cpu_offload the shards are on the host: only what stays on the GPU counts); on
    the CPU the local shards' and buffers' bytes plus the NF4 constants, which every rank keeps whole."""
    adapter = 0 if spec.method == "full" else _local_bytes(p for p in model.parameters() if p.requires_grad)
    if spec.device == "cuda":
        sync(spec.device)
        return max(torch.cuda.memory_allocated() - (0 if spec.cpu_offload else adapter), 0) / GIB
    total = _local_bytes(model.parameters()) - adapter + _local_bytes(model.buffers())
    states = [m.quant_state for m in model.modules() if getattr(m, "quant_state", None) is not None]
    return (total + sum(_quant_state_bytes(state) for state in states)) / GIB


def prepare_sharded(spec: TrainSpec):
    """Build, attach the method, shard, allocate; returns (model, optimizer, build figures, param counts)."""
    start = time.perf_counter()
    model = _build_base(spec)
    layer_cls = _decoder_layer_class(model)
    model = attach_method(model, spec)
    counts = param_counts(model)  # before sharding: packed NF4 and DTensor sizes would mislead afterwards
    _shard(model, layer_cls, spec)
    if any(p.is_meta for p in model.parameters()):
        _materialise(model, spec)
    sync(spec.device)
    built = {"build_s": time.perf_counter() - start, "weights_gib": _weights_gib(model, spec)}
    model.train()
    optimizer = _optimizer([p for p in model.parameters() if p.requires_grad], spec)
    return model, optimizer, built, counts


def _adapter_bytes(model, device: str) -> float | None:
    """Size of the adapter as peft saves it: the shards gathered (a collective: every rank calls it), rank 0
    writes the safetensors file."""
    full = {
        name: (p.full_tensor() if isinstance(p, DTensor) else p).detach().cpu()
        for name, p in model.named_parameters()
        if p.requires_grad
    }
    size = None
    if dist.get_rank() == 0:
        with tempfile.TemporaryDirectory() as tmp:
            model.save_pretrained(tmp, safe_serialization=True, state_dict=full)
            size = sum(p.stat().st_size for p in Path(tmp).glob("*.safetensors"))
    return _reduce([size if size is not None else -1.0], "max", device)[0]


def _measure(spec: TrainSpec, model, optimizer, batches) -> tuple[list[float], list[float], float | None]:
    """Warm-up, then the measured steps; returns (losses, step times, joules) of this rank."""
    losses = [train_step(model, optimizer, batches, spec.grad_accum) for _ in range(spec.warmup_steps)]
    reset_peak_memory(spec.device)
    dist.barrier()  # every rank starts the clock together
    meter, times = EnergyMeter(spec.device), []
    with meter.measure() as energy:
        for _ in range(spec.measure_steps):
            loss, seconds = timed(spec.device, lambda: train_step(model, optimizer, batches, spec.grad_accum))
            losses.append(loss)
            times.append(seconds)
    return losses, times, energy["joules"]


def _job_metrics(
    spec: TrainSpec,
    built: dict,
    counts: tuple[int, int],
    peak_tflops: float,
    losses: list[float],
    times: list[float],
    joules: float | None,
) -> dict:
    """This rank's figures reduced over the job (a collective: every rank calls it)."""
    world, device = dist.get_world_size(), spec.device
    times = _reduce(times, "max", device)  # a step ends when its slowest rank ends
    memory = peak_memory(device)
    per_rank = [
        memory["peak_allocated_gib"],
        memory["peak_reserved_gib"],
        built["weights_gib"],
        built["build_s"],
    ]
    peak_alloc, peak_res, weights, build_s = _reduce(per_rank, "max", device)
    sum_tflops, joules, loss_first, loss_last = _reduce(
        [peak_tflops, joules, losses[0], losses[-1]], "sum", device
    )
    tokens = spec.tokens_per_step * spec.measure_steps  # all ranks' tokens
    tokens_per_s = tokens / sum(times)
    shape = shape_of(spec.model, spec.checkpoint)
    flops = train_flops_per_token(
        shape, spec.method, spec.seq_len, spec.grad_checkpointing, spec.rank, spec.targets
    )
    return {
        "tokens_per_s": tokens_per_s,
        "samples_per_s": spec.micro_batch * spec.grad_accum * world * spec.measure_steps / sum(times),
        **summarize_times(times),
        "peak_allocated_gib": peak_alloc,
        "peak_reserved_gib": peak_res,
        "memory_basis": memory["memory_basis"],
        "weights_gib": weights,
        "build_s": build_s,
        "trainable_params": counts[0],
        "total_params": counts[1],
        "flops_per_token": flops,
        "matmul_peak_tflops": sum_tflops / world,  # per GPU: the mean over ranks
        "mfu": flops * tokens_per_s / (sum_tflops * 1e12),
        "loss_first": loss_first / world,  # mean over ranks (each rank trains on its own batches)
        "loss_last": loss_last / world,
        "energy_j_per_token": None if joules is None else joules / tokens,
        "world_size": world,
        "measured_tokens": tokens,
    }


def run_train_fsdp(spec: TrainSpec) -> dict:
    """One sharded training benchmark; every rank returns the same figures (reduced over ranks)."""
    created = _init_process_group(spec)
    torch.manual_seed(spec.seed)
    peak_tflops = matmul_peak_tflops(spec.device)  # every rank at once, before the model takes the memory
    model, optimizer, built, counts = prepare_sharded(spec)
    vocab_size = shape_of(spec.model, spec.checkpoint).vocab_size
    batches = PatternBatches(
        spec.micro_batch, spec.seq_len, vocab_size, spec.device, spec.seed + dist.get_rank()
    )
    losses, times, joules = _measure(spec, model, optimizer, batches)
    metrics = _job_metrics(spec, built, counts, peak_tflops, losses, times, joules)
    adapter = None if spec.method == "full" else _adapter_bytes(model, spec.device)
    metrics["adapter_bytes"] = None if adapter is None else int(adapter)
    if created:
        dist.destroy_process_group()
    return metrics
