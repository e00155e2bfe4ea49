"""AppTest of the Adapters page over a registry written through the registry's own store (and over none)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from registry import store
from registry.db import open_registry
from registry.folder import AdapterFolder

APP = Path(__file__).resolve().parent.parent / "dashboards" / "app.py"
LLAMA = {"model": "tiny-llama", "config_sha256": "1" * 64}
LLAMA_REQUANTISED = {"model": "tiny-llama", "checkpoint_sha256": "2" * 64}
QWEN = {"model": "tiny-qwen2", "config_sha256": "3" * 64}


def _adapter(n: int, base: dict) -> AdapterFolder:
    return AdapterFolder(
        path=f"/adapters/{n}",
        weights_sha256=f"{n:x}" * 64,
        peft_type="LORA",
        rank=8,
        alpha=16.0,
        targets=["q_proj"],
        size_bytes=n * 1024**2,
        base_model=base["model"],
        base_fingerprint=base,
    )


@pytest.fixture
def registry(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "registry.sqlite"
    engine = open_registry(str(path))
    data = {"label": "org/chat@v1", "sha256": "d" * 64, "record": {"kind": "dataset"}}
    for n, base in ((1, LLAMA), (2, LLAMA), (3, QWEN), (4, LLAMA)):
        store.register(engine, _adapter(n, base), data, base_fingerprint=base)
    store.deploy(engine, "1", "chat", LLAMA, "merged")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        store.deploy(engine, "2", "batch", LLAMA_REQUANTISED, "dynamic", allow_mismatch=True)
    store.retire(engine, "4")
    monkeypatch.setenv("PEFTPLAN_REGISTRY", str(path))
    return path


def open_adapters_page() -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=30).run()
    at.switch_page("views/adapters.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


TABLES = ("registry", "base check", "upgrade")  # the page's tables, in order


def frame(at: AppTest, table: str):
    assert len(at.dataframe) == len(TABLES), [e.value for e in at.error]
    return at.dataframe[TABLES.index(table)].value


def test_the_page_shows_the_registry_the_base_check_and_the_upgrade_impact(registry):
    at = open_adapters_page()
    table = frame(at, "registry")
    assert table["id"].tolist() == [1, 2, 3, 4]
    assert table["status"].tolist() == ["active", "active", "active", "retired"]
    assert table["deployments"].tolist() == ["chat (merged)", "batch (dynamic)", "-", "-"]
    assert table["size_mib"].tolist() == [1.0, 2.0, 3.0, 4.0]

    checks = frame(at, "base check")
    assert dict(zip(checks["deployment"], checks["check"], strict=True)) == {
        "chat": "same base",
        "batch": "MISMATCH",
    }
    assert [e.value for e in at.error] == [
        "1 of 2 deployments run on another base than their adapter was saved for."
    ]

    assert at.selectbox(key="upgrade-base").options == ["tiny-llama", "tiny-qwen2"]
    assert frame(at, "upgrade")["id"].tolist() == [1, 2]  # the retired adapter 4 breaks nothing
    at.selectbox(key="upgrade-base").select("tiny-qwen2").run()
    assert frame(at, "upgrade")["id"].tolist() == [3]


def test_the_page_says_how_to_fill_an_empty_registry(tmp_path, monkeypatch):
    monkeypatch.setenv("PEFTPLAN_REGISTRY", str(tmp_path / "none.sqlite"))
    at = open_adapters_page()
    assert "No adapters registered" in at.info[0].value and not at.error
    assert not (tmp_path / "none.sqlite").exists()
