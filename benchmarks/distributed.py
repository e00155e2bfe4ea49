"""One spec over several processes: the torchrun launch, and what each rank process does around the worker.

A spec with `num_gpus` N > 1 runs as N processes started by torchrun (`python -m torch.distributed.run
--standalone --nproc_per_node N`), one per GPU (with device "cpu", N CPU processes on the gloo backend).
Every rank runs the same request through benchmarks.worker.run_request; the training code reduces
the figures across ranks, so rank 0 alone writes the result row.

A failure on any rank must end the whole job at once, with that rank's reason in the row: a rank whose row is
not `ok` publishes it (the first one written wins, so the root cause is not overwritten by the peers' "peer
closed the connection" errors) and exits non-zero, and torchrun then stops the other ranks. torchrun starts
each rank in its own session, so the runner's kill of torchrun's process group on a time-out would not reach
them: each rank asks the kernel to kill it when torchrun dies (PR_SET_PDEATHSIG), and torchrun itself dies
with the sweep the same way (benchmarks/launch.py starts it).

No torch import at module level: the runner (the parent process) imports this module to build the command.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import sys
from pathlib import Path

# NVLink multicast (NVLS) is kept off on every multi-GPU run, as the GPU hosts these suites run on require;
# NCCL, torch's symmetric memory and NVSHMEM each have their own switch.
MULTI_GPU_ENV = {
    "NCCL_NVLS_ENABLE": "0",
    "TORCH_SYMM_MEM_DISABLE_MULTICAST": "1",
    "NVSHMEM_DISABLE_NVLS": "1",
}
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
_LAUNCHER_PID = os.getppid()  # read as early as possible: in a rank, torchrun (unless it died meanwhile)


def num_processes(entry) -> int:
    """Processes a suite entry runs as: the spec's `num_gpus` (inference specs have none: one)."""
    return int(getattr(entry.spec, "num_gpus", 1))


def worker_command(entry, request: Path, result: Path) -> list[str]:
    """The command that runs one entry: the worker itself, or torchrun starting one rank per GPU."""
    n = num_processes(entry)
    if n == 1:
        return [sys.executable, "-m", "benchmarks.worker", str(request), str(result)]
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={n}",
        "-m",
        "benchmarks.distributed",
        str(request),
        str(result),
    ]


def worker_env(entry, env: dict[str, str]) -> dict[str, str]:
    """The worker's environment: `env`, plus the NVLink-multicast switches for a multi-GPU run."""
    return {**env, **MULTI_GPU_ENV} if num_processes(entry) > 1 else dict(env)


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def launched_world_size() -> int:
    """Processes in this job as torchrun set it up (1 outside torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def die_with_parent(parent_pid: int) -> None:
    """Have the kernel SIGKILL this process when its parent dies, whatever killed the parent; exit now if
    the parent (`parent_pid`, as the starter knew it) is already gone. Linux only: elsewhere, nothing."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            return
    except (OSError, AttributeError):  # not Linux: a killed parent may leave this process running
        return
    parent = os.getppid()
    if parent == 1 or parent != parent_pid:  # re-parented: the parent died before the request was set
        os._exit(1)


def publish(row: dict, result: Path) -> None:
    """Write the row to `result` unless a row is there already (the first failure is the root cause): a
    whole file appears at once (this rank's temp file, hard-linked), so the parent never reads half a row."""
    tmp = result.with_name(f"{result.name}.rank{rank()}.tmp")
    tmp.write_text(json.dumps(row, allow_nan=False))
    try:
        os.link(tmp, result)
    except FileExistsError:
        pass
    tmp.unlink()


def _bind_device(request: dict) -> None:
    """One GPU per rank, chosen before anything touches CUDA (device provenance included)."""
    if request.get("spec", {}).get("device") == "cuda":
        import torch

        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        if local_rank < torch.cuda.device_count():  # else the training code's check writes the row
            torch.cuda.set_device(local_rank)


def main(argv: list[str]) -> int:
    """Entry point of one rank under torchrun: `python -m benchmarks.distributed REQUEST.json RESULT.json`."""
    die_with_parent(_LAUNCHER_PID)  # torchrun
    request_path, result_path = Path(argv[0]), Path(argv[1])
    request = json.loads(request_path.read_text())
    _bind_device(request)
    from benchmarks.worker import run_request

    row = run_request(request)
    if row["status"] == "ok":
        if rank() == 0:
            publish(row, result_path)
        return 0
    publish(row, result_path)
    sys.stderr.flush()
    os._exit(1)  # now, without waiting on collectives the peers will never finish; torchrun stops them


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
