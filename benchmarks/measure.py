"""Measuring instruments shared by the training and inference benchmarks (torch is imported here).

- Timing synchronises the device before reading the clock; warm-up is done by the caller, outside.
- Memory: on CUDA, the caching allocator's peaks, reset before the measured region. On the CPU there is no
  allocator ledger: the process's peak resident set (VmHWM, reset through /proc/self/clear_refs) is reported
  as `peak_reserved_gib` and `peak_allocated_gib` is null; `memory_basis` says which.
- MFU divides by a bf16 matmul rate measured on the same device in the same process, not a datasheet peak.
- Energy: NVML's total-energy counter (millijoules) where the GPU reports it, else null.
- Windows: the measured steps (or runs) are split into consecutive windows; a row carries each window's
  figure (`<metric>_windows`), their median and their relative spread ((max - min) / median), so a reader
  (the regression gate) can tell a change from the noise of the run.
- Garbage collection: the measured region starts after a full collection with the objects that exist then
  (the model, the libraries) frozen out of later collections (`quiet_gc`), so that a collection of the
  whole heap does not land on a random step; the collections that still run inside the region, and their
  pauses, are counted (`gc_collections`, `gc_pause_s`): the garbage the measured code makes stays measured.
- PEFTPLAN_TEST_SLOWDOWN=0.10 (testing the regression gate only): every timed region waits on the host
  for that fraction of its own duration, inside the timed region; rows say so (`test_slowdown`).
"""

from __future__ import annotations

import gc
import statistics
import time
from contextlib import contextmanager

import torch

from benchmarks.provenance import slowdown_fraction

GIB = 1024**3
WINDOWS = 5  # measured windows per row (fewer when there are fewer measured steps or runs)


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def slow_down(seconds: float) -> None:
    """The slowdown switch's extra time: the host waits `fraction` × `seconds` (nothing when off). A sleep, not
    a busy loop, so that it takes the same time on a loaded host and leaves the cores to the library's threads."""
    fraction = slowdown_fraction()
    if fraction:
        time.sleep(fraction * seconds)


def timed(device: str, fn):
    """Run fn() and return (result, seconds), synchronising the device before both clock reads."""
    sync(device)
    start = time.perf_counter()
    out = fn()
    sync(device)
    slow_down(time.perf_counter() - start)
    return out, time.perf_counter() - start


@contextmanager
def quiet_gc():
    """Collect, freeze what is alive (gc.freeze), and count the collections run inside the block and their
    pauses; yields {"gc_collections": n, "gc_pause_s": seconds}, filled when the block ends."""
    gc.collect()
    gc.freeze()
    box, began = {"gc_collections": 0, "gc_pause_s": 0.0}, [0.0]

    def clock(phase: str, info: dict) -> None:
        if phase == "start":
            began[0] = time.perf_counter()
        else:
            box["gc_collections"] += 1
            box["gc_pause_s"] += time.perf_counter() - began[0]

    gc.callbacks.append(clock)
    try:
        yield box
    finally:
        gc.callbacks.remove(clock)
        gc.unfreeze()


def split_windows(values: list, count: int = WINDOWS) -> list[list]:
    """Consecutive, nearly equal windows of a list (as many as there are values, at most `count`)."""
    count = max(1, min(count, len(values)))
    size, extra = divmod(len(values), count)
    out, start = [], 0
    for i in range(count):
        end = start + size + (1 if i < extra else 0)
        out.append(values[start:end])
        start = end
    return out


