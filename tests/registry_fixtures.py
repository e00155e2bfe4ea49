"""Tiny real peft adapters on the CPU for the registry tests, and running `peftplan adapters ...`.

`adapters` (once per session): two LoRA adapters of tiny-llama saved by the inference benchmark's own code
(with base_fingerprint.json), a copy of the first under another adapter name (same weights), a local base
checkpoint folder and an adapter whose config names that folder as its base (no recorded fingerprint).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from peftplan.cli import main

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session", name="adapters")
def adapters_fixture(tmp_path_factory) -> dict[str, Path]:
    from benchmarks.adapters import FINGERPRINT_FILE, add_random_adapter, save_adapter
    from benchmarks.models import build_model, fingerprint

    root = tmp_path_factory.mktemp("adapters")
    model, _ = build_model("tiny-llama", "bf16", "cpu", seed=0)
    base_dir = root / "base"
    model.save_pretrained(base_dir, safe_serialization=True)
    model = add_random_adapter(model, "a0", rank=4, alpha=8, targets=("q_proj", "v_proj"), seed=1)
    model = add_random_adapter(model, "b0", rank=8, alpha=16, targets="all-linear", seed=2)
    tiny = fingerprint("tiny-llama")
    found = {
        "a": save_adapter(model, "a0", root / "a", tiny),
        "b": save_adapter(model, "b0", root / "b", tiny),
    }
    found["a_copy"] = save_adapter(model, "a0", root / "a_copy", tiny)  # the same weights, saved again
    local = copy_with_weights(found["b"], root / "local", 0.5)  # trained on the local base folder
    (local / FINGERPRINT_FILE).unlink()
    config = json.loads((local / "adapter_config.json").read_text())
    (local / "adapter_config.json").write_text(
        json.dumps({**config, "base_model_name_or_path": str(base_dir)})
    )
    data = root / "data"
    data.mkdir()
    (data / "train.jsonl").write_text('{"text": "hello"}\n')
    return {**found, "local": local, "base": base_dir, "data": data}


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    """`peftplan ARGV` in this process: (exit code, stdout, stderr)."""
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def spawn_register(folders: list[Path], registry: str) -> subprocess.Popen:
    """A new process that runs `peftplan adapters register` on each folder in turn (stops at a failure)."""
    script = (
        "import sys\nfrom peftplan.cli import main\n"
        "for folder in sys.argv[2:]:\n"
        "    if main(['adapters', 'register', folder, '--data', 'org/ds@v1', '--registry', sys.argv[1]]):\n"
        "        sys.exit(1)\n"
    )
    return subprocess.Popen(
        [sys.executable, "-c", script, registry, *map(str, folders)],
        cwd=REPO,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def registered_at_once(adapters: dict, registry: str, tmp_path: Path) -> list[Path]:
    """Two processes register the same seven folders (two with the same weights) in opposite orders into
    `registry` at the same time; returns the folders once both succeeded."""
    folders = [adapters["a"], adapters["b"], adapters["a_copy"]]
    folders += [copy_with_weights(adapters["a"], tmp_path / f"x{i}", 1.0 + i / 8) for i in range(1, 5)]
    procs = [spawn_register(order, registry) for order in (folders, folders[::-1])]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    return folders


def copy_with_weights(source: Path, dest: Path, scale: float) -> Path:
    """An adapter folder like `source` with every tensor scaled: other weights, the same config."""
    from safetensors.numpy import load_file, save_file

    shutil.copytree(source, dest)
    path = dest / "adapter_model.safetensors"
    tensors = load_file(path)
    save_file({k: v * v.dtype.type(scale) for k, v in tensors.items()}, path)
    return dest
