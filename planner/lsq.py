"""Least squares of a gap against chosen terms, by relative error, for the reserved-memory fit (planner/reserved.py).

Points are (features, gap, reference): the error of a point is (Σ coefficient × feature − gap) / reference.

Public:
    solve(a, b) -> list[float] | None                           a x = b, None when singular
    least_squares(pts, cols) -> (error, coefficients) | None    over the feature columns `cols`, none negative
    held_out_error(pts, cols) -> float                          each point predicted by a fit on the others
"""

from __future__ import annotations

import math


def solve(a: list[list[float]], b: list[float]) -> list[float] | None:
    """a x = b by Gaussian elimination with partial pivoting; None when singular."""
    n = len(b)
    m = [row[:] + [b[i]] for i, row in enumerate(a)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(m[r][col]))
        if abs(m[pivot][col]) < 1e-12:
            return None
        m[col], m[pivot] = m[pivot], m[col]
        for r in range(n):
            if r != col:
                f = m[r][col] / m[col][col]
                m[r] = [x - f * y for x, y in zip(m[r], m[col], strict=True)]
    return [m[i][n] / m[i][i] for i in range(n)]


def least_squares(pts: list[tuple], cols: tuple[int, ...]) -> tuple[float, list[float]] | None:
    """Least squared relative error (of the reserved peak) of gap = Σ coef × feature over `cols`."""
    a = [[sum(x[i] * x[j] / r**2 for x, _, r in pts) for j in cols] for i in cols]
    coef = solve(a, [sum(x[i] * y / r**2 for x, y, r in pts) for i in cols])
    if coef is None or min(coef) < 0:
        return None
    error = sum(((sum(c * x[i] for c, i in zip(coef, cols, strict=True)) - y) / r) ** 2 for x, y, r in pts)
    return error, coef


def held_out_error(pts: list[tuple], cols: tuple[int, ...]) -> float:
    """Sum of squared relative errors of each point predicted by a fit on the others (0 below four points:
    too few to hold one out, and the in-sample error decides). The fit on the others solves the normal
    equations of every point less the held-out point's own terms: one pass over the points, not one each."""
    if len(pts) < 4:
        return 0.0
    own = [_normal_terms(x, y, r, cols) for x, y, r in pts]
    a_all = [[sum(a[p][q] for a, _ in own) for q in range(len(cols))] for p in range(len(cols))]
    b_all = [sum(b[p] for _, b in own) for p in range(len(cols))]
    total = 0.0
    for (x, y, r), (a_own, b_own) in zip(pts, own, strict=True):
        a = [
            [s - o for s, o in zip(row, own_row, strict=True)]
            for row, own_row in zip(a_all, a_own, strict=True)
        ]
        coef = solve(a, [s - o for s, o in zip(b_all, b_own, strict=True)])
        if coef is None or min(coef) < 0:  # as least_squares: no fit on the others
            return math.inf
        total += ((sum(c * x[j] for c, j in zip(coef, cols, strict=True)) - y) / r) ** 2
    return total


def _normal_terms(
    x: tuple, y: float, r: float, cols: tuple[int, ...]
) -> tuple[list[list[float]], list[float]]:
    """One point's terms of least_squares' normal equations over `cols`."""
    return [[x[i] * x[j] / r**2 for j in cols] for i in cols], [x[i] * y / r**2 for i in cols]
