"""What a registration points at besides the adapter: the base it is checked against, the data it was
trained on and the peftplan figures (a measured row or a plan) that describe its training.

Each reader takes what the user typed, validates it and returns plain data; bad input is one InputError.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from core.errors import InputError
from registry.fingerprint import checkpoint_fingerprint, hash_file, read_fingerprint_file

BASE_ACCEPTED = (
    "a local base model folder (config.json and safetensors weights), a base_fingerprint.json, "
    "or a model name from data/catalog/models.csv"
)
DATA_ACCEPTED = "a local data file or folder, or NAME@REVISION of a remote dataset"
PLAN_KEYS = ("option", "usd_per_run", "job_hours", "gpu_hours_per_run", "basis", "as_of", "source")


def resolve_base(text: str, label: str | None = None) -> dict:
    """The fingerprint of the base a user names (BASE_ACCEPTED); `label` names a folder's base."""
    path = Path(text)
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise InputError("base folder has no config.json", file=text, accepted=BASE_ACCEPTED)
        return checkpoint_fingerprint(label or path.name, path)
    if path.is_file():
        return read_fingerprint_file(path, accepted=BASE_ACCEPTED)
    from core.shapes import get_shape

    try:
        get_shape(text)  # fails here, before transformers is imported, for an unknown name
    except InputError:
        raise InputError(
            "no such base folder or catalog model", field="--base", value=text, accepted=BASE_ACCEPTED
        ) from None
    from benchmarks.models import fingerprint  # the catalog shape's transformers config

    return fingerprint(text)


def data_fingerprint(text: str) -> dict:
    """A local file or folder: a manifest of its files' sha256; a remote dataset: its name and revision.
    Returns {"label", "sha256", "record"}: the sha256 is the identity two registrations share."""
    path = Path(text)
    if path.exists():
        root = path.resolve()
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        if not files:
            raise InputError("data folder holds no files", file=text, accepted=DATA_ACCEPTED)
        manifest = {
            (p.name if p == root else str(p.relative_to(root))): hash_file(p).hexdigest() for p in files
        }
        digest = hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()
        record = {"kind": "files", "path": str(root), "files": manifest}
        return {"label": str(root), "sha256": digest, "record": record}
    name, at, revision = text.partition("@")
    if not at or not name.strip() or not revision.strip():
        raise InputError(
            "no such file or folder, and not NAME@REVISION",
            field="--data",
            value=text,
            accepted=DATA_ACCEPTED,
        )
    record = {"kind": "dataset", "name": name.strip(), "revision": revision.strip()}
    digest = hashlib.sha256(f"{record['name']}@{record['revision']}".encode()).hexdigest()
    return {"label": f"{record['name']}@{record['revision']}", "sha256": digest, "record": record}


def training_record(path: str | Path) -> tuple[dict, dict]:
    """(training configuration, cost) from a file peftplan wrote: a measured result row (JSON, or JSON
    Lines with one row) or the output of `peftplan plan train --json` (projected)."""
    path = Path(path)
    try:
        text = path.read_text()
        lines = [line for line in text.splitlines() if line.strip()]
        data = json.loads(lines[0]) if len(lines) == 1 else json.loads(text)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, IndexError):
        raise InputError("not a readable JSON file", file=str(path), accepted=_TRAINING_ACCEPTED) from None
    if (
        isinstance(data, dict)
        and isinstance(data.get("spec"), dict)
        and isinstance(data.get("metrics"), dict)
    ):
        training = {"kind": data.get("kind"), "spec": data["spec"], "spec_hash": data.get("spec_hash")}
        cost = {
            "basis": "measured",
            "status": data.get("status"),
            "metrics": data["metrics"],
            "gpu": (data.get("provenance") or {}).get("gpu_name"),
            "source": str(path.resolve()),
        }
        return training, cost
    options = data if isinstance(data, list) else [data]
    if options and all(isinstance(o, dict) and isinstance(o.get("config"), dict) for o in options):
        cost = {
            "basis": "projected",
            "source": str(path.resolve()),
            "options": [{k: o.get(k) for k in PLAN_KEYS} for o in options],
        }
        return options[0]["config"], cost
    raise InputError("neither a result row nor a plan", file=str(path), accepted=_TRAINING_ACCEPTED)


_TRAINING_ACCEPTED = (
    "a result row from data/results (one JSON object) or the output of `peftplan plan train --json`"
)
