"""The planner is pure Python: importing it and every module of it loads no torch, transformers, peft or
bitsandbytes (checked in a fresh interpreter)."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import core
import planner

HEAVY = {"torch", "transformers", "peft", "bitsandbytes"}


def test_planner_imports_no_heavy_library():
    modules = sorted(
        f"{pkg.__name__}.{m.name}" for pkg in (core, planner) for m in pkgutil.iter_modules(pkg.__path__)
    )
    assert {
        "planner.catalog",
        "planner.memory",
        "planner.throughput",
        "planner.cost",
        "planner.serve",
        "planner.breakeven",
        "planner.capacity",
        "planner.accuracy",
        "planner.plan_cli",
        "core.vocab",
        "core.rows",
    } <= set(modules)
    code = (
        "import importlib, json, sys\n"
        f"for name in ['planner', *{modules!r}]:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded = set(json.loads(out))
    assert "planner" in loaded and not (loaded & HEAVY), loaded & HEAVY
