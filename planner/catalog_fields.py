"""Reading catalog CSV files: cell parsers and a strict table reader that names file, line and field.

Each parser takes the cell text and returns the value, or raises Bad(what is accepted).

Public: read_table(path, fields) -> list[(line, dict)], check_unique(...), Bad, and the parsers text,
opt_text, number, positive, nonneg, opt_nonneg, zero_if_blank, positive_int, fraction, pue, boolean, date,
enum(*choices), aliases.
"""

from __future__ import annotations

import csv
import datetime
import re
from collections.abc import Callable
from pathlib import Path

from core.errors import InputError
from core.numbers import has_control_chars

_DATE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?$")
# Every catalog figure (prices, TFLOPS, GiB, watts, hours, years) lies between these, or is 0 where 0 is
# allowed: 1e-300 $/h or 1e300 TFLOPS is a typo that would turn a cost into 0 or a division into infinity.
SMALLEST, LARGEST = 1e-6, 1e9


# ---- cell parsers: each returns the value or raises Bad(accepted) -------------------------------------


class Bad(Exception):
    pass


def text(v: str) -> str:
    if not v.strip() or has_control_chars(v):
        raise Bad("a non-empty text of printable characters")
    return v.strip()


def opt_text(v: str) -> str:
    if has_control_chars(v):
        raise Bad("printable characters (no NUL or other control character)")
    return v.strip()


def number(v: str) -> float:
    try:
        x = float(v)
    except ValueError:
        raise Bad("a number") from None
    if x != x or x in (float("inf"), float("-inf")):
        raise Bad("a finite number")
    if x != 0 and not SMALLEST <= abs(x) <= LARGEST:
        raise Bad(f"a number from {SMALLEST:g} to {LARGEST:g} (or 0 where 0 is allowed)")
    return x


def positive(v: str) -> float:
    x = number(v) if v.strip() else None
    if x is None or x <= 0:
        raise Bad("a positive number")
    return x


def nonneg(v: str) -> float:
    x = number(v) if v.strip() else None
    if x is None or x < 0:
        raise Bad("a number >= 0")
    return x


def opt_nonneg(v: str) -> float | None:
    return nonneg(v) if v.strip() else None


def zero_if_blank(v: str) -> float:
    return nonneg(v) if v.strip() else 0.0


def positive_int(v: str) -> int:
    try:
        x = int(v)
    except ValueError:
        raise Bad("a positive integer") from None
    if not 0 < x <= LARGEST:
        raise Bad(f"a positive integer up to {LARGEST:g}")
    return x


def fraction(v: str) -> float:
    x = number(v) if v.strip() else None
    if x is None or not 0 < x <= 1:
        raise Bad("a fraction in (0, 1]")
    return x


def pue(v: str) -> float:
    x = number(v) if v.strip() else None
    if x is None or x < 1:
        raise Bad("a power usage effectiveness >= 1")
    return x


def boolean(v: str) -> bool:
    if v.strip().lower() not in ("true", "false"):
        raise Bad("true or false")
    return v.strip().lower() == "true"


def date(v: str) -> str:
    if not _DATE.match(v.strip()):
        raise Bad("a date YYYY-MM-DD or YYYY-MM")
    try:
        datetime.date.fromisoformat(v.strip() if len(v.strip()) == 10 else v.strip() + "-01")
    except ValueError:
        raise Bad("a real date YYYY-MM-DD or YYYY-MM") from None
    return v.strip()


def enum(*choices: str) -> Callable[[str], str]:
    def parse(v: str) -> str:
        if v.strip() not in choices:
            raise Bad(", ".join(choices))
        return v.strip()

    return parse


def aliases(v: str) -> tuple[str, ...]:
    return tuple(a.strip() for a in opt_text(v).split(";") if a.strip())


def read_table(path: Path, fields: dict[str, Callable[[str], object]]) -> list[tuple[int, dict]]:
    """Rows of a catalog CSV as (line, parsed dict); InputError on a missing file, bad header or bad cell,
    text that is not UTF-8, or a file with no rows. A UTF-8 byte-order mark is allowed."""
    path = Path(path)
    if not path.is_file():
        raise InputError("catalog file not found", file=str(path))
    try:
        rows = _read_rows(path, fields)
    except UnicodeDecodeError as exc:
        raise InputError(
            f"not UTF-8 text (byte {exc.start + 1})", file=str(path), accepted="a UTF-8 CSV file"
        ) from None
    except csv.Error as exc:
        raise InputError(f"not a readable CSV ({exc})", file=str(path)) from None
    if not rows:
        raise InputError("no rows under the header", file=str(path), accepted="at least one row")
    return rows


def _read_rows(path: Path, fields: dict[str, Callable[[str], object]]) -> list[tuple[int, dict]]:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        missing = [f for f in fields if f not in header]
        extra = [f for f in header if f not in fields]
        if missing or extra:
            raise InputError(
                "missing column" if missing else "unknown column",
                file=str(path),
                row=1,
                field=(missing or extra)[0],
                accepted="columns " + ", ".join(fields),
            )
        rows = []
        for line, raw in enumerate(reader, start=2):
            if raw.get(None):  # DictReader puts cells beyond the header under the key None
                raise InputError(
                    "more cells than columns",
                    file=str(path),
                    row=line,
                    value=",".join(raw[None]),
                    accepted=f"{len(fields)} cells (quote a cell that holds a comma)",
                )
            parsed = {}
            for field, parse in fields.items():
                cell = raw.get(field)
                try:
                    parsed[field] = parse(cell if cell is not None else "")
                except Bad as bad:
                    raise InputError(
                        "bad value", file=str(path), row=line, field=field, value=cell, accepted=str(bad)
                    ) from None
            rows.append((line, parsed))
    return rows


def check_unique(path: Path, line: int, field: str, key: object, seen: set) -> None:
    if key in seen:
        raise InputError("duplicate entry", file=str(path), row=line, field=field, value=key)
    seen.add(key)
