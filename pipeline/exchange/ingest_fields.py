"""Checks of the fields of measurement files made elsewhere: each returns the value or raises
DataError naming the field and what was expected."""

from __future__ import annotations

import math
import unicodedata

from pipeline.errors import DataError

MAX_LATENCY_MS = 3_600_000.0  # one hour per inference: anything above is a unit or parse error
MAX_COUNT = 1_000_000_000
MAX_THREADS = 1024
MAX_HOST_CHARS = 100
# control, format (bidi overrides such as U+202E, zero-width), line/paragraph separators,
# surrogates, private-use and unassigned characters: none belongs in a machine's name
HIDDEN_CATEGORIES = {"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"}


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


def as_host(value, where: str) -> str:
    """A machine's name as the store keeps it (it names the host in every page and file name
    made from it), or DataError naming the field and what is wrong with it."""
    if not isinstance(value, str) or not value.strip():
        raise DataError(f"{where}: expected a host name such as rpi4, got {show(value)}")
    problem = _host_problem(value)
    if problem:
        raise DataError(f"{where}: {problem} in host name {show(value)}; expected e.g. rpi4")
    return value


def _host_problem(name: str) -> str | None:
    if len(name) > MAX_HOST_CHARS:
        return f"more than {MAX_HOST_CHARS} characters"
    if name != name.strip():
        return "leading or trailing space"
    for ch in name:
        if unicodedata.category(ch) in HIDDEN_CATEGORIES:
            return f"hidden or control character U+{ord(ch):04X}"
    if "/" in name or "\\" in name:
        return "a path separator"
    if ".." in name or name.startswith("."):
        return "'..' or a leading '.'"
    return None


def show(value) -> str:
    text = repr(value) if not isinstance(value, int) or abs(value) < 10**30 else "a huge integer"
    return text if len(text) <= 60 else text[:57] + "..."