def window_figures(metric: str, samples: list[float]) -> dict:
    """`<metric>_windows`, `<metric>_median` and `<metric>_rel_spread` ((max - min) / median) of per-window figures."""
    median = statistics.median(samples)
    spread = (max(samples) - min(samples)) / median if median else None
    return {f"{metric}_windows": list(samples), f"{metric}_median": median, f"{metric}_rel_spread": spread}


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100) of a non-empty list."""
    xs = sorted(values)
    if len(xs) == 1:
        return xs[0]
    k = (len(xs) - 1) * q / 100.0
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def summarize_times(times_s: list[float]) -> dict:
    return {
        "step_time_median_s": statistics.median(times_s),
        "step_time_p90_s": percentile(times_s, 90),
        "step_time_min_s": min(times_s),
    }


def _rss_kib(key: str) -> int | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def reset_peak_memory(device: str) -> None:
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    else:
        try:  # "5" resets the peak resident set size (VmHWM) of this process
            with open("/proc/self/clear_refs", "w") as fh:
                fh.write("5")
        except OSError:
            pass


def peak_memory(device: str) -> dict:
    if device == "cuda":
        return {
            "peak_allocated_gib": torch.cuda.max_memory_allocated() / GIB,
            "peak_reserved_gib": torch.cuda.max_memory_reserved() / GIB,
            "memory_basis": "cuda_allocator",
        }
    hwm = _rss_kib("VmHWM")
    return {
        "peak_allocated_gib": None,
        "peak_reserved_gib": None if hwm is None else hwm * 1024 / GIB,
        "memory_basis": "process_rss",
    }


def tensor_gib(module: torch.nn.Module) -> float:
    """Bytes held by a module's parameters and buffers (quantised storage and its constants included); tensors
    that are views of one storage (fused projections, benchmarks/lora_fused.py) count it once."""
    storages = {}
    for t in (*module.parameters(), *module.buffers()):
        storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
    total = sum(storages.values())
    for m in module.modules():  # bitsandbytes keeps NF4 absmax/code constants in a quant_state, not buffers
        state = getattr(getattr(m, "weight", None), "quant_state", None)
        if state is not None:
            total += _quant_state_bytes(state)
    return total / GIB


def _quant_state_bytes(state) -> int:
    n = 0
    for name in ("absmax", "code"):
        t = getattr(state, name, None)
        if isinstance(t, torch.Tensor):
            n += t.numel() * t.element_size()
    nested = getattr(state, "state2", None)
    return n + (_quant_state_bytes(nested) if nested is not None else 0)


def weights_gib(model: torch.nn.Module, device: str) -> float:
    """Memory the built model takes: the allocator's count on CUDA, the tensors' bytes on the CPU."""
    if device == "cuda":
        sync(device)
        return torch.cuda.memory_allocated() / GIB
    return tensor_gib(model)


def matmul_peak_tflops(device: str) -> float:
    """bf16 matmul rate measured here: 8192³ on a GPU (3 warm-ups, median of 10), 1024³ on the CPU."""
    n, reps = (8192, 10) if device == "cuda" else (1024, 3)
    a = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    for _ in range(3 if device == "cuda" else 1):  # burn-in, then benchmark
        a @ b
    times = [timed(device, lambda: a @ b)[1] for _ in range(reps)]
    return 2 * n**3 / statistics.median(times) / 1e12


def launch_overhead_us(device: str, launches: int = 2000) -> float:
    """Host cost of issuing one small kernel (dispatch + launch), in microseconds. Eager decoding at small
    batches is bound by this rather than by the GPU: it says how fast this host drives the device."""
    x = torch.zeros(1, device=device)
    for _ in range(100):  # burn-in, then benchmark
        x.add_(1)
    sync(device)
    start = time.perf_counter()
    for _ in range(launches):
        x.add_(1)
    issued = time.perf_counter() - start  # the GPU runs each tiny kernel faster than the host issues it
    sync(device)
    return issued / launches * 1e6


class EnergyMeter:
    """GPU energy through NVML's cumulative counter (Volta and newer); `joules()` is None where unsupported."""

    def __init__(self, device: str):
        self.handle = None
        if device != "cuda":
            return
        try:
            import pynvml

            pynvml.nvmlInit()
            index = torch.cuda.current_device()
            self.handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            self._read = lambda: pynvml.nvmlDeviceGetTotalEnergyConsumption(self.handle)
            self._read()
        except Exception:  # no NVML, or no energy counter on this GPU: energy stays unmeasured
            self.handle = None

    @contextmanager
    def measure(self):
        box = {"joules": None}
        start = self._read() if self.handle is not None else None
        yield box
        if start is not None:
            box["joules"] = (self._read() - start) / 1000.0


