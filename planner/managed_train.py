"""Managed fine-tuning offers priced for a training scenario (planner.cost's managed half).

An offer applies when its method matches (LoRA and QLoRA jobs take LoRA or SFT offers; full takes full or
SFT) and it is priced per token. Open-model offers apply when the model's size is in their bracket: the same
open model, ranked like for like. Proprietary offers tune a different model: priced in their own list, or
left out with managed_scope="same-model". Example figures are never priced; serving-only offers (custom
model import) are not training.

Public: managed_options(scenario, catalog, skipped) -> list[TrainOption]   (appends to skipped)
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from planner.catalog import Catalog, ManagedOffer

if TYPE_CHECKING:
    from planner.job_plan import TrainScenario

_MANAGED_METHODS = {"lora": ("lora", "sft"), "qlora": ("lora", "sft"), "full": ("full", "sft")}


def _applies(scn: TrainScenario, offer: ManagedOffer, params_b: float) -> tuple[bool, str]:
    if offer.status == "example":
        return False, "an example figure from a docs page, not a price"
    if offer.method == "import":
        return False, "serving only: imports weights tuned elsewhere"
    if offer.method not in _MANAGED_METHODS[scn.method]:
        return False, f"method {offer.method} is not {scn.method}"
    if offer.usd_per_1m_training_tokens is None:
        return False, "priced per training hour, not per token"
    if offer.open_weights:
        if not offer.min_params_b < params_b <= offer.max_params_b:
            bracket = f"{offer.min_params_b:g}-{offer.max_params_b:g}B"
            return False, f"{scn.model} ({params_b:.1f}B) is outside the {bracket} bracket"
        return True, f"same open model ({scn.model}, bracket {offer.min_params_b:g}-{offer.max_params_b:g}B)"
    if scn.managed_scope == "same-model":
        return False, "a proprietary model, not the same model"
    return True, f"a different model: {offer.managed_model} (proprietary, size undisclosed)"


def _option(scn: TrainScenario, offer: ManagedOffer, match: str):
    from planner.cost import TrainOption

    price = offer.usd_per_1m_training_tokens * scn.managed_price_factor
    minimum = f", minimum ${offer.min_charge_usd:g}" if offer.min_charge_usd else ""
    return TrainOption(
        provider=offer.provider,
        kind="managed",
        option=offer.offer,
        usd_per_run=max(offer.min_charge_usd, scn.billed_tokens / 1e6 * price),
        usd_fixed_per_month=0.0,
        runs_capacity=math.inf,
        usd_total=0.0,
        ops_usd_per_month=0.0,
        basis="catalog",
        derivation=f"{scn.billed_tokens / 1e6:,.1f}M billed tokens × ${price:g}/1M{minimum}",
        as_of=offer.as_of,
        source=offer.source,
        status=offer.status,
        flags=offer.flags,
        group="like-for-like" if offer.open_weights else "other model",
        managed_model=offer.managed_model or scn.model,
        match=match,
    )


def managed_options(scn: TrainScenario, catalog: Catalog, skipped: list[tuple[str, str]]) -> list:
    """The managed offers that apply to the scenario, priced (monthly totals filled in by the caller)."""
    params_b = scn.job.shape.total_params() / 1e9
    found = []
    for offer in catalog.managed:
        ok, why = _applies(scn, offer, params_b)
        if ok:
            found.append(_option(scn, offer, why))
        else:
            skipped.append((offer.label, why))
    return found
