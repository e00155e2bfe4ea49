"""Break-even, payback and sensitivity: when does self-hosting beat a managed fine-tuning API?

Each option's monthly cost is a piecewise-linear curve in runs per month (planner.cost.TrainOption):
linear between the points where a new commitment block or server set is needed. The break-even against a
managed API is the smallest number of runs per month from which self-hosting stays no dearer (found exactly,
segment by segment). Payback is the months an on-prem purchase takes to pay for itself when it runs a
continuous pipeline, against renting the same work and against the cheapest managed offer; it buys whole
units (an 8-GPU server, a card in its host) and pays set-up, support, colocation, power and people. Sensitivity
moves each input by ±25 % and records how the monthly saving of self-hosting moves (tornado chart data).

Public:
    break_even_runs(self_option, managed_option, max_runs=1000.0) -> float | None
        0.0: self-hosting is never dearer; None: it is still dearer at max_runs
    break_even_table(comparison, max_runs=1000.0) -> DataFrame     each managed option × best self-hosted
    cost_curves(comparison, options=None, max_runs=None, points=60) -> DataFrame   runs vs usd per option
    payback(scenario, catalog=None, meas=None) -> list[Payback]
    sensitivity(scenario, catalog=None, meas=None, delta=0.25) -> DataFrame
    savings(comparison) -> tuple[float, TrainOption | None, TrainOption | None]
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from planner.catalog import Catalog, load_catalog
from planner.cost import TrainComparison, TrainOption, TrainScenario, compare_training
from planner.measured import Measurements


def break_even_runs(
    self_option: TrainOption, managed_option: TrainOption, max_runs: float = 1000.0
) -> float | None:
    """Smallest runs/month r such that self(r') <= managed(r') for every r' in [r, max_runs]."""

    def diff(r: float) -> float:
        return self_option.usd_for_runs(r) - managed_option.usd_for_runs(r)

    # ties count as "no dearer"; the tolerance absorbs rounding in the segment arithmetic
    tol = 1e-9 * (1 + abs(self_option.usd_for_runs(max_runs)) + abs(managed_option.usd_for_runs(max_runs)))
    if diff(max_runs) > tol:
        return None
    jumps = self_option.breakpoints(max_runs) + managed_option.breakpoints(max_runs)
    points = [0.0]
    for p in sorted(p for p in jumps if 0 < p < max_runs) + [max_runs]:
        if p - points[-1] > 1e-9 * max_runs:  # a sliver of a segment adds nothing but rounding
            points.append(p)
    # diff is linear on each (lo, hi]: walk back from max_runs to the last segment where it turns positive
    for lo, hi in reversed(list(zip(points[:-1], points[1:], strict=True))):
        mid = (lo + hi) / 2
        slope = (diff(hi) - diff(mid)) / (hi - mid)
        at_lo = diff(hi) - slope * (hi - lo)  # limit from the right at lo
        if at_lo > tol:
            return lo + at_lo / -slope if slope < 0 else hi
        if lo > 0 and diff(lo) > tol:  # a jump at lo: the previous segment ends dearer
            return lo
    return 0.0


def _verdict(runs: float | None, max_runs: float) -> str:
    if runs is None:
        return f"managed stays cheaper up to {max_runs:g} runs/month"
    if runs == 0:
        return "self-hosting is cheaper at any volume"
    return f"self-hosting is cheaper from {runs:.2f} runs/month"


def _best(options: list[TrainOption], kind: str, runs: float) -> TrainOption | None:
    """The cheapest option of a kind at `runs`; for managed, offers of the same open model when any."""
    pool = [o for o in options if o.kind == kind]
    if kind == "managed":
        pool = [o for o in pool if (o.match or "").startswith("same open model")] or pool
    return min(pool, key=lambda o: o.usd_for_runs(runs)) if pool else None


