"""Where and with what a row was measured: code version, git state, library versions, device."""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import platform
import socket
import subprocess
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from core.errors import InputError
from core.paths import REPO_ROOT

# The code whose change invalidates a measurement (resume redoes specs measured by other code).
CODE_FILES = ("benchmarks/*.py", "core/flops.py", "core/shapes.py")
# Testing the regression gate only: this fraction of extra work in every timed region (benchmarks/measure.py).
SLOWDOWN_ENV = "PEFTPLAN_TEST_SLOWDOWN"


def slowdown_fraction() -> float:
    """The fraction of extra work the testing-only slowdown switch adds to each timed region (0: off)."""
    text = os.environ.get(SLOWDOWN_ENV, "").strip()
    try:
        fraction = float(text) if text else 0.0
    except ValueError:
        fraction = -1.0
    if not 0.0 <= fraction <= 1.0:
        raise InputError(
            "bad value",
            field=SLOWDOWN_ENV,
            value=text,
            accepted="a fraction in [0, 1] (0.10 adds 10% to each timed step)",
        )
    return fraction


@lru_cache(maxsize=1)
def code_version() -> str:
    digest = hashlib.sha256()
    for pattern in CODE_FILES:
        for path in sorted(REPO_ROOT.glob(pattern)):
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def host_provenance() -> dict:
    """Everything but the device (which needs torch: see device_provenance in benchmarks/measure.py)."""
    # A copy of the tree without .git (a remote GPU machine) gets its commit through the environment.
    commit = os.environ.get("PEFTPLAN_GIT_COMMIT") or _git("rev-parse", "HEAD")
    if "PEFTPLAN_GIT_DIRTY" in os.environ:
        dirty = os.environ["PEFTPLAN_GIT_DIRTY"].lower() in ("1", "true", "yes")
    else:
        status = _git("status", "--porcelain", "--untracked-files=no")
        dirty = None if status is None else bool(status)
    return {
        "git_commit": commit,
        "git_dirty": dirty,
        "code_version": code_version(),
        "torch": _version("torch"),
        "transformers": _version("transformers"),
        "peft": _version("peft"),
        "bitsandbytes": _version("bitsandbytes"),
        "accelerate": _version("accelerate"),
        "python": platform.python_version(),
        "host": socket.gethostname(),
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        **(
            {"test_slowdown": slowdown_fraction()} if slowdown_fraction() else {}
        ),  # a slowed row is no measurement
    }


def repo_path(path: str | Path) -> str:
    """A path relative to the repository where possible (rows stay portable)."""
    path = Path(path).resolve()
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def device_name_without_torch(device: str) -> str | None:
    """The name torch will report for `device`, read through NVML so the parent process needs no torch."""
    if device == "cpu":
        return "cpu"
    try:
        import pynvml

        pynvml.nvmlInit()
        name = pynvml.nvmlDeviceGetName(pynvml.nvmlDeviceGetHandleByIndex(0))
        return name.decode() if isinstance(name, bytes) else name
    except Exception:  # no NVML here: resume does not filter by device
        return None
