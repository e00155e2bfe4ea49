"""The result store: append-only JSON Lines, one row per spec run.

Each row is written with a single O_APPEND write() of the whole line under an exclusive flock, then fsync'd:
a reader never sees half a row and rows written before a crash (or a SIGKILL of the sweep) stay on disk.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

from core.errors import InputError
from core.rows import parse_lines


def check_writable(path: str | Path) -> Path:
    """Fail before any benchmark runs if the results file cannot be created or appended to."""
    path = Path(path)
    if path.exists() and path.is_dir():
        raise InputError("output is a folder", file=str(path), accepted="a .jsonl file path")
    parent = path.parent
    probe = parent
    while not probe.exists():
        probe = probe.parent
    if not os.access(probe, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise InputError("output is not writable", file=str(path), accepted="a path in a writable folder")
    if not probe.is_dir():
        raise InputError("output's parent is not a folder", file=str(path))
    return path


def append_row(path: str | Path, row: dict) -> None:
    """Append one row atomically (one write of the full line, flocked and fsync'd)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(row, sort_keys=False, allow_nan=False) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        written = os.write(fd, line)
        if written != len(line):  # regular files write fully; anything else is a broken disk
            raise OSError(f"short write to {path}: {written} of {len(line)} bytes")
        os.fsync(fd)
    finally:
        os.close(fd)


def finished_rows(path: str | Path, code_version: str, device_name: str | None = None) -> set[str]:
    """Spec hashes that already have an `ok` row made by this code version (on this device, when given):
    what a resumed sweep skips."""
    path = Path(path)
    if not path.exists():
        return set()
    with path.open(encoding="utf-8") as fh:
        return {
            r["spec_hash"]
            for r in parse_lines(fh, file=str(path))
            if r["status"] == "ok"
            and r.get("code_version") == code_version
            and (device_name is None or r["provenance"].get("device_name") == device_name)
        }