def break_even_table(comparison: TrainComparison, max_runs: float = 1000.0):
    """For each managed option (the same open model first, then other models), the break-even against the
    cheapest cloud and the cheapest on-prem option at the scenario's runs per month."""
    import pandas as pd

    scn = comparison.scenario
    rows = []
    for kind in ("self-hosted", "on-prem"):
        mine = _best(comparison.options + comparison.others, kind, scn.runs_per_month)
        if mine is None:
            continue
        for managed in (o for o in comparison.options + comparison.others if o.kind == "managed"):
            runs = break_even_runs(mine, managed, max_runs)
            rows.append(
                {
                    "self_option": f"{mine.provider} {mine.option}",
                    "self_kind": kind,
                    "managed_option": f"{managed.provider} {managed.option}",
                    "managed_model": managed.managed_model,
                    "match": managed.match,
                    "status": managed.status,
                    "group": managed.group,
                    "flags": ", ".join(dict.fromkeys(mine.flags + managed.flags)),
                    "break_even_runs_per_month": runs,
                    "break_even_tokens_per_month": None if runs is None else runs * scn.billed_tokens,
                    "verdict": _verdict(runs, max_runs),
                    "self_usd_total": mine.usd_total,
                    "managed_usd_total": managed.usd_total,
                    "self_basis": mine.basis,
                    "self_as_of": mine.as_of,
                    "managed_as_of": managed.as_of,
                }
            )
    return pd.DataFrame(rows)


def cost_curves(
    comparison: TrainComparison,
    options: list[TrainOption] | None = None,
    max_runs: float | None = None,
    points: int = 60,
):
    """Monthly cost against runs per month for each option (default: the cheapest of each kind and every
    managed option), for the break-even chart."""
    import pandas as pd

    scn = comparison.scenario
    if options is None:
        options = [
            o
            for k in ("self-hosted", "on-prem")
            if (o := _best(comparison.options + comparison.others, k, scn.runs_per_month))
        ]
        options += [o for o in comparison.options if o.kind == "managed"]
    top = max_runs or max(4 * scn.runs_per_month, 10.0)
    grid = sorted({top * i / (points - 1) for i in range(points)} | {scn.runs_per_month})
    return pd.DataFrame(
        [
            {
                "option": f"{o.provider} {o.option}",
                "kind": o.kind,
                "runs_per_month": r,
                "usd_per_month": o.usd_for_runs(r),
            }
            for o in options
            for r in grid
        ]
    )


@dataclass(frozen=True)
class Payback:
    gpu: str
    n_gpus: int
    unit: str  # what is bought
    units: int
    capex_usd: float  # units × (price + set-up)
    runs_per_month: float  # what the owned GPUs can run when busy all their available hours
    onprem_usd_per_month: float  # running costs: energy, colocation, support, people (depreciation excluded)
    cloud_usd_per_month: float  # renting the same work at the cheapest cloud option
    cloud_option: str
    managed_usd_per_month: float | None
    managed_option: str | None
    months_vs_cloud: float | None  # None: never pays back
    months_vs_managed: float | None
    basis: str
    as_of: str


def _months(capex: float, saving: float) -> float | None:
    return capex / saving if saving > 0 else None


def payback(
    scenario: TrainScenario, catalog: Catalog | None = None, meas: Measurements | None = None
) -> list[Payback]:
    """Payback of each on-prem option in the catalog, for a pipeline that keeps it busy."""
    catalog = catalog or load_catalog()
    comparison = compare_training(scenario, catalog, meas)
    out = []
    for own in (o for o in comparison.options if o.kind == "on-prem"):
        site = catalog.onprem[own.gpu]
        runs = own.runs_capacity
        price = site.unit_usd * scenario.onprem_capex_factor
        capex = own.units * (price + site.setup_usd_per_unit)
        colo = own.n_gpus * site.colo_usd_per_kw_month * site.system_w_per_gpu / 1000
        support = own.units * site.support_frac_per_year * price / 12
        # depreciation is the capex itself
        running = colo + support + runs * own.usd_per_run + own.ops_usd_per_month
        cloud = _best(comparison.options + comparison.others, "self-hosted", runs)
        managed = _best(comparison.options + comparison.others, "managed", runs)
        cloud_usd = cloud.usd_for_runs(runs) if cloud else math.inf
        managed_usd = managed.usd_for_runs(runs) if managed else None
        out.append(
            Payback(
                gpu=own.gpu,
                n_gpus=own.n_gpus,
                unit=own.unit,
                units=own.units,
                capex_usd=capex,
                runs_per_month=runs,
                onprem_usd_per_month=running,
                cloud_usd_per_month=cloud_usd,
                cloud_option=f"{cloud.provider} {cloud.option}" if cloud else "none",
                managed_usd_per_month=managed_usd,
                managed_option=f"{managed.provider} {managed.option}" if managed else None,
                months_vs_cloud=_months(capex, cloud_usd - running),
                months_vs_managed=_months(capex, managed_usd - running) if managed_usd is not None else None,
                basis=own.basis,
                as_of=own.as_of,
            )
        )
    return out


