"""The inference benchmark records the adapters it saves or loads in the registry (opt-in), and its rows and
the registry entries point at each other (tiny-llama on the CPU)."""

from __future__ import annotations

import pytest
from registry_fixtures import adapters_fixture  # noqa: F401 — a fixture

from benchmarks.infer import run_infer
from benchmarks.infer_spec import InferSpec
from core.errors import InputError
from registry.db import open_registry
from registry.store import entries

TINY = {
    "model": "tiny-llama",
    "device": "cpu",
    "dtype": "fp32",
    "prompt_len": 8,
    "new_tokens": 4,
    "rank": 4,
    "alpha": 8,
    "warmup": 0,
    "repeats": 1,
}


def test_an_adapters_run_registers_the_adapters_it_saves(tmp_path):
    registry = str(tmp_path / "registry.sqlite")
    spec = InferSpec(mode="dynamic", task="adapters", n_adapters=2, register=registry, **TINY)
    assert (
        spec.hash == InferSpec(mode="dynamic", task="adapters", n_adapters=2, **TINY).hash
    )  # not in the hash
    records = run_infer(spec)["registry_adapters"]
    found = entries(open_registry(registry))
    assert [r["registry_id"] for r in records] == [e["id"] for e in found] and len(found) == 2
    assert [r["weights_sha256"] for r in records] == [e["weights_sha256"] for e in found]
    assert {e["origin"]["spec_hash"] for e in found} == {spec.hash}  # the entry points back at the row
    assert [e["data"]["seed"] for e in found] == [0, 1] and found[0]["base_model"] == "tiny-llama"


def test_a_loaded_adapter_is_looked_up_not_registered(adapters, tmp_path, capsys):
    from registry_fixtures import run_cli

    registry = str(tmp_path / "registry.sqlite")
    spec = InferSpec(mode="dynamic", task="prefill", adapter=str(adapters["a"]), register=registry, **TINY)
    (record,) = run_infer(spec)["registry_adapters"]
    assert record["registry_id"] is None and entries(open_registry(registry)) == []
    run_cli(capsys, "adapters", "register", adapters["a"], "--data", "org/ds@v1", "--registry", registry)
    (record,) = run_infer(spec)["registry_adapters"]
    assert (
        record["registry_id"] == 1
        and record["weights_sha256"] == entries(open_registry(registry))[0]["weights_sha256"]
    )


def test_a_registry_url_with_a_password_never_reaches_a_row():
    with pytest.raises(InputError, match="password"):
        InferSpec(
            mode="dynamic", task="adapters", n_adapters=2, register="postgresql://me:secret@db/reg", **TINY
        )
