"""Shared test fixtures. GPU-only tests carry @pytest.mark.gpu and are skipped where CUDA is absent."""

from __future__ import annotations

import importlib.util

import pytest


def _cuda_available() -> bool:
    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return torch.cuda.is_available()


def pytest_collection_modifyitems(config, items):
    if any(item.get_closest_marker("gpu") for item in items) and not _cuda_available():
        skip = pytest.mark.skip(reason="needs a CUDA device")
        for item in items:
            if item.get_closest_marker("gpu"):
                item.add_marker(skip)


@pytest.fixture(autouse=True)
def _own_sweep_locks(tmp_path_factory, monkeypatch):
    """Each test's sweeps lock devices in a folder of their own: tests run beside each other (and beside
    real sweeps on the same host) without waiting for one another's device locks."""
    monkeypatch.setenv("PEFTPLAN_LOCK_DIR", str(tmp_path_factory.mktemp("locks")))
