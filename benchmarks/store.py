"""The result store: append-only JSON Lines, one row per spec run.

Each row is written with O_APPEND writes of the whole line under an exclusive flock, then fsync'd: a reader
never sees half a row and rows written before a crash (or a SIGKILL of the sweep) stay on disk. A write that
fails part-way (a full disk, a quota) is rolled back: the file is cut back to its size before the append, and
the caller gets a StoreError. If the file does not end with a newline (a fragment left by an older writer or
an editor), the row starts on a line of its own, so it is never glued onto the fragment. Only regular files
are results files: /dev/null, /dev/full, pipes and sockets are refused.
"""

from __future__ import annotations

import fcntl
import json
import os
import stat
from pathlib import Path

from core.errors import InputError
from core.rows import BadLine, Rows, read_rows


class StoreError(OSError):
    """A row could not be appended; the file is as it was before the attempt."""


def check_writable(path: str | Path) -> Path:
    """Fail before any benchmark runs if the results file cannot be created or appended to."""
    if not str(path).strip():
        raise InputError("empty output path", field="--out", accepted="a .jsonl file path")
    path = Path(path)
    if path.exists() and path.is_dir():
        raise InputError("output is a folder", file=str(path), accepted="a .jsonl file path")
    if path.exists() and not path.is_file():
        raise InputError("output is not a regular file", file=str(path), accepted="a .jsonl file path")
    parent = path.parent
    probe = parent
    while not probe.exists():
        probe = probe.parent
    if not os.access(probe, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise InputError("output is not writable", file=str(path), accepted="a path in a writable folder")
    if not probe.is_dir():
        raise InputError("output's parent is not a folder", file=str(path))
    return path


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written <= 0:
            raise OSError("write() wrote nothing")
        view = view[written:]


def append_row(path: str | Path, row: dict) -> None:
    """Append one row atomically (whole line, flocked and fsync'd); roll back and raise StoreError if not."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(row, sort_keys=False, allow_nan=False) + "\n").encode()
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise StoreError(f"{path} is not a regular file")
        fcntl.flock(fd, fcntl.LOCK_EX)
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            line = b"\n" + line  # end the fragment before it: this row gets a line of its own
        try:
            _write_all(fd, line)
            os.fsync(fd)
        except OSError as exc:
            os.ftruncate(fd, size)  # roll back the partial line
            raise StoreError(
                f"cannot append a row to {path} ({exc.strerror or exc}); the file is unchanged"
            ) from exc
    finally:
        os.close(fd)


def stored_rows(path: str | Path) -> Rows:
    """The valid rows of a results file, with the bad lines in `.problems` (core.rows.read_rows); no rows
    where there is no regular file yet."""
    return read_rows(path) if Path(path).is_file() else Rows()


def finished_rows(path: str | Path, code_version: str, device_name: str | None = None) -> set[str]:
    """Spec hashes that already have an `ok` row made by this code version (on this device, when given):
    what a resumed sweep skips. Bad lines are ignored (`peftplan results check` lists them)."""
    return {
        r["spec_hash"]
        for r in stored_rows(path)
        if r["status"] == "ok"
        and r.get("code_version") == code_version
        and (device_name is None or r["provenance"].get("device_name") == device_name)
    }


def row_key(row: dict) -> tuple:
    """What makes a row the same measurement as another (a collected leftover is appended once)."""
    return row.get("spec_hash"), row.get("provenance", {}).get("timestamp"), row.get("status")


def repair(path: str | Path) -> tuple[int, list[BadLine], Path | None, Path | None]:
    """Move the bad lines of a results file aside: the file keeps its valid rows (rewritten in place under
    the append lock), the bad lines go to FILE.bad-lines.txt, and the original to FILE.bak first.
    Returns (rows kept, bad lines, backup, bad-lines file); nothing is written when no line is bad."""
    path = Path(path)
    rows = stored_rows(path)
    bad = rows.problems
    if not bad:
        return len(rows), [], None, None
    backup, aside = path.with_name(path.name + ".bak"), path.with_name(path.name + ".bad-lines.txt")
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # no append lands while the file is rewritten
        data = os.pread(fd, os.fstat(fd).st_size, 0)
        backup.write_bytes(data)
        lines = data.split(b"\n")
        bad_numbers = {b.line for b in bad}
        kept = [x for i, x in enumerate(lines, start=1) if x.strip() and i not in bad_numbers]
        with aside.open("ab") as fh:
            fh.writelines(lines[b.line - 1] + b"\n" for b in bad)
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        _write_all(fd, b"".join(x + b"\n" for x in kept))
        os.fsync(fd)
    finally:
        os.close(fd)
    return len(kept), bad, backup, aside
