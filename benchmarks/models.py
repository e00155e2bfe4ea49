"""Models without downloads: real architecture shapes with random weights, or a local checkpoint folder.

Throughput and memory do not depend on weight values, so a random-init model of a real shape measures what
the released model would. Weights are created directly on the target device in bf16. For NF4 (QLoRA), the
decoder is built one layer at a time: the layer is materialised in bf16, its linears are quantised to
bitsandbytes NF4 (double quantisation, bf16 compute) and the bf16 copy is freed before the next layer, so no
full bf16 copy of the model ever exists (a 70B shape builds in seconds in under 40 GiB).
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager

import torch
from transformers import AutoConfig, AutoModelForCausalLM, LlamaConfig, MistralConfig, Qwen2Config

from core.shapes import ModelShape, get_shape
from core.vocab import BASES
from registry.fingerprint import checkpoint_fingerprint, config_fingerprint

QUANTS = BASES  # how the base weights are stored
CONFIGS = {"llama": LlamaConfig, "mistral": MistralConfig, "qwen2": Qwen2Config}


# Attention over a sliding window, per family, as the released configs have it. Mistral-7B-v0.3's config.json
# says "sliding_window": null, but transformers' MistralConfig defaults to 4096: built from that default, a
# 4,096-token sequence takes an explicit mask and a slower SDPA kernel than the released model runs.
SLIDING_WINDOW = {"mistral": {"sliding_window": None}}


def hf_config(shape: ModelShape):
    return CONFIGS[shape.family](
        **SLIDING_WINDOW.get(shape.family, {}),
        hidden_size=shape.hidden_size,
        num_hidden_layers=shape.num_layers,
        num_attention_heads=shape.num_heads,
        num_key_value_heads=shape.num_kv_heads,
        intermediate_size=shape.intermediate_size,
        vocab_size=shape.vocab_size,
        tie_word_embeddings=shape.tie_embeddings,
        max_position_embeddings=shape.max_positions,
        rope_theta=shape.rope_theta,
        use_cache=False,
    )


def fingerprint(model: str, checkpoint: str | None = None) -> dict:
    """Identity of a base model: a hash of the config its catalog shape builds, or for a checkpoint folder a
    hash of its config and weights files (registry/fingerprint.py). Adapters record it; loading into a base
    with another fingerprint is refused."""
    if checkpoint is not None:
        return checkpoint_fingerprint(model, checkpoint)
    return config_fingerprint(model, hf_config(get_shape(model)).to_dict())


@contextmanager
def _default_dtype(dtype: torch.dtype):
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def quantize_linears_nf4(
    module: torch.nn.Module, device: str, quant_storage: torch.dtype = torch.uint8
) -> None:
    """Swap every nn.Linear inside `module` for a bitsandbytes NF4 Linear4bit built from its weights.
    The bf16 weight is dropped as soon as its 4-bit copy exists. `quant_storage` is the dtype the packed 4-bit
    data is stored as: bf16 lets FSDP shard it like the model's other tensors (benchmarks/train_fsdp.py)."""
    import bitsandbytes as bnb

    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is not torch.nn.Linear:
                continue
            with torch.device("meta"):  # no bf16-sized placeholder allocation
                q = bnb.nn.Linear4bit(
                    child.in_features,
                    child.out_features,
                    bias=child.bias is not None,
                    compute_dtype=torch.bfloat16,
                    compress_statistics=True,
                    quant_type="nf4",
                    quant_storage=quant_storage,
                )
            weight = bnb.nn.Params4bit(
                child.weight.data,
                requires_grad=False,
                compress_statistics=True,
                quant_type="nf4",
                module=q,
                quant_storage=quant_storage,
            )
            q.weight = weight.to(device)  # quantises (bnb quantises on the first move to a real device)
            if child.bias is not None:
                q.bias = torch.nn.Parameter(child.bias.data, requires_grad=False)
            setattr(parent, name, q)
            del child, weight


