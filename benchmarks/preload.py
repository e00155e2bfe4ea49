"""What the fork server of a sweep imports before it forks any worker (benchmarks/launch.py): the imports
every single-process worker needs, paid once per sweep instead of once per spec (seconds each time).

Nothing imported here may touch CUDA: a process forked from one that has cannot use it (torch says "Cannot
re-initialize CUDA in forked subprocess"), so CUDA is initialised in each worker, never here. torch and
transformers query the GPUs only when asked. peft imports bitsandbytes, which reads every GPU's compute
capability as it is imported (that initialises CUDA), so peft is preloaded only where torch is built without
CUDA and there is nothing to touch; elsewhere each worker imports peft itself. The runner checks in a fork of
the server that CUDA was left alone before it forks any worker from it.
"""

from __future__ import annotations

import contextlib
import importlib
import io

import torch

# The runners and what they import at module level.
MODULES = ("transformers", "benchmarks.train", "benchmarks.infer", "benchmarks.worker")
CPU_BUILD_ONLY = ("peft",)  # imports bitsandbytes: see above

_output = io.StringIO()
with contextlib.redirect_stdout(_output), contextlib.redirect_stderr(_output):
    for name in MODULES + (() if torch.backends.cuda.is_built() else CPU_BUILD_ONLY):
        importlib.import_module(name)
# What the imports printed (warnings of the libraries): each forked worker writes it at the top of its log,
# where a fresh interpreter's imports would have printed it, rather than once on the sweep's console.
IMPORT_OUTPUT = _output.getvalue()

# Read the code version now: the rows of the sweep name the code these workers were forked with.
importlib.import_module("benchmarks.provenance").code_version()
