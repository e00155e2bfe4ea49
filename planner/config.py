"""Small input parsers of the planner's CLI and dashboard, and the training configuration it predicts
(defined in core/config.py).

Public:
    TrainConfig, config_from_spec            re-exported from core.config
    parse_tokens(text) -> int                "100M", "1.5B", "250k", "1e9"
"""

from __future__ import annotations

import re

from core.config import TrainConfig, config_from_spec
from core.errors import InputError

__all__ = ["MAX_TOKENS", "TrainConfig", "config_from_spec", "parse_tokens"]

_SUFFIX = {"": 1, "k": 10**3, "m": 10**6, "b": 10**9, "g": 10**9, "t": 10**12}


MAX_TOKENS = 1e15  # a thousand trillion tokens per job: more than any training run
TOKENS_ACCEPTED = f"a count from 1 to {MAX_TOKENS:.0e}, optionally with a suffix k, M, B or T (100M, 1.5B)"


def parse_tokens(text: str | int | float, field: str = "tokens") -> int:
    """A token count with an optional suffix: 100M, 1.5B, 250k, 2e9 (k=1e3, M=1e6, B/G=1e9, T=1e12)."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        value = float(text)
    else:
        match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:e[0-9]+)?)\s*([kmbgt]?)\s*", str(text), re.IGNORECASE)
        if not match:
            raise InputError("not a token count", field=field, value=text, accepted=TOKENS_ACCEPTED)
        value = float(match.group(1)) * _SUFFIX[match.group(2).lower()]
    if not 1 <= value <= MAX_TOKENS:  # NaN fails this too
        raise InputError("out of range", field=field, value=text, accepted=TOKENS_ACCEPTED)
    return int(round(value))
