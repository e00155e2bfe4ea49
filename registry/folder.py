"""Reading a peft adapter folder as data: adapter_config.json and the safetensors files, never a pickle.

The safetensors format is an 8-byte little-endian header length, a JSON header (each tensor's dtype, shape
and byte range in the data that follows) and the data. The header is read and checked here without torch:
every tensor's range must lie inside the file, match its dtype and shape, and the ranges must cover the data
exactly, so a truncated or corrupt file is refused before anything is recorded.

The content hash covers what the weights are, not how the file was written: sha256 over the tensors in name
order, each as name, dtype, shape and bytes. The same weights saved twice (another adapter name inside peft,
another metadata block) hash the same.
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
from dataclasses import dataclass
from pathlib import Path

from core.errors import InputError
from registry.fingerprint import checkpoint_fingerprint, recorded_fingerprint

CONFIG_FILE = "adapter_config.json"
DTYPE_BYTES = {
    "F64": 8,
    "F32": 4,
    "F16": 2,
    "BF16": 2,
    "I64": 8,
    "I32": 4,
    "I16": 2,
    "I8": 1,
    "U8": 1,
    "BOOL": 1,
    "F8_E4M3": 1,
    "F8_E5M2": 1,
    "U16": 2,
    "U32": 4,
    "U64": 8,
}
MAX_HEADER_BYTES = 100 * 1024**2  # the format's own limit
ACCEPTED = "a folder saved with peft's save_pretrained(safe_serialization=True)"


@dataclass(frozen=True)
class AdapterFolder:
    """What a peft adapter folder says about itself."""

    path: str
    weights_sha256: str
    peft_type: str
    rank: int | None
    alpha: float | None
    targets: list[str]
    size_bytes: int  # safetensors files and adapter_config.json on disk
    base_model: str  # as adapter_config.json names it
    base_fingerprint: dict | None  # recorded beside the adapter, or from a local base folder


def _tensor_entries(path: Path) -> tuple[dict, int]:
    """The header's tensor entries and where the data starts; InputError for a corrupt or truncated file."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(8)
        if len(head) < 8:
            raise InputError(
                "truncated safetensors file (no header)",
                file=str(path),
                value=f"{size} bytes",
                accepted=ACCEPTED,
            )
        (n,) = struct.unpack("<Q", head)
        if n > min(MAX_HEADER_BYTES, size - 8):
            raise InputError(
                "corrupt or truncated safetensors file: header length past the end of the file",
                file=str(path),
                value=n,
                accepted=ACCEPTED,
            )
        try:
            header = json.loads(fh.read(n))
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise InputError(
                "corrupt safetensors file: header is not JSON", file=str(path), accepted=ACCEPTED
            ) from None
    if not isinstance(header, dict):
        raise InputError(
            "corrupt safetensors file: header is not an object", file=str(path), accepted=ACCEPTED
        )
    header.pop("__metadata__", None)
    _check_ranges(path, header, size - 8 - n)
    return header, 8 + n


def _check_ranges(path: Path, header: dict, data_bytes: int) -> None:
    """Each tensor's byte range matches its dtype and shape; together they tile the data exactly."""
    spans = []
    for name, entry in header.items():
        try:
            start, stop = entry["data_offsets"]
            expected = DTYPE_BYTES[entry["dtype"]] * math.prod(entry["shape"])
            ok = isinstance(start, int) and isinstance(stop, int) and start >= 0 and stop - start == expected
        except (KeyError, TypeError, ValueError):
            ok = False
        if not ok:
            raise InputError(
                "corrupt safetensors file: bad tensor entry",
                file=str(path),
                field=name,
                value=entry,
                accepted=ACCEPTED,
            )
        spans.append((start, stop, name))
    end = 0
    for start, stop, name in sorted(spans):
        if start != end:
            raise InputError(
                "corrupt safetensors file: tensors overlap or leave gaps",
                file=str(path),
                field=name,
                value=[start, stop],
                accepted=ACCEPTED,
            )
        end = stop
    if end != data_bytes:
        what = "truncated" if end > data_bytes else "corrupt (trailing bytes)"
        raise InputError(
            f"{what} safetensors file: tensors need {end} data bytes, the file holds {data_bytes}",
            file=str(path),
            accepted=ACCEPTED,
        )


