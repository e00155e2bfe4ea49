"""The measured memory cap (spec field memory_cap_gib, benchmarks/memory_cap.py): validated in the spec, applied
in the worker before anything is allocated; on CUDA a cap below what a run needs gives an `oom` row."""

from __future__ import annotations

import pytest

from benchmarks.memory_cap import apply_memory_cap
from benchmarks.runner import run_isolated
from core.errors import InputError
from core.rows import validate_row
from tests.helpers import tiny_entry


def test_an_uncapped_spec_changes_nothing_and_keeps_its_hash():
    entry = tiny_entry("uncapped")
    assert apply_memory_cap(entry.spec) == {}
    assert "memory_cap_gib" not in entry.spec.to_dict()


@pytest.mark.parametrize(
    ("values", "why"),
    [
        ({"memory_cap_gib": 8.0}, "cuda"),
        ({"memory_cap_gib": 0, "device": "cuda"}, "> 0"),
        ({"memory_cap_gib": "48GB", "device": "cuda"}, "> 0"),
    ],
)
def test_a_bad_cap_is_refused_naming_the_field(values, why):
    with pytest.raises(InputError, match="memory_cap_gib") as info:
        tiny_entry("bad", **values)
    assert why in str(info.value)


@pytest.mark.gpu
def test_under_a_tiny_cap_a_run_is_an_oom_row_and_under_a_large_one_it_is_ok():
    small = validate_row(run_isolated(tiny_entry("capped", device="cuda", memory_cap_gib=0.001)))
    assert small["status"] == "oom", small["error"]
    large = validate_row(run_isolated(tiny_entry("roomy", device="cuda", memory_cap_gib=8.0)))
    assert large["status"] == "ok", large["error"]
    assert 0 < large["metrics"]["memory_cap_fraction"] < 1
    assert large["metrics"]["peak_reserved_gib"] <= 8.0


def test_the_allocator_mode_is_cuda_only_and_left_out_of_the_hash_at_its_default():
    assert "allocator" not in tiny_entry("default").spec.to_dict()
    expandable = tiny_entry("expandable", device="cuda", allocator="expandable").spec
    assert expandable.to_dict()["allocator"] == "expandable"
    assert expandable.hash != tiny_entry("default", device="cuda").spec.hash
    with pytest.raises(InputError, match="allocator") as info:
        tiny_entry("bad", allocator="expandable")
    assert "caching with device cpu" in str(info.value)
    with pytest.raises(InputError, match="allocator"):
        tiny_entry("bad", device="cuda", allocator="cudaMallocAsync")


@pytest.mark.gpu
def test_expandable_segments_run_as_asked_and_say_so():
    for allocator, expandable in (("caching", False), ("expandable", True)):
        row = validate_row(run_isolated(tiny_entry(allocator, device="cuda", allocator=allocator)))
        assert row["status"] == "ok", row["error"]
        assert row["metrics"]["expandable_segments"] is expandable
        assert row["metrics"]["kernel_launch_us"] > 0