def device_provenance(device: str) -> dict:
    if device == "cuda" and torch.cuda.is_available():
        props = torch.cuda.get_device_properties(torch.cuda.current_device())
        driver = None
        try:
            import pynvml

            pynvml.nvmlInit()
            driver = pynvml.nvmlSystemGetDriverVersion()
        except Exception:
            pass
        return {
            "device_name": props.name,
            "device_memory_gib": props.total_memory / GIB,
            "device_count": torch.cuda.device_count(),
            "cuda": torch.version.cuda,
            "driver": driver,
        }
    import platform

    return {
        "device_name": "cpu",
        "cpu": platform.processor() or platform.machine(),
        "cuda": None,
        "driver": None,
        "cpu_threads": torch.get_num_threads(),
    }


def is_oom(exc: BaseException) -> bool:
    """CUDA's out-of-memory error, or the CPU allocator's failure to allocate."""
    if isinstance(exc, torch.OutOfMemoryError):
        return True
    return isinstance(exc, RuntimeError) and "can't allocate memory" in str(exc)


PROFILE_ENV = "PEFTPLAN_PROFILE_OUT"  # a file: one more run per spec is profiled, its summary appended
PROFILE_ROWS = 25


def write_profile(label: str, what: str, run, device: str, window: tuple[int, int] | None = None) -> None:
    """Where the time of `run(prof)` goes, operators by GPU time (CPU time on the CPU) and the number of GPU
    kernels, appended under `label` to $PEFTPLAN_PROFILE_OUT when it is set. `window` (wait, active): record
    only the steps `run` marks with prof.step() after `wait` of them. Called after a row's measured runs, so
    no figure of the row is taken under the profiler; a failed profile is written as such, never raised."""
    import os

    path = os.environ.get(PROFILE_ENV)
    if not path:
        return
    try:
        summary = _profile_summary(run, device, window)
    except Exception as exc:  # noqa: BLE001 — a failed profile must not cost the measured row
        summary = f"profiling failed: {type(exc).__name__}: {exc}"
    with open(path, "a") as fh:
        fh.write(f"\n=== {label} ===\n{what}: {summary}\n")


def _profile_summary(run, device: str, window: tuple[int, int] | None) -> str:
    from torch.profiler import ProfilerActivity, profile, schedule

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device == "cuda" else [])
    plan = None if window is None else schedule(wait=window[0], warmup=0, active=window[1], repeat=1)
    with profile(activities=activities, schedule=plan) as prof:
        run(prof)
        sync(device)
    table = prof.key_averages()
    sort = "self_cuda_time_total" if device == "cuda" else "self_cpu_time_total"
    try:
        text = table.table(sort_by=sort, row_limit=PROFILE_ROWS)
    except Exception:  # noqa: BLE001 — newer torch names the device column differently
        text = table.table(sort_by=sort.replace("cuda", "device"), row_limit=PROFILE_ROWS)
    device_events = [e for e in prof.events() if e.device_type.name == "CUDA"]
    kernels = sum(e.count for e in device_events)
    steps = 1 if window is None else window[1]
    per_step = f" ({kernels / steps:.0f} a step)" if steps > 1 else ""
    # the device's busy time (kernels and copies, each counted once): against the step's wall time it says
    # whether the GPU or the host's launches bound the step
    busy_s = sum(e.time_range.elapsed_us() for e in device_events) / 1e6
    busy = (
        f", device busy {busy_s * 1e3:.1f} ms ({busy_s / steps * 1e3:.1f} ms a step)" if device_events else ""
    )
    return f"{kernels} GPU kernels{per_step}{busy}\n{text}"
