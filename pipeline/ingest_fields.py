"""Checks of the fields of measurement files made elsewhere: each returns the value or raises
DataError naming the field and what was expected."""

from __future__ import annotations

import math

from pipeline.errors import DataError

MAX_LATENCY_MS = 3_600_000.0  # one hour per inference: anything above is a unit or parse error
MAX_COUNT = 1_000_000_000
MAX_THREADS = 1024


def as_number(value, where: str, lo: float = 0.0, hi: float = MAX_LATENCY_MS) -> float:
    """A finite number in [lo, hi], or DataError naming the field."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise DataError(f"{where}: expected a number in {lo:g}..{hi:g}, got {show(value)}")
    try:
        x = float(value)
    except (ValueError, OverflowError):
        raise DataError(
            f"{where}: expected a number in {lo:g}..{hi:g}, got {show(value)}"
        ) from None
    if not math.isfinite(x) or not lo <= x <= hi:
        raise DataError(f"{where}: expected a number in {lo:g}..{hi:g}, got {show(value)}")
    return x


def as_count(value, where: str, lo: int = 0, hi: int = MAX_COUNT) -> int:
    """A whole number in [lo, hi] (JSON 3.0 is accepted as 3), or DataError naming the field."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise DataError(f"{where}: expected a whole number in {lo}..{hi}, got {show(value)}")
    return value


def as_text(value, where: str, optional: bool = False, limit: int = 500) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise DataError(
            f"{where}: expected a non-empty string of at most {limit} characters, got {show(value)}"
        )
    return value


def show(value) -> str:
    text = repr(value) if not isinstance(value, int) or abs(value) < 10**30 else "a huge integer"
    return text if len(text) <= 60 else text[:57] + "..."