def weights_sha256(files: list[Path]) -> str:
    """Content hash of the tensors in `files` (module docstring); every file's header is checked first."""
    tensors = {}
    for path in files:
        entries, data_start = _tensor_entries(path)
        for name, entry in entries.items():
            if name in tensors:
                raise InputError("tensor stored twice", file=str(path), field=name, accepted=ACCEPTED)
            tensors[name] = (path, data_start, entry)
    digest = hashlib.sha256()
    for name in sorted(tensors):
        path, data_start, entry = tensors[name]
        start, stop = entry["data_offsets"]
        with path.open("rb") as fh:
            fh.seek(data_start + start)
            data = fh.read(stop - start)
        digest.update(json.dumps([name, entry["dtype"], entry["shape"]]).encode())
        digest.update(data)
    return digest.hexdigest()


def _read_config(folder: Path) -> dict:
    path = folder / CONFIG_FILE
    if not folder.is_dir():
        raise InputError("not a folder", file=str(folder), accepted=ACCEPTED)
    if not path.is_file():
        raise InputError(f"not an adapter folder: no {CONFIG_FILE}", file=str(folder), accepted=ACCEPTED)
    try:
        config = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InputError("not a valid JSON file", file=str(path), accepted=ACCEPTED) from None
    if not isinstance(config, dict) or not isinstance(config.get("peft_type"), str):
        raise InputError("not a peft adapter config", file=str(path), field="peft_type", accepted=ACCEPTED)
    return config


def _base_model(folder: Path, config: dict, recorded: dict | None) -> str:
    """The base the adapter names: adapter_config.json's base_model_name_or_path, else the model of the
    fingerprint recorded beside it (peft writes null for a model built from a config)."""
    for name in (config.get("base_model_name_or_path"), (recorded or {}).get("model")):
        if isinstance(name, str) and name.strip():
            return name.strip()
    raise InputError(
        "the adapter config names no base model",
        file=str(folder / CONFIG_FILE),
        field="base_model_name_or_path",
        value=config.get("base_model_name_or_path"),
        accepted="the name or path of the base model the adapter was trained on",
    )


def _weight_files(folder: Path) -> list[Path]:
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        pickles = sorted(p.name for p in folder.glob("*.bin")) + sorted(p.name for p in folder.glob("*.pt"))
        what = (
            f"no safetensors weights (pickle files are never read: {', '.join(pickles)})"
            if pickles
            else "no safetensors weights"
        )
        raise InputError(f"not an adapter folder: {what}", file=str(folder), accepted=ACCEPTED)
    return files


def _targets(config: dict) -> list[str]:
    targets = config.get("target_modules")
    if isinstance(targets, str):
        return [targets]
    return sorted(str(t) for t in targets) if isinstance(targets, list | tuple | set) else []


def base_fingerprint_of(recorded: dict | None, base_model: str) -> dict | None:
    """The adapter's base: recorded beside it, else from the local base folder its config names (when
    base_model_name_or_path is a folder on this machine). None when neither exists."""
    local = Path(base_model)
    if recorded is None and local.is_dir() and (local / "config.json").is_file():
        return checkpoint_fingerprint(base_model, local)
    return recorded


def read_adapter(folder: str | Path) -> AdapterFolder:
    """Read and check an adapter folder; InputError (nothing recorded) for anything that is not one."""
    folder = Path(folder)
    config = _read_config(folder)
    files = _weight_files(folder)
    recorded = recorded_fingerprint(folder)
    base_model = _base_model(folder, config, recorded)
    alpha = config.get("lora_alpha")
    return AdapterFolder(
        path=str(folder.resolve()),
        weights_sha256=weights_sha256(files),
        peft_type=config["peft_type"],
        rank=config.get("r") if isinstance(config.get("r"), int) else None,
        alpha=float(alpha) if isinstance(alpha, int | float) else None,
        targets=_targets(config),
        size_bytes=sum(p.stat().st_size for p in files) + (folder / CONFIG_FILE).stat().st_size,
        base_model=base_model,
        base_fingerprint=base_fingerprint_of(recorded, base_model),
    )
