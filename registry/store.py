"""Registry operations: register, find, list, deploy, retire, check. Each takes an engine from
registry.db.open_registry and returns plain dicts (one per adapter, its deployments under "deployments")."""

from __future__ import annotations

import getpass
import re
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from core import vocab
from core.errors import InputError
from registry.db import adapters, deployments
from registry.fingerprint import check_base, describe, digest_of, same_base
from registry.folder import AdapterFolder

MODES = tuple(m for m in vocab.MODES if m != "base")  # how a deployment serves an adapter: merged | dynamic
STATUSES = ("active", "retired")
ID_ACCEPTED = (
    "an adapter id (an integer) or 6+ leading hex digits of its weights hash (see `peftplan adapters list`)"
)


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def who() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _insert(engine: sa.Engine):
    return (postgresql if engine.dialect.name == "postgresql" else sqlite).insert


def register(
    engine: sa.Engine,
    adapter: AdapterFolder,
    data: dict,
    *,
    base_fingerprint: dict | None,
    note: str | None = None,
    training: dict | None = None,
    cost: dict | None = None,
    origin: dict | None = None,
) -> tuple[dict, bool]:
    """Record an adapter; the same weights again are the same entry. Returns (entry, created)."""
    values = {
        "weights_sha256": adapter.weights_sha256,
        "peft_type": adapter.peft_type,
        "rank": adapter.rank,
        "alpha": adapter.alpha,
        "targets": adapter.targets,
        "size_bytes": adapter.size_bytes,
        "base_model": adapter.base_model,
        "base_fingerprint": base_fingerprint,
        "base_digest": digest_of(base_fingerprint),
        "data_label": data["label"],
        "data_sha256": data["sha256"],
        "data": data["record"],
        "training": training,
        "cost": cost,
        "origin": origin,
        "path": adapter.path,
        "note": note,
        "status": "active",
        "registered_by": who(),
        "registered_at": _now(),
    }
    statement = (
        _insert(engine)(adapters).values(**values).on_conflict_do_nothing(index_elements=["weights_sha256"])
    )
    with engine.begin() as conn:
        created = conn.execute(statement).rowcount == 1
        entry_id = conn.execute(
            sa.select(adapters.c.id).where(adapters.c.weights_sha256 == adapter.weights_sha256)
        ).scalar_one()
    return get(engine, str(entry_id)), created


def _as_dict(row) -> dict:
    return dict(row._mapping)


def _with_deployments(conn: sa.Connection, entries: list[dict]) -> list[dict]:
    ids = [e["id"] for e in entries]
    rows = (
        conn.execute(
            sa.select(deployments).where(deployments.c.adapter_id.in_(ids)).order_by(deployments.c.name)
        )
        if ids
        else []
    )
    by_adapter: dict[int, list[dict]] = {}
    for row in rows:
        by_adapter.setdefault(row.adapter_id, []).append(_as_dict(row))
    return [{**e, "deployments": by_adapter.get(e["id"], [])} for e in entries]


def get(engine: sa.Engine, ident: str) -> dict:
    """One adapter by id or weights-hash prefix; InputError for an unknown or ambiguous one."""
    ident = str(ident).strip()
    if re.fullmatch(r"\d+", ident):
        where = adapters.c.id == int(ident)
    elif re.fullmatch(r"[0-9a-fA-F]{6,64}", ident):
        where = adapters.c.weights_sha256.startswith(ident.lower())
    else:
        raise InputError("not an adapter id", field="ADAPTER", value=ident, accepted=ID_ACCEPTED)
    with engine.connect() as conn:
        rows = [_as_dict(r) for r in conn.execute(sa.select(adapters).where(where).limit(2))]
        if len(rows) != 1:
            what = "unknown adapter" if not rows else "more than one adapter matches"
            raise InputError(what, field="ADAPTER", value=ident, accepted=ID_ACCEPTED)
        return _with_deployments(conn, rows)[0]


