"""planner.lsq: the held-out error against its definition (each point predicted by a fit on the others)."""

from __future__ import annotations

import math
import random

import pytest

from planner.lsq import held_out_error, least_squares


def _by_definition(pts: list[tuple], cols: tuple[int, ...]) -> float:
    total = 0.0
    for i, (x, y, r) in enumerate(pts):
        fit = least_squares(pts[:i] + pts[i + 1 :], cols)
        if fit is None:
            return math.inf
        total += ((sum(c * x[j] for c, j in zip(fit[1], cols, strict=True)) - y) / r) ** 2
    return total


def _points(seed: int, n: int, coef: tuple[float, ...]) -> list[tuple]:
    rng = random.Random(seed)
    pts = []
    for _ in range(n):
        x = tuple(rng.uniform(0.1, 40.0) for _ in coef)
        gap = sum(c * v for c, v in zip(coef, x, strict=True)) * rng.uniform(0.9, 1.1)
        pts.append((x, gap, gap + rng.uniform(5.0, 80.0)))
    return pts


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("cols", [(0,), (1, 2), (0, 1, 2)])
def test_held_out_error_is_each_point_predicted_by_a_fit_on_the_others(seed, cols):
    pts = _points(seed, 12, (0.1, 0.5, 0.05))
    assert held_out_error(pts, cols) == pytest.approx(_by_definition(pts, cols), rel=1e-9)


def test_a_held_out_fit_with_a_negative_coefficient_makes_the_terms_unusable():
    pts = _points(7, 8, (0.3, 0.0))
    pts = [((x[0], x[1]), y - 0.2 * x[1], r) for x, y, r in pts]  # the gap falls with the second term
    assert _by_definition(pts, (0, 1)) == math.inf
    assert held_out_error(pts, (0, 1)) == math.inf


def test_below_four_points_nothing_is_held_out():
    assert held_out_error(_points(1, 3, (0.2,)), (0,)) == 0.0
