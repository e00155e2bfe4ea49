"""Linears that read the same input, computed together: q, k, v read the attention's input; gate and up read
the MLP's input. Each is otherwise its own small matmul (at batch-1 decode, a cuBLAS launch or two each).

The parent module (the attention, the MLP) is given a forward that, before running its own, computes the
group's outputs from its input in as few matmuls as the mode allows, and hands each member its slice: the
member's forward returns the slice when it is called with that very input tensor (an identity check), and
otherwise runs as before. The parent clears what was not taken before it returns, so no tensor outlives the
forward (a compiled step with CUDA graphs leaks nothing) and nothing stale is ever used. Everything is
plain torch: it traces into one graph under torch.compile (tests/test_lora_fused.py compiles it with
fullgraph), whether the whole model is compiled (static-cache decode) or each decoder layer (training).

Modes (`fuse_shared_inputs(model, mode, ...)`):
- `base`: the members' base weights are one matmul. The concatenated weight is made once and each member's
  weight becomes a view of it (no second copy; peft's merge, which writes into the weight, writes into it).
  Only for plain bf16/fp32 `nn.Linear` bases with the same input size (not 4-bit ones).
- `lean` (one adapter, serving): one matmul x · cat(A_q, A_k, A_v)ᵀ (rank 3r), then one matmul by the
  block-diagonal of the Bs, the scaling folded in, giving the concatenated update. Where the base is fused
  too, A's rows go under the base weights (their serving copy is the fused weight's last rows): one matmul
  gives the base outputs and x · Aᵀ together, and the adapter costs one small matmul by B. The other LoRA
  linears (o_proj, down_proj) get the same: their A under their base weight, then B.
- `batched` (each row its own adapter, serving): the same per adapter, stacked and gathered by row as in
  benchmarks/lora_serve.py (one bmm for every row's A, one for every row's B).
- `train`: gradients flow to peft's own A and B (concatenated in the graph, no copy kept); each member's B
  applies to its slice. `compute_dtype` bf16 computes the adapters in bf16 while peft keeps its fp32 weights
  (as autocast does); None computes in the adapters' dtype as peft does.
The serving modes keep a serving copy of the adapters (made at install); `refresh(model)` rebuilds it from
peft's weights after they change (checked by their version counters). Fusion needs one active adapter and no
dropout (peft draws one dropout mask per target: a shared input would change that).
"""

from __future__ import annotations

import types

import torch
import torch.nn.functional as F

from benchmarks.lora_serve import lora_linears
from core.vocab import TUNED_FUSED_BASE
from core.vocab import TUNED_FUSED_LORA as FUSED_LORA

SHARED_INPUT_GROUPS = (("q_proj", "k_proj", "v_proj"), ("gate_proj", "up_proj"))
FUSED_BASE = TUNED_FUSED_BASE  # names recorded in a row's tuned_applied
BF16_COMPUTE = "lora_bf16_compute"
FOLDED_A = "lora_a_folded_into_base_matmul"
MODES = ("base", "lean", "batched", "train")


def _is_lora(module) -> bool:
    return hasattr(module, "lora_A") and hasattr(module, "base_layer")


def base_linear(module) -> torch.nn.Module:
    return module.base_layer if _is_lora(module) else module


def _fusable_base(linears: list[torch.nn.Module]) -> bool:
    """Plain dense linears (not 4-bit) with one input size, dtype and device, and all or none with a bias."""
    w0 = linears[0].weight
    return all(
        type(m) is torch.nn.Linear
        and m.weight.shape[1] == w0.shape[1]
        and m.weight.dtype == w0.dtype
        and m.weight.device == w0.device
        and (m.bias is None) == (linears[0].bias is None)
        for m in linears
    )


def find_groups(model, lora: bool) -> list[tuple[torch.nn.Module, tuple[str, ...]]]:
    """(parent, member names) for each group of two or more siblings of SHARED_INPUT_GROUPS present under a
    parent, all LoRA layers (lora=True) or all plain linears."""
    found = []
    for parent in model.modules():
        for names in SHARED_INPUT_GROUPS:
            members = [n for n in names if isinstance(getattr(parent, n, None), torch.nn.Module)]
            kinds = {_is_lora(getattr(parent, n)) for n in members}
            if len(members) >= 2 and kinds == {lora}:
                found.append((parent, tuple(members)))
    return found


