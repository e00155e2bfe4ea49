"""One configuration contract: the training configuration is defined once (core/config.py), the benchmark's
spec validates through it with the same defaults, its key covers every field that moves a figure, and the
planner's and the CLI's choices are the one vocabulary."""

from __future__ import annotations

import dataclasses

import pytest
from test_planner_fixtures import measurements, train_row

from benchmarks.spec import TrainSpec
from core import vocab
from core.config import CONFIG_FIELDS, TrainConfig, config_from_spec
from core.errors import InputError
from peftplan.cli import build_parser
from planner.memory import predict_memory
from planner.throughput import predict_tokens_per_s

BASE = TrainConfig("llama-3.1-8b", num_gpus=2)
# A value other than the default for every field that moves speed or memory.
CHANGED = {
    "model": "qwen2.5-7b",
    "method": "qlora",
    "rank": 64,
    "targets": ("q_proj", "v_proj"),
    "micro_batch": 1,
    "seq_len": 4096,
    "grad_checkpointing": True,
    "optimizer": "paged_adamw_8bit",
    "attn_impl": "eager",
    "profile": "tuned",
    "num_gpus": 4,
    "sharding": "shard_grad_op",
    "dropout": 0.1,
    "grad_accum": 8,
    "cpu_offload": True,
    "allocator": "expandable",
}


@pytest.mark.parametrize("field", sorted(CHANGED))
def test_key_covers_every_field_that_moves_a_figure(field):
    assert BASE.with_(**{field: CHANGED[field]}).key != BASE.key


def test_key_ignores_what_moves_nothing():
    assert BASE.with_(alpha=64).key == BASE.key
    assert BASE.with_(targets=("v_proj", "q_proj")).key == BASE.with_(targets=("q_proj", "v_proj")).key
    full = TrainConfig("llama-3.2-3b", "full")
    assert full.with_(rank=64).key == full.key


def test_every_config_field_is_covered_by_this_test():
    assert set(CONFIG_FIELDS) == set(CHANGED) | {"alpha", "checkpoint"}


def test_benchmark_spec_and_config_share_defaults_and_validation():
    spec, config = TrainSpec(model="llama-3.1-8b", method="lora"), TrainConfig("llama-3.1-8b", "lora")
    assert spec.config == config
    assert all(getattr(spec, f) == getattr(config, f) for f in CONFIG_FIELDS)
    # a row written by the benchmark with its defaults left out reads back as the same configuration
    assert config_from_spec({"model": "llama-3.1-8b", "method": "lora"}) == config
    assert config.micro_batch == 4 and config.seq_len == 2048
    for bad in ({"optimizer": "sgd"}, {"micro_batch": 0}, {"sharding": "ddp", "num_gpus": 2}):
        with pytest.raises(InputError) as from_config:
            TrainConfig("llama-3.1-8b", **bad)
        with pytest.raises(InputError) as from_spec:
            TrainSpec(model="llama-3.1-8b", method="lora", **bad)
        assert str(from_spec.value) == str(from_config.value)


def test_run_fields_are_not_part_of_the_configuration():
    spec = TrainSpec(model="llama-3.1-8b", method="lora", warmup_steps=5, measure_steps=3, seed=7, lr=1e-3)
    assert spec.config == TrainConfig("llama-3.1-8b")
    assert not {"warmup_steps", "measure_steps", "seed", "lr", "device", "memory_cap_gib"} & set(
        CONFIG_FIELDS
    )


def test_an_offload_row_does_not_stand_for_the_run_without_offload(tmp_path):
    offload = train_row(num_gpus=2, sharding="full_shard", tokens_per_s=3000.0, peak_allocated_gib=20.0)
    offload["spec"]["cpu_offload"] = True
    accum = train_row(tokens_per_s=5000.0, peak_allocated_gib=30.0)
    accum["spec"]["grad_accum"] = 8
    meas = measurements(tmp_path, [offload, accum])
    plain = TrainConfig("llama-3.1-8b", num_gpus=2)
    assert predict_tokens_per_s(plain, "h200", meas).basis == "projected"
    assert predict_tokens_per_s(plain.with_(cpu_offload=True), "h200", meas).basis == "measured"
    assert predict_memory(TrainConfig("llama-3.1-8b"), "h200", meas).basis == "projected"
    assert predict_memory(TrainConfig("llama-3.1-8b", grad_accum=8), "h200", meas).basis == "measured"


def _choices(argv: list[str], dest: str):
    parser = build_parser(argv)
    plan = next(
        a
        for a in parser._subparsers._group_actions[0].choices[argv[0]]._actions
        if a.dest.endswith("command")
    )
    sub = plan.choices[argv[1]]
    return next(a.choices for a in sub._actions if a.dest == dest)


def test_cli_choices_are_the_vocabulary():
    assert tuple(_choices(["plan", "memory"], "method")) == vocab.METHODS
    assert tuple(_choices(["plan", "memory"], "profile")) == vocab.PROFILES
    assert tuple(_choices(["plan", "memory"], "optimizer")) == vocab.OPTIMIZERS
    assert tuple(_choices(["plan", "memory"], "attn_impl")) == vocab.ATTN_IMPLS
    assert tuple(_choices(["plan", "memory"], "allocator")) == vocab.ALLOCATORS
    assert tuple(_choices(["bench", "train"], "device")) == vocab.DEVICES


def test_spec_fields_are_config_fields_plus_run_fields():
    # composition: the spec holds a TrainConfig and adds only how it is measured
    assert [f.name for f in dataclasses.fields(TrainSpec)] == [
        "config",
        "warmup_steps",
        "measure_steps",
        "lr",
        "seed",
        "device",
        "memory_cap_gib",
    ]
    spec = TrainSpec(model="llama-3.1-8b", method="qlora", micro_batch=2, seed=3)
    assert isinstance(spec.config, TrainConfig) and spec.micro_batch == spec.config.micro_batch == 2
    assert TrainSpec(**spec.to_dict()) == spec and spec.with_(seed=4).config == spec.config


def test_inference_configuration_is_defined_once():
    from benchmarks.infer_spec import InferSpec
    from core.infer_config import INFER_CONFIG_FIELDS, InferConfig, infer_config_from_spec

    spec = InferSpec(model="llama-3.1-8b", mode="merged", task="decode", repeats=5)
    assert spec.config == InferConfig("llama-3.1-8b", "merged", "decode")
    # a row whose spec leaves the prompt length out reads as the benchmark's 512, not 0
    row_config = infer_config_from_spec({"model": "llama-3.1-8b", "mode": "merged", "task": "decode"})
    assert row_config.prompt_len == spec.prompt_len == 512
    assert not {"warmup", "repeats", "seed", "device", "adapter", "allow_mismatch"} & set(INFER_CONFIG_FIELDS)
    with pytest.raises(InputError, match="does not run in mode"):
        InferSpec(model="llama-3.1-8b", mode="base", task="merge")
    base = InferConfig("llama-3.1-8b", "merged", "decode")
    for change in (
        {"batch": 8},
        {"prompt_len": 1024},
        {"profile": "tuned"},
        {"base": "nf4"},
        {"new_tokens": 64},
    ):
        assert dataclasses.replace(base, **change).key != base.key