def savings(comparison: TrainComparison) -> tuple[float, TrainOption | None, TrainOption | None]:
    """Monthly saving of the cheapest self-hosted or on-prem option over the cheapest managed one (offers of
    the same open model when there are any). Positive: self-hosting is cheaper."""
    runs = comparison.scenario.runs_per_month
    mine = [
        o for k in ("self-hosted", "on-prem") if (o := _best(comparison.options + comparison.others, k, runs))
    ]
    best_self = min(mine, key=lambda o: o.usd_for_runs(runs)) if mine else None
    best_managed = _best(comparison.options + comparison.others, "managed", runs)
    if best_self is None or best_managed is None:
        return math.nan, best_self, best_managed
    return best_managed.usd_total - best_self.usd_total, best_self, best_managed


_INPUTS = (
    ("tokens per run", "tokens"),
    ("runs per month", "runs_per_month"),
    ("GPU rental price", "gpu_price_factor"),
    ("managed training price", "managed_price_factor"),
    ("training throughput", "throughput_factor"),
    ("utilisation of billed hours", "utilisation"),
    ("on-prem server price", "onprem_capex_factor"),
    ("power price", "power_price_factor"),
)


def sensitivity(
    scenario: TrainScenario,
    catalog: Catalog | None = None,
    meas: Measurements | None = None,
    delta: float = 0.25,
):
    """How the monthly saving of self-hosting moves when each input moves by ±delta (tornado data)."""
    import pandas as pd

    catalog = catalog or load_catalog()
    base, _, _ = savings(compare_training(scenario, catalog, meas))
    rows = []
    for label, name in _INPUTS:
        value = getattr(scenario, name)
        results = []
        for factor in (1 - delta, 1 + delta):
            moved = value * factor
            if name == "utilisation":
                moved = min(moved, 1.0)
            elif name == "tokens":
                moved = max(1, int(round(moved)))
            saving, best_self, best_managed = savings(
                compare_training(replace(scenario, **{name: moved}), catalog, meas)
            )
            results.append((moved, saving, best_self, best_managed))
        (lo_v, lo_s, lo_self, lo_man), (hi_v, hi_s, hi_self, hi_man) = results
        rows.append(
            {
                "input": label,
                "base_value": value,
                "low_value": lo_v,
                "high_value": hi_v,
                "base_saving_usd": base,
                "saving_low_usd": lo_s,
                "saving_high_usd": hi_s,
                "swing_usd": abs(hi_s - lo_s),
                "verdict_low": "self-host" if lo_s > 0 else "managed",
                "verdict_high": "self-host" if hi_s > 0 else "managed",
                "self_low": f"{lo_self.provider} {lo_self.option}" if lo_self else None,
                "self_high": f"{hi_self.provider} {hi_self.option}" if hi_self else None,
                "managed_low": f"{lo_man.provider} {lo_man.option}" if lo_man else None,
                "managed_high": f"{hi_man.provider} {hi_man.option}" if hi_man else None,
            }
        )
    frame = pd.DataFrame(rows)
    return frame.sort_values("swing_usd", ascending=False, ignore_index=True) if not frame.empty else frame
