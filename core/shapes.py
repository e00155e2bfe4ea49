"""Model architecture shapes (data/catalog/models.csv) and the parameter arithmetic that follows from them.

One home for parameter counts and LoRA sizes: the benchmarks use it for MFU and to check trainable-parameter
counts, the planner for memory and throughput predictions.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from core.errors import InputError
from core.numbers import has_control_chars
from core.paths import CATALOG_DIR

MODELS_CSV = CATALOG_DIR / "models.csv"
# The models file get_shape and load_shapes read when given none: the shipped one, or a catalog folder's
# within `models_from` (the planner's --catalog DIR).
_MODELS_FILE: ContextVar[Path] = ContextVar("models_file", default=MODELS_CSV)
FAMILIES = ("llama", "mistral", "qwen2")
# Linear sub-modules of one decoder layer in the llama / mistral / qwen2 families.
ATTN_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj")
MLP_MODULES = ("gate_proj", "up_proj", "down_proj")
LINEAR_MODULES = ATTN_MODULES + MLP_MODULES
ALL_LINEAR = "all-linear"  # peft's shorthand: every linear layer but the output head


@dataclass(frozen=True)
class ModelShape:
    name: str
    family: str
    hidden_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    intermediate_size: int
    vocab_size: int
    tie_embeddings: bool
    max_positions: int
    rope_theta: float
    source: str = ""
    as_of: str = ""

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    def linear_shapes(self) -> dict[str, tuple[int, int]]:
        """(in_features, out_features) of each linear module in one decoder layer."""
        h, hd, i = self.hidden_size, self.head_dim, self.intermediate_size
        return {
            "q_proj": (h, self.num_heads * hd),
            "k_proj": (h, self.num_kv_heads * hd),
            "v_proj": (h, self.num_kv_heads * hd),
            "o_proj": (self.num_heads * hd, h),
            "gate_proj": (h, i),
            "up_proj": (h, i),
            "down_proj": (i, h),
        }

    def layer_linear_params(self) -> int:
        """Weights (and qwen2's q/k/v biases) of the linear modules of one decoder layer."""
        n = sum(a * b for a, b in self.linear_shapes().values())
        if self.family == "qwen2":
            n += (self.num_heads + 2 * self.num_kv_heads) * self.head_dim
        return n

    def embedding_params(self) -> int:
        return self.vocab_size * self.hidden_size

    def lm_head_params(self) -> int:
        """Parameters stored for the output head (zero when tied to the embeddings)."""
        return 0 if self.tie_embeddings else self.vocab_size * self.hidden_size

    def norm_params(self) -> int:
        return (2 * self.num_layers + 1) * self.hidden_size

    def total_params(self) -> int:
        return (
            self.num_layers * self.layer_linear_params()
            + self.embedding_params()
            + self.lm_head_params()
            + self.norm_params()
        )

    def matmul_params(self) -> int:
        """N of the FLOP formulas: parameters used in a matmul per token (decoder linears and the output
        head, tied or not); the embedding lookup and the norms do no matmul."""
        return self.num_layers * self.layer_linear_params() + self.vocab_size * self.hidden_size

    def quantizable_params(self) -> int:
        """Parameters that bitsandbytes NF4 quantises: the decoder's linear weights (not biases, norms,
        embeddings or the output head)."""
        return self.num_layers * sum(a * b for a, b in self.linear_shapes().values())


def resolve_targets(targets: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Normalise LoRA target modules; 'all-linear' means every decoder linear module."""
    if isinstance(targets, str):
        targets = LINEAR_MODULES if targets == ALL_LINEAR else tuple(t.strip() for t in targets.split(","))
    bad = [t for t in targets if t not in LINEAR_MODULES]
    if bad or not targets:
        raise InputError(
            "unknown LoRA target module",
            field="targets",
            value=",".join(bad) if bad else "",
            accepted=f"'{ALL_LINEAR}' or a comma-separated subset of {', '.join(LINEAR_MODULES)}",
        )
    return tuple(targets)


def lora_params(shape: ModelShape, rank: int, targets) -> int:
    """Trainable LoRA parameters: rank × (in + out) for each targeted linear of each layer (A is r×in, B out×r)."""
    shapes = shape.linear_shapes()
    return shape.num_layers * sum(rank * (shapes[t][0] + shapes[t][1]) for t in resolve_targets(targets))


_INT_FIELDS = (
    "hidden_size",
    "num_layers",
    "num_heads",
    "num_kv_heads",
    "intermediate_size",
    "vocab_size",
    "max_positions",
)


def _parse_row(path: Path, lineno: int, row: dict[str, str]) -> ModelShape:
    def fail(field: str, accepted: str) -> InputError:
        return InputError(
            "bad value", file=str(path), row=lineno, field=field, value=row.get(field), accepted=accepted
        )

    name = (row.get("name") or "").strip()
    if not name or has_control_chars(name):
        raise fail("name", "a non-empty model name of printable characters")
    if row.get("family") not in FAMILIES:
        raise fail("family", ", ".join(FAMILIES))
    ints = {}
    for f in _INT_FIELDS:
        try:
            ints[f] = int(row.get(f) or "")
        except ValueError:
            raise fail(f, "a positive integer") from None
        if not 0 < ints[f] <= 10**9:
            raise fail(f, "a positive integer up to 10^9")
    if ints["hidden_size"] % ints["num_heads"] or ints["num_heads"] % ints["num_kv_heads"]:
        raise fail("num_heads", "hidden_size divisible by num_heads, num_heads divisible by num_kv_heads")
    tie = (row.get("tie_embeddings") or "").strip().lower()
    if tie not in ("true", "false"):
        raise fail("tie_embeddings", "true or false")
    try:
        rope = float(row.get("rope_theta") or "")
    except ValueError:
        rope = float("nan")
    if not 0 < rope < 1e12:  # NaN fails this too
        raise fail("rope_theta", "a positive finite number")
    return ModelShape(
        name=name,
        family=row["family"],
        tie_embeddings=tie == "true",
        rope_theta=rope,
        source=row.get("source", ""),
        as_of=row.get("as_of", ""),
        **ints,
    )


@contextmanager
def models_from(path: str | Path) -> Iterator[Path]:
    """Within the block, get_shape and load_shapes read the shapes of `path` (another models.csv)."""
    token = _MODELS_FILE.set(Path(path))
    try:
        yield Path(path)
    finally:
        _MODELS_FILE.reset(token)


def load_shapes(path: str | Path | None = None) -> dict[str, ModelShape]:
    """All model shapes in the catalog (MODELS_CSV, or the file of `models_from`), by name. Raises
    InputError naming the file, row and field."""
    return _load_shapes(Path(path) if path is not None else _MODELS_FILE.get())


@lru_cache(maxsize=8)
def _load_shapes(path: Path) -> dict[str, ModelShape]:
    if not path.exists():
        raise InputError("model catalog not found", file=str(path))
    shapes: dict[str, ModelShape] = {}
    with path.open(newline="", encoding="utf-8-sig") as fh:  # -sig: a byte-order mark is not a column name
        try:
            for lineno, row in enumerate(csv.DictReader(fh), start=2):
                shape = _parse_row(path, lineno, row)
                if shape.name in shapes:
                    raise InputError(
                        "duplicate model name", file=str(path), row=lineno, field="name", value=shape.name
                    )
                shapes[shape.name] = shape
        except UnicodeDecodeError:
            raise InputError("not a UTF-8 text file", file=str(path)) from None
    return shapes


def get_shape(name: str, path: str | Path | None = None) -> ModelShape:
    shapes = load_shapes(path)
    if name not in shapes:
        raise InputError("unknown model", field="model", value=name, accepted=", ".join(shapes))
    return shapes[name]
