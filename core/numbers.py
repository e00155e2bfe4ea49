"""Numbers where they enter: every figure from a flag, a suite, a result row or a catalog is finite and
within a stated range, or one InputError says which field, which value and what is accepted.

NaN slips through checks written as `x <= 0` (every comparison with NaN is false) and infinity through
`x > 0`; a figure like 1e300 is finite but turns into infinity two multiplications later. So each entry point
states its range and checks it here.

Public:
    check_number(value, field, lo=, hi=, integer=False, lo_open=False, file=None, row=None) -> int | float
    parse_number(text, field, lo=, hi=, integer=False, lo_open=False) -> int | float   (text from a flag)
    number_arg(lo, hi, integer=False)       an argparse `type=` that refuses what parse_number refuses
    accepted_range(lo, hi, integer=False, lo_open=False) -> str       what such a number may be, in words
    has_control_chars(text) -> bool         NUL and other control characters (tab excepted)
"""

from __future__ import annotations

import argparse
import math
import re

from core.errors import InputError

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def accepted_range(lo: float, hi: float, integer: bool = False, lo_open: bool = False) -> str:
    """'a finite number from 0 to 1' ([lo, hi]), or 'a finite number above 0, up to 1' ((lo, hi])."""
    kind = "an integer" if integer else "a finite number"
    return f"{kind} above {lo:g}, up to {hi:g}" if lo_open else f"{kind} from {lo:g} to {hi:g}"


def _why(value: object, lo: float, hi: float, integer: bool, lo_open: bool = False) -> str | None:
    """Why `value` is not accepted, or None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "not a number"
    if isinstance(value, float) and not math.isfinite(value):
        return "not a finite number"
    if integer and value != int(value):
        return "not an integer"
    if not lo <= value <= hi or (lo_open and value == lo):
        return "out of range"
    return None


def check_number(
    value: object,
    field: str,
    *,
    lo: float,
    hi: float,
    integer: bool = False,
    lo_open: bool = False,
    file: str | None = None,
    row: int | None = None,
) -> int | float:
    """`value` if it is a finite number (an integer when `integer`) in [lo, hi] ((lo, hi] when `lo_open`);
    else InputError."""
    why = _why(value, lo, hi, integer, lo_open)
    if why:
        accepted = accepted_range(lo, hi, integer, lo_open)
        raise InputError(why, file=file, row=row, field=field, value=value, accepted=accepted)
    return int(value) if integer else value


def parse_number(
    text: str, field: str, *, lo: float, hi: float, integer: bool = False, lo_open: bool = False
) -> int | float:
    """A number from command-line text (ints as ints, so that 10**20 is not rounded), checked as above; an
    error quotes the text as it was typed."""
    value: int | float | None
    try:
        value = int(text) if integer and re.fullmatch(r"\s*[+-]?\d+\s*", str(text)) else float(text)
    except (TypeError, ValueError, OverflowError):
        value = None  # not a number at all
    why = "not a number" if value is None else _why(value, lo, hi, integer, lo_open)
    if why:
        raise InputError(why, field=field, value=text, accepted=accepted_range(lo, hi, integer, lo_open))
    return int(value) if integer else value


def number_arg(lo: float, hi: float, integer: bool = False):
    """An argparse `type=` for a bounded number: argparse prints the message and exits 2."""

    def parse(text: str) -> int | float:
        try:
            return parse_number(text, "value", lo=lo, hi=hi, integer=integer)
        except InputError as exc:
            raise argparse.ArgumentTypeError(f"{exc.what} (got {text!r}); accepted: {exc.accepted}") from None

    parse.__name__ = "integer" if integer else "number"  # what argparse names in "invalid integer value"
    return parse


def has_control_chars(text: str) -> bool:
    return bool(_CONTROL.search(text))
