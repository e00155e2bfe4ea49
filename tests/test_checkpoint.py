"""A local checkpoint folder (real weights, safetensors) loads through from_pretrained and benchmarks,
bf16 for LoRA and through BitsAndBytesConfig (NF4) for QLoRA."""

from __future__ import annotations

import pytest

from benchmarks.runner import run_isolated
from core.rows import validate_row
from tests.helpers import tiny_entry


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    from benchmarks.models import build_model

    folder = tmp_path_factory.mktemp("ckpt")
    model, _ = build_model("tiny-llama", "bf16", "cpu", seed=1)
    model.save_pretrained(folder, safe_serialization=True)
    assert list(folder.glob("*.safetensors"))
    return folder


@pytest.mark.parametrize("method", ["lora", "qlora"])
def test_checkpoint_benchmarks(checkpoint, method):
    row = run_isolated(
        tiny_entry(f"ckpt-{method}", method=method, model="my-local-model", checkpoint=str(checkpoint))
    )
    validate_row(row)
    assert row["status"] == "ok", row["error"]
    assert row["spec"]["checkpoint"] == str(checkpoint)
    assert row["metrics"]["trainable_params"] > 0


def test_a_folder_without_config_is_refused(tmp_path):
    from core.errors import InputError

    with pytest.raises(InputError, match="config.json"):
        tiny_entry("x", model="m", checkpoint=str(tmp_path))
