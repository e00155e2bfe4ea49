"""The three fitted factors of the step model (planner/step_cost.py), by least squares on measured rows.

A row's seconds per token is modelled as

    max(x1 / a + k × x2 + fixed,  h × launches / tokens)

x1: tensor-core seconds per token at a = 1 (the datasheet bf16 peak, through `matmul_occupancy`); x2: the
counted elementwise bytes over the bandwidth; fixed: what needs no fit (the fp32 adapter matmuls at the
fp32 rate, the per-step weight reads, NF4 dequantisation and optimizer step over the step's tokens). The
factors are a (matmul efficiency), k (bandwidth-seconds per counted byte) and h (host seconds per launch).
A profile with few rows of its own (tuned: the same matmuls and the same host, other elementwise kernels)
takes a and h from another profile's fit and fits k alone (`fit_traffic`).

The fit minimises the squared relative error of every row (a 1B row counts as much as a 70B one). For each
h of a log grid (HOST_GRID_S), a and k come in closed form from the rows that h leaves GPU-bound (their host
time under the measured step, then those the fitted model leaves GPU-bound, for a few rounds), and the h
whose (a, k, h) gives the least error over all rows wins. Where no
row is host-bound at the best h, every h that keeps them all GPU-bound is as good: the one nearest the prior
LAUNCH_S is kept, and the calibration's note says that h was not measured.

Public:
    HOST_GRID_S                               the host times per launch tried, seconds
    fit_inputs(terms, gpu) -> (x1, x2, fixed, launches_per_token)
    StepFit(a, k, h, rms_rel_error, host_bound_rows)
    fit_step(points) -> StepFit | None        points: (x1, x2, fixed, launches_per_token, measured s/token)
    fit_traffic(points, matmul_efficiency, h) -> StepFit | None   k alone, a and h another profile's
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from planner.catalog import Gpu
from planner.step_cost import FP32_RATIO, LAUNCH_S, StepTerms, matmul_occupancy

# 1 µs to 1 ms per launch in 5% steps (the fitted h is within 2.5% of the least-squares optimum), and the prior.
HOST_GRID_S = tuple(sorted({1e-6 * 1.05**i for i in range(142)} | {LAUNCH_S}))
REFIT_ROUNDS = 6


def fit_inputs(terms: StepTerms, gpu: Gpu) -> tuple[float, float, float, float]:
    """(x1, x2, fixed, launches per token) of one step on one GPU (module docstring)."""
    peak, bandwidth = gpu.bf16_tflops * 1e12, gpu.bandwidth_tb_s * 1e12
    fixed = terms.adapter_flops * FP32_RATIO / peak + terms.per_step_bytes / bandwidth / terms.tokens
    x1 = terms.tensor_core_flops / (peak * matmul_occupancy(terms))
    return x1, terms.traffic_bytes / bandwidth, fixed, terms.launches / terms.tokens


@dataclass(frozen=True)
class StepFit:
    matmul_efficiency: float  # a
    traffic_factor: float  # k
    host_s_per_launch: float  # h
    rms_rel_error: float
    host_bound_rows: int  # rows the fitted h makes host-bound; 0: h is the prior, not a measurement


def _gpu_fit(points: list[tuple]) -> tuple[float, float] | None:
    """Relative least squares of y = x1 × inv_a + k × x2 + fixed over GPU-bound points: (inv_a, k)."""
    s11 = s12 = s22 = t1 = t2 = 0.0
    for x1, x2, fixed, _, y in points:
        w = 1 / (y * y)
        s11, s12, s22 = s11 + w * x1 * x1, s12 + w * x1 * x2, s22 + w * x2 * x2
        t1, t2 = t1 + w * x1 * (y - fixed), t2 + w * x2 * (y - fixed)
    det = s11 * s22 - s12 * s12
    if len(points) < 2 or det <= 1e-12 * s11 * s22:
        return None
    inv_a, k = (t1 * s22 - t2 * s12) / det, (s11 * t2 - s12 * t1) / det
    return (inv_a, k) if inv_a > 0 and k > 0 else None


def _error(points: list[tuple], inv_a: float, k: float, h: float) -> tuple[float, int]:
    """(sum of squared relative errors, rows the host bounds) of (inv_a, k, h) over the points."""
    total, host_bound = 0.0, 0
    for x1, x2, fixed, launches, y in points:
        gpu_s, host_s = x1 * inv_a + k * x2 + fixed, h * launches
        host_bound += host_s > gpu_s
        total += (max(gpu_s, host_s) / y - 1) ** 2
    return total, host_bound


def _fit_at(points: list[tuple], h: float) -> tuple[float, float, float, int] | None:
    """(error, inv_a, k, host-bound rows) of the best (a, k) at host time h: fitted on the rows that h leaves
    under their measured time, then refitted on the rows the model itself leaves GPU-bound until those stop
    changing (a few rounds), the least error kept."""
    best, gpu_bound = None, [p for p in points if h * p[3] < p[4]]
    for _ in range(REFIT_ROUNDS):
        coefficients = _gpu_fit(gpu_bound)
        if coefficients is None:
            break
        inv_a, k = coefficients
        error, host_bound = _error(points, inv_a, k, h)
        if best is None or error < best[0]:
            best = (error, inv_a, k, host_bound)
        now = [p for p in points if h * p[3] <= p[0] * inv_a + k * p[1] + p[2]]
        if now == gpu_bound:
            break
        gpu_bound = now
    return best


def fit_step(points: list[tuple]) -> StepFit | None:
    """The (a, k, h) of least squared relative error (module docstring); None with fewer than two GPU-bound
    rows at every h, or non-positive a or k."""
    best = None  # (error, distance from the prior, inv_a, k, h, host-bound rows)
    for h in HOST_GRID_S:
        fit = _fit_at(points, h)
        if fit is None:
            continue
        error, inv_a, k, host_bound = fit
        candidate = (round(error, 12), abs(math.log(h / LAUNCH_S)), inv_a, k, h, host_bound)
        best = candidate if best is None or candidate[:2] < best[:2] else best
    if best is None:
        return None
    error, _, inv_a, k, h, host_bound = best
    return StepFit(1 / inv_a, k, h, math.sqrt(error / len(points)), host_bound)


def fit_traffic(points: list[tuple], matmul_efficiency: float, h: float) -> StepFit | None:
    """k alone by least squared relative error over the points that a and h (another profile's) leave
    GPU-bound (module docstring); None when no point is GPU-bound or the points leave no time for traffic."""
    inv_a = 1 / matmul_efficiency
    num = den = 0.0
    for x1, x2, fixed, launches, y in points:
        if h * launches < y:
            num, den = num + x2 * (y - fixed - x1 * inv_a) / y**2, den + x2 * x2 / y**2
    if den <= 0 or num <= 0:
        return None
    k = num / den
    error, host_bound = _error(points, inv_a, k, h)
    return StepFit(matmul_efficiency, k, h, math.sqrt(error / len(points)), host_bound)
