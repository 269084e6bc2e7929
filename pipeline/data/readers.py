"""What the data stage reads house data through, and the checks every reader shares.

A source of house data (`HouseSource`: the REFIT layout in pipeline/data/reader_refit.py, wide
CSV/Parquet files in pipeline/data/reader_wide.py) names its input files and, per appliance, the houses
of each split; it then hands the data stage each appliance's train/val/test series (`Splits`).

A reader returns a `HouseData`: Unix seconds, aggregate watts and one column per requested
appliance, with every cleaning step it applied counted in `cleaning`. Anything it cannot clean
with confidence raises `DataError` naming the file, the row or column, and what was expected.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

from pipeline.data.windows import SplitData
from pipeline.errors import DataError
from store.vocab import Appliance, Split

# what a damaged file raises while pandas reads it: a truncated gzip (EOFError), a corrupt one
# (zlib.error, gzip.BadGzipFile is an OSError), a corrupt Parquet (pyarrow's ArrowInvalid is a
# ValueError)
UNREADABLE = (
    pd.errors.EmptyDataError,
    pd.errors.ParserError,
    UnicodeDecodeError,
    EOFError,
    zlib.error,
    OSError,
)
TZ_SUFFIX = r"(?:Z|[+-]\d\d:?\d\d)$"
MAX_PLAUSIBLE_W = 60_000.0  # no household feeder draws 60 kW: such a value is a unit or parse error


@dataclass
class HouseData:
    house: str
    files: list[Path]
    unix: np.ndarray  # int64 seconds
    aggregate: np.ndarray  # float32 W
    appliances: dict[Appliance, np.ndarray]  # float32 W
    cleaning: dict[str, int] = field(default_factory=dict)
    # (file, column) -> [negative samples set to 0, lowest reading]: warned about by the source
    negatives: dict[tuple[str, str], list[float]] = field(default_factory=dict)

    def note(self, step: str, rows: int) -> None:
        if rows:
            self.cleaning[step] = self.cleaning.get(step, 0) + int(rows)

    def note_negative(self, path: Path, col: str, count: int, lowest: float) -> None:
        seen = self.negatives.setdefault((str(path), col), [0, 0.0])
        seen[0] += int(count)
        seen[1] = min(seen[1], float(lowest))

    def forget_cleaning(self) -> None:
        """Start the counts again (a file read a second time)."""
        self.cleaning.clear()
        self.negatives.clear()


def negative_step(col: str) -> str:
    """The datasets.cleaning step that counts a column's negative readings set to 0."""
    return f"negative_{col}_set_to_0"


def warn_negatives(house: HouseData, console) -> None:
    """One warning line per file and column that had negative powers (set to 0, counted)."""
    from rich.markup import escape

    for (path, col), (count, lowest) in house.negatives.items():
        console.print(
            f"[yellow]data: warning: {escape(path)}: column '{escape(col)}': {count:,} "
            f"negative sample(s) (lowest {lowest:g} W) set to 0 W; counted in "
            f"datasets.cleaning as {escape(negative_step(col))}[/yellow]",
            soft_wrap=True,
        )


def numeric(chunk: pd.DataFrame, cols: list[str], path: Path, first_line: int) -> pd.DataFrame:
    """Convert columns to numbers; a non-empty cell that is not a number is an error."""
    out = {}
    for col in cols:
        raw = chunk[col]
        if pd.api.types.is_numeric_dtype(raw):  # parsed as numbers already (the fast path)
            out[col] = raw.to_numpy(dtype=np.float64)
            continue
        num = pd.to_numeric(raw, errors="coerce")
        bad = num.isna() & raw.notna() & (raw.astype(str).str.strip() != "")
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(
                f"{path}: line {first_line + i}, column '{col}': expected a number, "
                f"got {str(raw.iloc[i])!r}"
            )
        out[col] = num.to_numpy(dtype=np.float64)
    return pd.DataFrame(out)


def _seconds(parsed: pd.Series) -> np.ndarray:
    t = parsed.to_numpy().astype("datetime64[s]").astype(np.int64).astype(np.float64)
    t[parsed.isna().to_numpy()] = np.nan
    return t