@torch.no_grad()
def _fuse_base(owner, linears: list[torch.nn.Module], extra_rows: int = 0) -> bool:
    """Make the linears' weights (and biases) views of one concatenated weight, a buffer of `owner`, with
    `extra_rows` more rows after theirs (zero here; the adapters' A where it is folded in)."""
    if not _fusable_base(linears):
        return False
    w0, b0 = linears[0].weight, linears[0].bias
    weight = torch.cat([m.weight for m in linears] + [w0.new_zeros(extra_rows, w0.shape[1])])
    bias = None if b0 is None else torch.cat([m.bias for m in linears] + [b0.new_zeros(extra_rows)])
    start = 0
    for m in linears:
        rows = m.weight.shape[0]
        m.weight = torch.nn.Parameter(weight[start : start + rows], requires_grad=False)
        if bias is not None:
            m.bias = torch.nn.Parameter(bias[start : start + rows], requires_grad=False)
        start += rows
    owner.register_buffer("fused_weight", weight, persistent=False)
    owner.register_buffer("fused_bias", bias, persistent=False)
    owner.fuse_folded = extra_rows
    return True


def _adapter_checks(members: list[torch.nn.Module], names: list[str]) -> None:
    for m in members:
        missing = [n for n in names if n not in m.lora_A]
        if missing:
            raise ValueError(f"adapters {missing} are not on layer {type(m).__name__}")
        live = [n for n in names if not isinstance(m.lora_dropout[n], torch.nn.Identity)]
        if live:
            raise ValueError(f"adapters {live} have dropout: a shared input would share its mask")