def entries(
    engine: sa.Engine,
    *,
    base: str | None = None,
    deployment: str | None = None,
    data: str | None = None,
    status: str | None = None,
    weights: str | None = None,
) -> list[dict]:
    """Every adapter, filtered: base (name or digest prefix), deployment name, data (label substring or
    sha256 prefix), status, weights hash."""
    query = sa.select(adapters).order_by(adapters.c.id)
    if weights:
        query = query.where(adapters.c.weights_sha256 == weights)
    if base:
        query = query.where(sa.or_(adapters.c.base_model == base, adapters.c.base_digest.contains(base)))
    if data:
        query = query.where(
            sa.or_(adapters.c.data_label.contains(data), adapters.c.data_sha256.startswith(data))
        )
    if status:
        if status not in STATUSES:
            raise InputError("unknown status", field="--status", value=status, accepted=", ".join(STATUSES))
        query = query.where(adapters.c.status == status)
    if deployment:
        named = sa.select(deployments.c.adapter_id).where(deployments.c.name == deployment)
        query = query.where(adapters.c.id.in_(named))
    with engine.connect() as conn:
        return _with_deployments(conn, [_as_dict(r) for r in conn.execute(query)])


def check(entry: dict, base_fingerprint: dict, *, allow_mismatch: bool = False) -> bool:
    """The benchmark's refusal for a registered adapter: InputError naming both fingerprints, or (with
    allow_mismatch) a warning. Returns whether the bases match."""
    where = f"adapter {entry['id']} ({entry['weights_sha256'][:12]})"
    return check_base(entry["base_fingerprint"], base_fingerprint, where=where, allow_mismatch=allow_mismatch)


def deploy(
    engine: sa.Engine,
    ident: str,
    name: str,
    base_fingerprint: dict,
    mode: str,
    *,
    allow_mismatch: bool = False,
) -> dict:
    """Record adapter `ident` in deployment `name` on a base (refused for a mismatched base or a retired
    adapter); deploying it under the same name again updates the base and mode."""
    if mode not in MODES:
        raise InputError("unknown mode", field="--mode", value=mode, accepted=", ".join(MODES))
    if not name.strip():
        raise InputError("empty deployment name", field="--name", value=name, accepted="a non-empty name")
    entry = get(engine, ident)
    if entry["status"] == "retired":
        raise InputError("adapter is retired", field="ADAPTER", value=ident, accepted="an active adapter")
    matched = check(entry, base_fingerprint, allow_mismatch=allow_mismatch)
    values = {
        "adapter_id": entry["id"],
        "name": name.strip(),
        "base_model": base_fingerprint.get("model") or "",
        "base_fingerprint": base_fingerprint,
        "mode": mode,
        "mismatch_allowed": not matched,
        "deployed_by": who(),
        "deployed_at": _now(),
    }
    update = {
        k: values[k]
        for k in ("base_model", "base_fingerprint", "mode", "mismatch_allowed", "deployed_by", "deployed_at")
    }
    statement = _insert(engine)(deployments).values(**values)
    statement = statement.on_conflict_do_update(index_elements=["adapter_id", "name"], set_=update)
    with engine.begin() as conn:
        conn.execute(statement)
    return get(engine, str(entry["id"]))


def retire(engine: sa.Engine, ident: str) -> tuple[dict, list[str]]:
    """Mark an adapter retired and take it out of its deployments; returns (entry, deployments it left)."""
    entry = get(engine, ident)
    with engine.begin() as conn:
        conn.execute(sa.update(adapters).where(adapters.c.id == entry["id"]).values(status="retired"))
        conn.execute(sa.delete(deployments).where(deployments.c.adapter_id == entry["id"]))
    return get(engine, str(entry["id"])), [d["name"] for d in entry["deployments"]]


def coupling(entry: dict) -> list[dict]:
    """For each deployment of an adapter: does its base match the one the adapter was saved for?"""
    return [
        {
            "adapter_id": entry["id"],
            "deployment": d["name"],
            "mode": d["mode"],
            "ok": same_base(entry["base_fingerprint"], d["base_fingerprint"]),
            "adapter_base": describe(entry["base_fingerprint"]),
            "deployed_base": describe(d["base_fingerprint"]),
            "mismatch_allowed": d["mismatch_allowed"],
        }
        for d in entry["deployments"]
    ]