def _decoder_layer_class(model):
    module = sys.modules[type(model).__module__]
    (name,) = [n for n in model._no_split_modules if n.endswith("DecoderLayer")]
    return getattr(module, name)


def build_random(
    model: str,
    quant: str,
    device: str,
    attn_impl: str = "sdpa",
    seed: int = 0,
    quant_storage: torch.dtype = torch.uint8,
):
    """A random-init model of a catalog shape on `device`, bf16 or NF4 (see the module docstring)."""
    shape = get_shape(model)
    config = hf_config(shape)
    torch.manual_seed(seed)
    if quant == "bf16":
        with torch.device(device):
            return AutoModelForCausalLM.from_config(
                config, dtype=torch.bfloat16, attn_implementation=attn_impl
            )
    # NF4: a skeleton with no decoder layers (embeddings, final norm, head, rotary tables), then layer by layer.
    config.num_hidden_layers = 0
    with torch.device(device):
        skeleton = AutoModelForCausalLM.from_config(
            config, dtype=torch.bfloat16, attn_implementation=attn_impl
        )
    config.num_hidden_layers = shape.num_layers
    layer_cls = _decoder_layer_class(skeleton)
    for idx in range(shape.num_layers):
        with torch.device(device), _default_dtype(torch.bfloat16):
            layer = layer_cls(skeleton.config, idx)  # nn.Linear's own init: random weights
        quantize_linears_nf4(layer, device, quant_storage)
        skeleton.model.layers.append(layer)
    skeleton.is_loaded_in_4bit = True  # peft's k-bit code paths look for this flag
    skeleton.is_quantized = True
    return skeleton


def load_checkpoint(path: str, quant: str, device: str, attn_impl: str = "sdpa"):
    """A local folder with real weights (safetensors), through from_pretrained; NF4 via BitsAndBytesConfig."""
    from transformers import BitsAndBytesConfig

    kwargs = {
        "dtype": torch.bfloat16,
        "attn_implementation": attn_impl,
        "device_map": {"": device},
        "use_safetensors": True,
    }
    if quant == "nf4":
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16,
        )
    AutoConfig.from_pretrained(path)  # fails clearly on a folder that is not a model
    return AutoModelForCausalLM.from_pretrained(path, **kwargs)


def build_model(
    model: str,
    quant: str,
    device: str,
    *,
    attn_impl: str = "sdpa",
    seed: int = 0,
    checkpoint: str | None = None,
):
    """Build (or load) the base model; returns (model, build_s)."""
    if quant not in QUANTS:
        raise ValueError(f"quant must be one of {QUANTS}, got {quant!r}")
    start = time.perf_counter()
    if checkpoint is not None:
        built = load_checkpoint(checkpoint, quant, device, attn_impl)
    else:
        built = build_random(model, quant, device, attn_impl, seed)
    if device == "cuda":
        torch.cuda.synchronize()
    built.config.use_cache = False
    return built, time.perf_counter() - start


def shape_of(model: str, checkpoint: str | None = None) -> ModelShape:
    """The catalog shape, or for a checkpoint folder the shape its config.json describes."""
    if checkpoint is None:
        return get_shape(model)
    cfg = AutoConfig.from_pretrained(checkpoint)
    family = cfg.model_type if cfg.model_type in CONFIGS else "llama"
    return ModelShape(
        name=model,
        family=family,
        hidden_size=cfg.hidden_size,
        num_layers=cfg.num_hidden_layers,
        num_heads=cfg.num_attention_heads,
        num_kv_heads=getattr(cfg, "num_key_value_heads", cfg.num_attention_heads),
        intermediate_size=cfg.intermediate_size,
        vocab_size=cfg.vocab_size,
        tie_embeddings=bool(cfg.tie_word_embeddings),
        max_positions=cfg.max_position_embeddings,
        rope_theta=float(getattr(cfg, "rope_theta", 10000.0) or 10000.0),
    )