def parse_times(raw: pd.Series, path: Path, col: str, first_line: int) -> np.ndarray:
    """Timestamps as Unix seconds (NaN where a cell is not a timestamp).

    Times with a UTC offset are converted to UTC (a file may cross a daylight-saving change);
    a column that mixes times with and without an offset is ambiguous and refused.
    """
    try:
        parsed = pd.to_datetime(raw, errors="coerce")
        if not isinstance(parsed.dtype, pd.DatetimeTZDtype) and not parsed.isna().any():
            return _seconds(parsed)
    except (ValueError, TypeError, OverflowError):
        parsed = None
    present = raw.notna().to_numpy() & (raw.astype(str).str.strip() != "").to_numpy()
    zoned = raw.astype(str).str.strip().str.contains(TZ_SUFFIX, regex=True).to_numpy() & present
    if zoned.any() and not zoned[present].all():
        rows = np.flatnonzero(present)
        first = rows[0]
        i = rows[np.flatnonzero(zoned[rows] != zoned[first])[0]]
        has = "has a time zone" if zoned[i] else "has no time zone"
        raise DataError(
            f"{path}: line {first_line + i}, column '{col}': {str(raw.iloc[i])!r} {has}, unlike "
            f"line {first_line + first}; expected every timestamp with a UTC offset or none"
        )
    if zoned.any() or parsed is None:
        try:
            parsed = pd.to_datetime(raw, errors="coerce", utc=True).dt.tz_localize(None)
        except (ValueError, TypeError, OverflowError) as exc:
            raise DataError(
                f"{path}: column '{col}': cannot read the timestamps ({exc}); expected dates "
                "like 2014-01-01 00:00:00 (optionally with one UTC offset) or Unix seconds"
            ) from None
    return _seconds(parsed)


def check_powers(
    df: pd.DataFrame, cols: list[str], path: Path, first_line: int, house: HouseData
) -> None:
    """Refuse powers no household draws; negative readings become 0 (counted in the house's
    cleaning and kept per file and column for a warning)."""
    for col in cols:
        v = df[col].to_numpy()
        absurd = v > MAX_PLAUSIBLE_W
        if absurd.any():
            i = int(np.flatnonzero(absurd)[0])
            raise DataError(
                f"{path}: line {first_line + i}, column '{col}': {v[i]:.0f} W is not a plausible "
                f"household power (expected 0..{MAX_PLAUSIBLE_W:.0f} W; wrong unit?)"
            )
        neg = v < 0
        if neg.any():
            worst = int(np.flatnonzero(v == v[neg].min())[0])
            if v[worst] < -MAX_PLAUSIBLE_W:
                raise DataError(
                    f"{path}: line {first_line + worst}, column '{col}': {v[worst]:.0f} W "
                    "is not a plausible power"
                )
            house.note(negative_step(col), int(neg.sum()))
            house.note_negative(path, col, int(neg.sum()), float(v[worst]))
            df[col] = np.where(neg, 0.0, v)


def finish(house: HouseData, path_for_errors: Path, line_of) -> HouseData:
    """Sort checks, duplicates and empty-data checks shared by all readers."""
    if len(house.unix) == 0:
        raise DataError(f"{path_for_errors}: no data rows (expected at least one reading)")
    d = np.diff(house.unix)
    if (d < 0).any():
        i = int(np.flatnonzero(d < 0)[0]) + 1
        raise DataError(
            f"{path_for_errors}: {line_of(i)}: timestamp goes backwards "
            f"({pd.to_datetime(house.unix[i - 1], unit='s')} then "
            f"{pd.to_datetime(house.unix[i], unit='s')}); expected increasing time"
        )
    dup = np.r_[False, d == 0]
    if dup.any():
        house.note("duplicate_timestamps_dropped", int(dup.sum()))
        keep = ~dup
        house.unix = house.unix[keep]
        house.aggregate = house.aggregate[keep]
        house.appliances = {a: v[keep] for a, v in house.appliances.items()}
    return house


def reason(exc: BaseException) -> str:
    """Why pandas could not read a file, in one line."""
    if isinstance(exc, EOFError | zlib.error):
        return f"damaged or truncated compressed file: {exc}"
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


@dataclass
class Splits:
    """One appliance's train/val/test series from a source, and what they were made of."""

    data: dict[Split, SplitData]
    houses: dict[Split, list[str]]  # the houses of each split
    period_s: float  # sampling period
    cleaning: dict[str, dict[str, int]]  # house -> cleaning steps applied (rows)


class HouseSource(Protocol):
    """A source of house data, as the data stage uses it."""

    label: str  # recorded as datasets.source, e.g. "refit:/data/refit"
    files: dict[str, list[Path]]  # house -> its input files (their checksum is in the cache key)

    def appliances(self, requested: list[Appliance], explicit: bool) -> list[Appliance]:
        """The requested appliances this source can provide; DataError when it can provide none,
        or (``explicit``: the user named them) not every one."""
        ...

    def split_houses(self, appliance: Appliance) -> object:
        """Which houses make each split of the appliance (JSON-able: part of its cache key)."""
        ...

    def load(self, appliances: list[Appliance], console) -> None:
        """Read what the splits of these appliances need (called once, before splits())."""
        ...

    def splits(self, appliance: Appliance) -> Splits:
        """The appliance's train/val/test series."""
        ...
