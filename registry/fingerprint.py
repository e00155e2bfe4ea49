"""Base-model fingerprints and the refusal of an adapter saved for another base.

A fingerprint is a small dict: `model` (a label: the name the base goes by) plus one digest that is its
identity, `config_sha256` (a catalog shape: the hash of the transformers config it builds) or
`checkpoint_sha256` (a local checkpoint folder: the hash of its weights files and config.json). Two
fingerprints are the same base when their digests are equal; the label may differ (a folder has no name).

The inference benchmark writes fingerprints (benchmarks/models.py, benchmarks/adapters.py) and the registry
stores and compares them: both use this module, so the refusal reads the same everywhere. Pure Python.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

from core.errors import InputError

FINGERPRINT_FILE = "base_fingerprint.json"  # beside an adapter saved by the benchmark
DIGESTS = ("checkpoint_sha256", "config_sha256")


def hash_file(path: Path, digest=None):
    """Feed a file to `digest` (a new sha256 by default) in 16 MiB blocks; returns the digest."""
    digest = hashlib.sha256() if digest is None else digest
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 24), b""):
            digest.update(block)
    return digest


def checkpoint_fingerprint(model: str, folder: str | Path) -> dict:
    """A local checkpoint folder: sha256 over its *.safetensors files and config.json, names included."""
    folder = Path(folder)
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.safetensors")) + [folder / "config.json"]:
        digest.update(path.name.encode())
        hash_file(path, digest)
    return {"model": model, "checkpoint_sha256": digest.hexdigest()}


def config_fingerprint(model: str, config: dict) -> dict:
    """A base built from a config (a catalog shape): sha256 of the config as sorted JSON, without the
    transformers version that wrote it."""
    config = {k: v for k, v in config.items() if k != "transformers_version"}
    text = json.dumps(config, sort_keys=True, default=str)
    return {"model": model, "config_sha256": hashlib.sha256(text.encode()).hexdigest()}


def digest_of(fingerprint: dict | None) -> str | None:
    """The identity part of a fingerprint ("config_sha256:ab12..."), None when there is none."""
    for key in DIGESTS:
        if fingerprint and isinstance(fingerprint.get(key), str):
            return f"{key}:{fingerprint[key]}"
    return None


def same_base(recorded: dict | None, expected: dict | None) -> bool:
    return digest_of(recorded) is not None and digest_of(recorded) == digest_of(expected)


def describe(fingerprint: dict | None) -> str:
    if not fingerprint:
        return "no recorded base"
    digests = [f"{k} {str(v)[:12]}" for k, v in sorted(fingerprint.items()) if k != "model"]
    return f"{fingerprint.get('model')} ({', '.join(digests)})"


def check_base(recorded: dict | None, expected: dict, *, where: str, allow_mismatch: bool = False) -> bool:
    """Refuse an adapter whose recorded base is not `expected` (or that records none) with one InputError
    naming both fingerprints; with allow_mismatch, warn instead. Returns whether the bases match."""
    if same_base(recorded, expected):
        return True
    what = "adapter records no base model" if not recorded else "adapter was saved for another base model"
    if allow_mismatch:
        warnings.warn(
            f"{where}: {what}: saved for {describe(recorded)}, loaded into {describe(expected)} "
            "(allowed by allow_mismatch)",
            stacklevel=2,
        )
        return False
    raise InputError(
        what,
        file=where,
        field="base",
        value=describe(recorded),
        accepted=f"an adapter saved for {describe(expected)}, or allow_mismatch to load it anyway",
    )


def read_fingerprint_file(path: str | Path, accepted: str = "the file save_adapter writes") -> dict:
    """The base fingerprint a JSON file holds: `{"base": {...}}` as written beside an adapter
    (FINGERPRINT_FILE), or the fingerprint object itself. Anything else is one InputError naming the file."""
    path = Path(path)
    try:
        record = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InputError("not a valid JSON file", file=str(path), accepted=accepted) from None
    except OSError as exc:
        raise InputError(
            f"cannot read the file ({exc.strerror})", file=str(path), accepted=accepted
        ) from None
    record = record.get("base", record) if isinstance(record, dict) else None
    if not isinstance(record, dict) or not digest_of(record):
        raise InputError(
            "no base fingerprint in the file",
            file=str(path),
            field="base",
            accepted=f"an object with the base model's name ('model') and {' or '.join(DIGESTS)}",
        )
    return record


def recorded_fingerprint(folder: str | Path) -> dict | None:
    """The base fingerprint saved beside an adapter (FINGERPRINT_FILE), None when there is no such file."""
    path = Path(folder) / FINGERPRINT_FILE
    return read_fingerprint_file(path) if path.is_file() else None
