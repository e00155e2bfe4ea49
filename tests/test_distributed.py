"""Sharded training through torchrun: the launch command, the spec's sharding fields, and real two-process
runs of a tiny model on the CPU (gloo backend) through the runner, as a sweep runs them."""

from __future__ import annotations

import os
import sys
import time
import uuid
from pathlib import Path

import pytest

from benchmarks.distributed import MULTI_GPU_ENV, worker_command, worker_env
from benchmarks.runner import run_isolated
from benchmarks.suites import load_suite, make_entry
from core.errors import InputError
from core.rows import validate_row
from core.shapes import get_shape, lora_params

TINY = {
    "model": "tiny-llama",
    "rank": 8,
    "alpha": 16,
    "micro_batch": 4,
    "seq_len": 64,
    "warmup_steps": 1,
    "measure_steps": 6,
    "lr": 1e-2,
    "device": "cpu",
}


def entry(name: str = "tiny", timeout_s: float = 120, **values):
    values = {**TINY, "method": "lora", "num_gpus": 2, **values}
    return make_entry(
        "train", {"name": name, "timeout_s": timeout_s, **values}, where="test", suite=None, device=None
    )


def test_one_gpu_runs_the_worker_and_several_run_torchrun():
    request, result = Path("req.json"), Path("res.json")
    assert worker_command(entry(num_gpus=1), request, result) == [
        sys.executable,
        "-m",
        "benchmarks.worker",
        "req.json",
        "res.json",
    ]
    assert worker_command(entry(num_gpus=4), request, result) == [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=4",
        "-m",
        "benchmarks.distributed",
        "req.json",
        "res.json",
    ]
    assert worker_env(entry(num_gpus=1), {"A": "1"}) == {"A": "1"}
    env = worker_env(entry(num_gpus=2), {"A": "1"})
    assert env["NCCL_NVLS_ENABLE"] == "0" and env["TORCH_SYMM_MEM_DISABLE_MULTICAST"] == "1"
    assert env["NVSHMEM_DISABLE_NVLS"] == "1" and env["A"] == "1" and set(MULTI_GPU_ENV) <= set(env)


def test_sharding_defaults_to_full_shard_and_is_validated():
    assert entry(num_gpus=2).spec.sharding == "full_shard"
    assert entry(num_gpus=2, sharding="full_shard").spec_hash == entry(num_gpus=2).spec_hash
    assert entry(num_gpus=1).spec.sharding is None
    with pytest.raises(InputError, match="sharding.*zero_3.*full_shard, shard_grad_op, hybrid_shard"):
        entry(sharding="zero_3")
    with pytest.raises(InputError, match="sharding.*needs num_gpus > 1"):
        entry(num_gpus=1, sharding="full_shard")
    with pytest.raises(InputError, match="cpu_offload.*false with device cpu"):
        entry(cpu_offload=True)
    with pytest.raises(InputError, match="cpu_offload.*needs num_gpus > 1"):
        entry(num_gpus=1, cpu_offload=True, device="cuda")


def test_multi_gpu_suite_scales_8b_over_1_2_and_4_gpus():
    entries = {e.name: e.spec for e in load_suite("multi-gpu", "train")}
    eight = sorted(s.num_gpus for s in entries.values() if s.model == "llama-3.1-8b")
    assert eight == [1, 2, 4]
    seventy = {(s.method, s.num_gpus) for s in entries.values() if s.model == "llama-3.1-70b"}
    assert seventy == {("lora", 2), ("lora", 4), ("qlora", 2)}


def test_sharded_run_needs_torchrun():
    from benchmarks.train import run_train

    with pytest.raises(RuntimeError, match="num_gpus = 2 runs as 2 processes started by torchrun"):
        run_train(entry(num_gpus=2).spec)


def _unsharded_adapter_bytes(spec) -> int:
    """The adapter file of the same spec on one process, as the one-GPU benchmark saves it."""
    from benchmarks.train import adapter_bytes, prepare

    model, _, _ = prepare(spec.with_(num_gpus=1, sharding=None))
    return adapter_bytes(model)


@pytest.mark.parametrize("method", ["lora", "qlora"])
def test_two_process_gloo_run_writes_a_valid_row(method):
    e = entry(f"tiny-{method}-2proc", method=method)
    row = validate_row(run_isolated(e))
    assert row["status"] == "ok", row["error"]
    m, spec = row["metrics"], row["spec"]
    assert spec["num_gpus"] == 2 and spec["sharding"] == "full_shard" and m["world_size"] == 2
    assert m["measured_tokens"] == 2 * 4 * 64 * 6  # both ranks' tokens
    shape = get_shape("tiny-llama")
    assert m["trainable_params"] == lora_params(shape, 8, "all-linear")
    assert m["total_params"] == shape.total_params() + m["trainable_params"]
    assert m["adapter_bytes"] == _unsharded_adapter_bytes(e.spec)  # both ranks' shards gathered and saved
    assert m["peak_reserved_gib"] > 0 and m["memory_basis"] == "process_rss"
    assert 0 < m["mfu"] and m["tokens_per_s"] > 0 and m["step_time_p90_s"] >= m["step_time_median_s"]
    assert m["loss_last"] < m["loss_first"]  # the sharded adapters learn the synthetic pattern


def test_a_failing_rank_gives_its_own_reason(monkeypatch):
    monkeypatch.setenv("PEFTPLAN_INJECT_FAULT", "tiny-oom=oom")
    row = validate_row(run_isolated(entry("tiny-oom")))
    assert row["status"] == "oom" and "injected" in row["error"]


def _processes_with(marker: str) -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        if int(pid) == os.getpid():
            continue
        try:
            if marker.encode() in Path(f"/proc/{pid}/environ").read_bytes():
                found.append(int(pid))
        except OSError:  # gone, or not ours
            continue
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_time_out_leaves_no_rank_running(monkeypatch):
    """torchrun puts each rank in its own session: the runner's kill must still reach them."""
    marker = f"PEFTPLAN_TEST_MARK={uuid.uuid4().hex}"
    monkeypatch.setenv("PEFTPLAN_TEST_MARK", marker.split("=")[1])
    monkeypatch.setenv("PEFTPLAN_INJECT_FAULT", "tiny-hang=hang")
    row = run_isolated(entry("tiny-hang", timeout_s=8))
    assert row["status"] == "timeout"
    deadline = time.monotonic() + 5
    while (left := _processes_with(marker)) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in left:  # do not leave them behind even when the test fails
        os.kill(pid, 9)
    assert left == []


@pytest.mark.gpu
@pytest.mark.parametrize("method", ["lora", "qlora"])
def test_two_gpu_run_writes_a_valid_row(method):
    import torch

    if torch.cuda.device_count() < 2:
        pytest.skip("needs 2 CUDA devices")
    row = validate_row(run_isolated(entry(f"tiny-{method}-2gpu", method=method, device="cuda")))
    assert row["status"] == "ok", row["error"]
    m = row["metrics"]
    assert m["world_size"] == 2 and m["peak_allocated_gib"] > 0 and m["memory_basis"] == "cuda_allocator"
    assert row["provenance"]["device_count"] >= 2
