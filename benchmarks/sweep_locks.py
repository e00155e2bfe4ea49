"""Locks that keep sweeps apart: one per device and one per output file.

Two sweeps measuring on one GPU at once measure each other: tokens/s of one spec ranged from 339 to 37,327
when three sweeps shared a device, every row `ok`. So a sweep holds an exclusive lock on its device (and on
its output file) while it runs; a second sweep refuses with a message naming the holder, or waits for it
with --wait. `--share-device` runs beside another sweep anyway; its rows then record
`provenance.device_shared = true` for each spec during which another sweep held the device.

Locks are flock(2) on files under the temp folder (peftplan.locks/): the kernel drops them when the holder
dies, however it dies, so a killed sweep never leaves a stale lock.

CUDA: a sweep that sees every GPU (CUDA_VISIBLE_DEVICES unset) locks the whole machine; one that sees a list
locks each listed GPU (and shares the whole-machine lock with other such sweeps).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import sys
import tempfile
from contextlib import ExitStack, contextmanager
from pathlib import Path

from core.errors import InputError

LOCK_DIR_NAME = "peftplan.locks"  # not "peftplan-*": that is the workers' folders (benchmarks/runner.py)


LOCK_DIR_ENV = "PEFTPLAN_LOCK_DIR"  # another folder for the locks (the tests give each test its own)


def lock_dir() -> Path:
    path = Path(os.environ.get(LOCK_DIR_ENV) or Path(tempfile.gettempdir()) / LOCK_DIR_NAME)
    path.mkdir(mode=0o777, exist_ok=True)
    return path


def device_locks(device: str | None) -> list[tuple[str, bool]]:
    """(lock name, exclusive) pairs for a sweep on `device` (cuda, cpu, or None for a mix: both)."""
    if device is None:
        return device_locks("cpu") + device_locks("cuda")
    if device != "cuda":
        return [(device, True)]
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is None:
        return [("cuda", True)]
    return [("cuda", False)] + [(f"cuda-{d.strip()}", True) for d in sorted(visible.split(",")) if d.strip()]


class _Lock:
    def __init__(self, name: str, what: str):
        self.path, self.what = lock_dir() / f"{name}.lock", what
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)

    def holder(self) -> str:
        text = os.pread(self.fd, 200, 0).decode(errors="replace").strip()
        return text or "another sweep"

    def take(self, exclusive: bool, wait: bool, share: bool) -> bool:
        """Take the lock; True if it had to be shared with another holder (share only)."""
        mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        try:
            fcntl.flock(self.fd, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            if share:
                return True
            if not wait:
                raise InputError(
                    f"{self.what} is in use by {self.holder()}",
                    accepted="wait for it to end, "
                    "or pass --wait (queue behind it) or --share-device (measure beside it)",
                ) from None
            print(f"peftplan: waiting for {self.holder()} ({self.what})", file=sys.stderr)
            fcntl.flock(self.fd, mode)
        if exclusive:
            os.ftruncate(self.fd, 0)
            os.pwrite(self.fd, f"sweep pid {os.getpid()}".encode(), 0)
        return False

    def busy(self) -> bool:
        """Whether another process holds this lock now (for a lock this process does not hold)."""
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        return False

    def close(self) -> None:
        os.close(self.fd)


@contextmanager
def sweep_locks(out: Path, device: str | None, *, wait: bool = False, share_device: bool = False):
    """Hold the output file's lock and the device's for a sweep. Yields a function that says whether the
    device is shared with another sweep right now (always False unless share_device)."""
    with ExitStack() as stack:
        digest = hashlib.sha256(str(out.resolve()).encode()).hexdigest()[:16]
        out_lock = _Lock(f"out-{digest}", f"the output file {out}")
        stack.callback(out_lock.close)
        out_lock.take(True, wait, share=False)
        shared = []
        for name, exclusive in device_locks(device):
            lock = _Lock(name, f"the device {name}")
            stack.callback(lock.close)
            if lock.take(exclusive, wait, share=share_device):
                shared.append(lock)  # held by another sweep: not taken, checked before each spec
        yield lambda: any(lock.busy() for lock in shared)