@torch.no_grad()
def _group_stacks(members, names: list[str], dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """Per adapter: the members' A stacked along the rank (adapters × Σr × in) and the block-diagonal of
    their B·scaling (adapters × Σout × Σr); each member's rank padded to its largest over the adapters."""
    ranks = [max(m.lora_A[n].weight.shape[0] for n in names) for m in members]
    outs = [m.lora_B[names[0]].weight.shape[0] for m in members]
    w0 = members[0].lora_A[names[0]].weight
    a = torch.zeros(len(names), sum(ranks), w0.shape[1], dtype=dtype, device=w0.device)
    b = torch.zeros(len(names), sum(outs), sum(ranks), dtype=dtype, device=w0.device)
    r0 = o0 = 0
    for m, rank, out in zip(members, ranks, outs, strict=True):
        for i, n in enumerate(names):
            r = m.lora_A[n].weight.shape[0]
            a[i, r0 : r0 + r] = m.lora_A[n].weight.to(dtype)
            b[i, o0 : o0 + out, r0 : r0 + r] = (m.lora_B[n].weight.float() * m.scaling[n]).to(dtype)
        r0, o0 = r0 + rank, o0 + out
    return a, b


def _versions(members, names: list[str]) -> tuple[int, ...]:
    return tuple(w._version for m in members for n in names for w in (m.lora_A[n].weight, m.lora_B[n].weight))


# --- the parent's group computations: each returns the members' outputs, in order ---------------------------
def _base_outputs(parent, x: torch.Tensor, update: torch.Tensor | None) -> list[torch.Tensor]:
    members = [getattr(parent, n) for n in parent.fuse_names]
    if parent.fused_weight is not None:
        out = F.linear(x, parent.fused_weight, parent.fused_bias)
        out = out if update is None else out + update.to(out.dtype)
        return list(out.split(parent.fuse_splits, dim=-1))
    parts = update.split(parent.fuse_splits, dim=-1)
    outs = [base_linear(m)(x) for m in members]
    return [o + p.to(o.dtype) for o, p in zip(outs, parts, strict=True)]


def _lean(parent, x: torch.Tensor) -> list[torch.Tensor]:
    b = parent.fused_lora_b[0]
    if parent.fuse_folded:  # A's rows under the base weights: one matmul gives the outputs and x·Aᵀ
        y = F.linear(x, parent.fused_weight, parent.fused_bias)
        base, hidden = y.split((y.shape[-1] - parent.fuse_folded, parent.fuse_folded), dim=-1)
        return list((base + F.linear(hidden, b)).split(parent.fuse_splits, dim=-1))
    a = parent.fused_lora_a[0]
    return _base_outputs(parent, x, F.linear(F.linear(x.to(a.dtype), a), b))


def _single_forward(self, x: torch.Tensor, *args, **kwargs) -> torch.Tensor:
    """A LoRA linear alone (o_proj, down_proj) with its A folded under its base weight."""
    return _lean(self, x)[0]


def _batched(parent, x: torch.Tensor) -> list[torch.Tensor]:
    rows = getattr(parent, parent.fuse_names[0]).serve_rows
    xb = x.reshape(rows.shape[0], -1, x.shape[-1]).to(parent.fused_lora_a.dtype)
    hidden = torch.bmm(xb, parent.fused_lora_a[rows].transpose(1, 2))  # rows × tokens × Σr
    update = torch.bmm(hidden, parent.fused_lora_b[rows].transpose(1, 2))  # rows × tokens × Σout
    return _base_outputs(parent, x, update.reshape(*x.shape[:-1], -1))


def _train(parent, x: torch.Tensor) -> list[torch.Tensor]:
    members = [getattr(parent, n) for n in parent.fuse_names]
    name = parent.fuse_adapter
    dtype = parent.fuse_dtype or members[0].lora_A[name].weight.dtype
    a = torch.cat([m.lora_A[name].weight for m in members]).to(dtype)
    hidden = F.linear(x.to(dtype), a).split(parent.fuse_ranks, dim=-1)
    if parent.fused_weight is not None:
        base = F.linear(x, parent.fused_weight, parent.fused_bias).split(parent.fuse_splits, dim=-1)
    else:
        base = [base_linear(m)(x) for m in members]
    return [
        (o + F.linear(h, m.lora_B[name].weight.to(dtype)) * m.scaling[name]).to(o.dtype)
        for o, h, m in zip(base, hidden, members, strict=True)
    ]


def _plain(parent, x: torch.Tensor) -> list[torch.Tensor]:
    return _base_outputs(parent, x, None)


COMPUTE = {"base": _plain, "lean": _lean, "batched": _batched, "train": _train}


def _parent_forward(self, *args, **kwargs):
    x = kwargs["hidden_states"] if "hidden_states" in kwargs else args[0]
    members = [getattr(self, n) for n in self.fuse_names]
    for m, out in zip(members, COMPUTE[self.fuse_mode](self, x), strict=True):
        m.fused_in, m.fused_out = x, out
    result = self.fuse_inner_forward(*args, **kwargs)
    for m in members:  # whatever was not taken: nothing outlives the forward
        m.fused_in = m.fused_out = None
    return result


def _member_forward(self, x: torch.Tensor, *args, **kwargs) -> torch.Tensor:
    if self.fused_in is x and not args and not kwargs:
        out = self.fused_out
        self.fused_in = self.fused_out = None
        return out
    return self.unfused_forward(x, *args, **kwargs)


def _install(parent, names: tuple[str, ...], mode: str) -> None:
    members = [getattr(parent, n) for n in names]
    parent.fuse_names, parent.fuse_mode = names, mode
    parent.fuse_splits = tuple(base_linear(m).weight.shape[0] for m in members)
    if "fuse_inner_forward" not in parent.__dict__:
        parent.fuse_inner_forward = parent.forward  # the class's, or a patched one (Liger's SwiGLU MLP)
        parent.forward = types.MethodType(_parent_forward, parent)
    for m in members:
        if "unfused_forward" not in m.__dict__:
            m.unfused_forward = m.forward
            m.forward = types.MethodType(_member_forward, m)
        m.fused_in = m.fused_out = None


def fuse_shared_inputs(
    model,
    mode: str,
    names: list[str] | None = None,
    dtype: torch.dtype = torch.bfloat16,
    fuse_base: bool = True,
) -> dict[str, int]:
    """Fuse every group of siblings that share an input (module docstring). `names`: the adapters served
    (lean: one; batched: all, in the order of lora_serve's stacks); unused for `base`. `dtype`: the serving
    copy's dtype, or for `train` the compute dtype (None: the adapters' own). Returns the number of groups
    whose adapters were fused (`lora_fused`) and whose base weights became one matmul (`base_fused`)."""
    if mode not in MODES:
        raise ValueError(f"mode {mode!r}: one of {MODES}")
    groups = find_groups(model, lora=mode != "base")
    if mode != "base":  # every group checked before any is changed
        _adapter_checks([getattr(parent, n) for parent, members in groups for n in members], names)
    fused = fused_base = 0
    for parent, members in groups:
        layers = [getattr(parent, n) for n in members]
        if not hasattr(parent, "fused_weight"):
            extra = _fold_rows(layers, names, dtype) if mode == "lean" else 0
            done = fuse_base and _fuse_base(parent, [base_linear(m) for m in layers], extra)
            if not done:
                parent.fused_weight = parent.fused_bias = None
                parent.fuse_folded = 0
        if mode == "base" and parent.fused_weight is None:
            continue  # nothing to fuse: 4-bit or mismatched bases
        fused, fused_base = fused + 1, fused_base + (parent.fused_weight is not None)
        if mode == "train":
            parent.fuse_adapter, parent.fuse_dtype = names[0], dtype
            parent.fuse_ranks = tuple(m.lora_A[names[0]].weight.shape[0] for m in layers)
        elif mode in ("lean", "batched"):
            _build_stacks(parent, layers, names, dtype)
        _install(parent, members, mode)
    counts = {"lora_fused": fused if mode != "base" else 0, "base_fused": fused_base, "folded": 0}
    if mode == "lean" and fuse_base:
        counts["folded"] = sum(p.fuse_folded > 0 for p, _ in groups) + _fold_singles(model, names, dtype)
    return counts


def _fold_rows(layers, names: list[str], dtype: torch.dtype) -> int:
    """Rows of A to fold under the base weights (one adapter served in the base's own dtype), else 0."""
    same = all(base_linear(m).weight.dtype == dtype for m in layers)
    return sum(m.lora_A[names[0]].weight.shape[0] for m in layers) if len(names) == 1 and same else 0


def _fold_singles(model, names: list[str], dtype: torch.dtype) -> int:
    """Every other LoRA linear of the lean path: its A folded under its base weight (one matmul for the base
    output and x·Aᵀ, then one by B). Returns how many."""
    folded = 0
    for layer in lora_linears(model):
        if "unfused_forward" in layer.__dict__ or hasattr(layer, "fused_weight"):
            continue
        extra = _fold_rows([layer], names, dtype)
        if not extra or not _fuse_base(layer, [layer.base_layer], extra):
            continue
        layer.fuse_names, layer.fuse_mode = None, "lean"
        layer.fuse_splits = (layer.base_layer.weight.shape[0],)
        _build_stacks(layer, [layer], names, dtype)
        layer.forward = types.MethodType(_single_forward, layer)
        folded += 1
    return folded


def _owned(owner) -> list[torch.nn.Module]:
    """The LoRA layers whose serving copy `owner` holds: its group's members, or itself."""
    return [owner] if owner.fuse_names is None else [getattr(owner, n) for n in owner.fuse_names]


def fused_names(counts: dict[str, int]) -> list[str]:
    """What fuse_shared_inputs applied, as recorded in a row's tuned_applied."""
    flags = ((FUSED_LORA, "lora_fused"), (FUSED_BASE, "base_fused"), (FOLDED_A, "folded"))
    return [name for name, key in flags if counts.get(key)]


def _build_stacks(parent, layers, names: list[str], dtype: torch.dtype) -> None:
    a, b = _group_stacks(layers, names, dtype)
    if getattr(parent, "fused_lora_a", None) is not None and parent.fused_lora_a.shape == a.shape:
        parent.fused_lora_a.copy_(a)  # in place: a captured CUDA graph reads the new values
        parent.fused_lora_b.copy_(b)
    else:
        parent.register_buffer("fused_lora_a", a, persistent=False)
        parent.register_buffer("fused_lora_b", b, persistent=False)
    if getattr(parent, "fuse_folded", 0):
        parent.fused_weight[-parent.fuse_folded :].copy_(a[0])  # A's rows under the base weights
    parent.fuse_adapters, parent.fuse_versions = list(names), _versions(layers, names)


def refresh(model) -> int:
    """Rebuild the serving copy of every group whose adapters' weights changed since it was made (peft's
    version counters). Returns the number of groups rebuilt."""
    rebuilt = 0
    for parent in model.modules():
        if getattr(parent, "fuse_mode", None) not in ("lean", "batched"):
            continue
        layers = _owned(parent)
        if _versions(layers, parent.fuse_adapters) != parent.fuse_versions:
            _build_stacks(parent, layers, parent.fuse_adapters, parent.fused_lora_a.dtype)
            rebuilt += 1
    return rebuilt


def _train_forward(self, x: torch.Tensor, *args, **kwargs) -> torch.Tensor:
    """One adapter, no dropout, computed in `train_dtype` (peft's weights keep theirs; gradients reach them)."""
    result = self.base_layer(x, *args, **kwargs)
    name, dtype = self.train_adapter, self.train_dtype
    update = F.linear(
        F.linear(x.to(dtype), self.lora_A[name].weight.to(dtype)), self.lora_B[name].weight.to(dtype)
    )
    return (result + update * self.scaling[name]).to(result.dtype)


def install_training(model, dtype: torch.dtype | None = torch.bfloat16) -> list[str]:
    """The tuned training profile's LoRA path: shared-input groups fused (their bases too where dense), every
    other LoRA linear computed in `dtype` like them. Returns what was applied (for tuned_applied)."""
    layers = lora_linears(model)
    if not layers:
        return []
    names = list(layers[0].active_adapters)
    if len(names) != 1:
        raise ValueError(f"one active adapter is needed, not {names}")
    _adapter_checks(layers, names)
    counts = fuse_shared_inputs(model, "train", names, dtype)
    for layer in layers:
        if "unfused_forward" in layer.__dict__ or dtype is None:
            continue
        layer.train_adapter, layer.train_dtype = names[0], dtype
        layer.forward = types.MethodType(_train_forward, layer)
    return fused_names(counts) + ([BF16_COMPUTE] if dtype == torch.bfloat16 else [])
