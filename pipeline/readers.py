"""Readers for raw household power data: REFIT CLEAN_House<N>.csv and generic wide CSV/Parquet.

A reader returns a `HouseData`: Unix seconds, aggregate watts and one column per requested
appliance, with every cleaning step it applied counted in `cleaning`. Anything it cannot clean
with confidence raises `DataError` naming the file, the row or column, and what was expected.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.errors import DataError
from store.vocab import Appliance, canonical_appliance

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
CHUNK_ROWS = 250_000


@dataclass
class HouseData:
    house: str
    files: list[Path]
    unix: np.ndarray  # int64 seconds
    aggregate: np.ndarray  # float32 W
    appliances: dict[Appliance, np.ndarray]  # float32 W
    cleaning: dict[str, int] = field(default_factory=dict)

    def note(self, step: str, rows: int) -> None:
        if rows:
            self.cleaning[step] = self.cleaning.get(step, 0) + int(rows)


def _numeric(chunk: pd.DataFrame, cols: list[str], path: Path, first_line: int) -> pd.DataFrame:
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


def _check_powers(df: pd.DataFrame, cols: list[str], path: Path, first_line: int, note) -> None:
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
            note(f"negative_{col}_set_to_0", int(neg.sum()))
            df[col] = np.where(neg, 0.0, v)


def _finish(house: HouseData, path_for_errors: Path, line_of) -> HouseData:
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


class _Column:
    """An append-only array that grows by doubling and hands out a trimmed view at the end."""

    def __init__(self, dtype, capacity: int):
        self.data = np.empty(capacity, dtype)
        self.n = 0

    def append(self, values: np.ndarray) -> None:
        need = self.n + len(values)
        if need > len(self.data):
            grown = np.empty(max(need, 2 * len(self.data)), self.data.dtype)
            grown[: self.n] = self.data[: self.n]
            self.data = grown
        self.data[self.n : need] = values
        self.n = need

    def values(self) -> np.ndarray:
        if self.n < len(self.data) // 2:
            return self.data[: self.n].copy()  # release a much larger buffer
        return self.data[: self.n]


def read_refit_house(
    path: Path, channels: dict[Appliance, int], drop_issues: bool = True
) -> HouseData:
    """Read one REFIT CLEAN_House<N>.csv in chunks, keeping only the needed columns."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: empty file (expected a REFIT CSV with a header row)")
    try:
        header = pd.read_csv(path, nrows=0).columns.tolist()
    except UNREADABLE as exc:
        raise DataError(f"{path}: not a readable CSV ({_reason(exc)})") from exc
    needed = ["Aggregate"] + [f"Appliance{ch}" for ch in sorted(set(channels.values()))]
    time_col = "Unix" if "Unix" in header else ("Time" if "Time" in header else None)
    missing = [c for c in needed if c not in header]
    if time_col is None or missing:
        miss = missing + ([] if time_col else ["Unix (or Time)"])
        raise DataError(
            f"{path}: missing column(s) {', '.join(miss)}; a REFIT CLEAN_House file has "
            "Time, Unix, Aggregate, Appliance1..Appliance9, Issues"
        )
    has_issues = "Issues" in header
    usecols = [time_col] + needed + (["Issues"] if has_issues else [])
    house = HouseData(re.sub(r"\D", "", path.stem) or path.stem, [path], None, None, {})
    numeric = [c for c in usecols if c != "Time"]
    try:
        return _read_refit_chunks(
            path,
            house,
            channels,
            usecols,
            needed,
            time_col,
            has_issues,
            drop_issues,
            {c: "float64" for c in numeric},
        )
    except DataError:
        raise
    except ValueError:
        # a cell that is not a number: read again as text to name the line and column
        house.cleaning.clear()
        return _read_refit_chunks(
            path, house, channels, usecols, needed, time_col, has_issues, drop_issues, str
        )


def _read_refit_chunks(
    path, house, channels, usecols, needed, time_col, has_issues, drop_issues, dtype
):
    # columns grow in place (no list of chunks to concatenate at the end, which would briefly
    # hold every value twice); the first guess of the row count comes from the file size
    guess = max(1024, path.stat().st_size // 40)
    cols = {"t": _Column(np.int64, guess), "agg": _Column(np.float32, guess)}
    cols.update({a: _Column(np.float32, guess) for a in channels})
    lines = _Column(np.int64, guess)  # file line of every kept row, for error messages
    line = 2  # line 1 is the header
    try:
        reader = pd.read_csv(path, usecols=usecols, dtype=dtype, chunksize=CHUNK_ROWS)
        for chunk in reader:
            n = len(chunk)
            if time_col == "Unix":
                t = _numeric(chunk, ["Unix"], path, line)["Unix"].to_numpy()
            else:
                t = parse_times(chunk["Time"], path, "Time", line)
                if np.isnan(t).any():
                    i = int(np.flatnonzero(np.isnan(t))[0])
                    raise DataError(
                        f"{path}: line {line + i}, column 'Time': expected a timestamp, "
                        f"got {str(chunk['Time'].iloc[i])!r}"
                    )
            num = _numeric(chunk, needed + (["Issues"] if has_issues else []), path, line)
            _check_powers(num, needed, path, line, house.note)
            keep = ~np.isnan(t)
            for c in needed:
                keep &= ~np.isnan(num[c].to_numpy())
            house.note("rows_with_empty_cells_dropped", int((~keep).sum()))
            if has_issues and drop_issues:
                flagged = (num["Issues"].to_numpy() == 1) & keep
                house.note("issues_flag_rows_dropped", int(flagged.sum()))
                keep &= ~flagged
            cols["t"].append(t[keep])
            lines.append(np.arange(line, line + n, dtype=np.int64)[keep])
            cols["agg"].append(num["Aggregate"].to_numpy()[keep])
            for a, ch in channels.items():
                cols[a].append(num[f"Appliance{ch}"].to_numpy()[keep])
            line += n
    except UNREADABLE as exc:
        raise DataError(f"{path}: not a readable CSV ({_reason(exc)})") from exc
    except ValueError as exc:
        if isinstance(exc, DataError) or dtype is not str:
            raise
        raise DataError(f"{path}: cannot parse as CSV: {exc}") from exc
    house.unix = cols["t"].values()
    house.aggregate = cols["agg"].values()
    house.appliances = {a: cols[a].values() for a in channels}
    kept_lines = lines.values()
    return _finish(house, path, lambda i: f"line {kept_lines[i]}")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, EOFError | zlib.error):
        return f"damaged or truncated compressed file: {exc}"
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


TIME_NAMES = ("time", "timestamp", "datetime", "date_time", "date", "unix", "localminute")
AGGREGATE_NAMES = ("aggregate", "mains", "main", "total", "aggregate_power", "use", "power")


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")


def match_columns(header: list[str], path: Path) -> tuple[str, str, dict[Appliance, str]]:
    """Find the time column, the aggregate column and the appliance columns of a wide file."""
    normed = {_norm(c): c for c in header}
    time_col = next((normed[n] for n in TIME_NAMES if n in normed), None)
    agg_col = next((normed[n] for n in AGGREGATE_NAMES if n in normed), None)
    if time_col is None or agg_col is None:
        raise DataError(
            f"{path}: expected a time column (one of {', '.join(TIME_NAMES)}) and an aggregate "
            f"column (one of {', '.join(AGGREGATE_NAMES)}); found {', '.join(header)}"
        )
    apps: dict[Appliance, str] = {}
    for c in header:
        if c in (time_col, agg_col):
            continue
        a = canonical_appliance(c)
        if a is not None and a not in apps:
            apps[a] = c
    return time_col, agg_col, apps


def _read_table(path: Path) -> pd.DataFrame:
    if path.stat().st_size == 0:
        raise DataError(f"{path}: empty file (expected a header row and data)")
    import pyarrow as pa

    try:
        if path.suffix == ".parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path, dtype=str)
    except (*UNREADABLE, pa.ArrowException) as exc:
        kind = "Parquet file" if path.suffix == ".parquet" else "CSV table"
        raise DataError(f"{path}: not a readable {kind} ({_reason(exc)})") from exc


def read_wide_files(
    paths: list[Path], house: str, mask_zero_aggregate: bool = True
) -> tuple[HouseData, float]:
    """Read one house from one or more wide files (time, aggregate, appliance columns).

    Returns the house data and the detected sampling period in seconds. Rows whose aggregate is
    exactly 0 are treated as missing (zero-filled gaps) unless ``mask_zero_aggregate`` is off.
    """
    units, aggs, apps_all = [], [], {}
    origins, files = [], []  # file line and file of every kept row, for error messages
    data = HouseData(house, list(paths), None, None, {})
    ordered = sorted(paths)
    for path in ordered:
        df = _read_table(path)
        if df.empty:
            raise DataError(f"{path}: no data rows (expected at least one reading)")
        time_col, agg_col, apps = match_columns(list(df.columns), path)
        if not apps:
            raise DataError(
                f"{path}: no appliance column recognised; expected names such as Kettle, "
                "Microwave, Fridge, Dishwasher, WashingMachine"
            )
        raw_t = df[time_col]
        if _norm(time_col) == "unix":
            t = pd.to_numeric(raw_t, errors="coerce").to_numpy(dtype=np.float64)
        else:
            t = parse_times(raw_t, path, time_col, 2)
        if np.isnan(t).any():
            i = int(np.flatnonzero(np.isnan(t))[0])
            raise DataError(
                f"{path}: line {i + 2}, column '{time_col}': expected a timestamp, "
                f"got {str(raw_t.iloc[i])!r}"
            )
        cols = [agg_col] + list(apps.values())
        num = _numeric(df.astype({c: str for c in cols}), cols, path, 2)
        _check_powers(num, cols, path, 2, data.note)
        keep = ~np.isnan(num[cols].to_numpy()).any(axis=1)
        data.note("rows_with_empty_cells_dropped", int((~keep).sum()))
        if mask_zero_aggregate:
            zero = (num[agg_col].to_numpy() == 0) & keep
            data.note("zero_aggregate_rows_masked_as_gaps", int(zero.sum()))
            keep &= ~zero
        units.append(t[keep].astype(np.int64))
        origins.append(np.flatnonzero(keep) + 2)
        files.append(np.full(int(keep.sum()), len(files), dtype=np.int32))
        aggs.append(num[agg_col].to_numpy()[keep].astype(np.float32))
        for a, c in apps.items():
            apps_all.setdefault(a, []).append(num[c].to_numpy()[keep].astype(np.float32))
        n_parts = len(units)
        for a in list(apps_all):
            if len(apps_all[a]) < n_parts:  # appliance missing from this file
                raise DataError(
                    f"{path}: column for {a.value} missing (present in other files of house {house})"
                )
    data.unix = np.concatenate(units)
    data.aggregate = np.concatenate(aggs)
    data.appliances = {a: np.concatenate(v) for a, v in apps_all.items()}
    line_no, file_no = np.concatenate(origins), np.concatenate(files)
    order = np.argsort(data.unix, kind="stable")
    if len(paths) > 1 and (np.diff(data.unix) < 0).any():
        data.unix, data.aggregate = data.unix[order], data.aggregate[order]
        data.appliances = {a: v[order] for a, v in data.appliances.items()}
        line_no, file_no = line_no[order], file_no[order]

    def line_of(i: int) -> str:
        return f"line {line_no[i]}" + (f" of {ordered[file_no[i]]}" if len(paths) > 1 else "")

    _finish(data, paths[0] if len(paths) == 1 else Path(f"house {house} files"), line_of)
    diffs = np.diff(data.unix)
    period = float(np.median(diffs)) if len(diffs) else 0.0
    if period <= 0:
        raise DataError(
            f"{paths[0]}: cannot detect a sampling period (need at least two timestamps)"
        )
    return data, period


def group_files_by_house(
    files: list[Path], pattern: str = r"[Hh]ouse_?(\d+)", mapping: dict[str, str] | None = None
) -> dict[str, list[Path]]:
    """House id of each file: an explicit mapping (file name -> house) wins over the pattern in
    the file's name, which wins over the pattern in its folder's name."""
    houses: dict[str, list[Path]] = {}
    rx = re.compile(pattern)
    for f in files:
        if mapping and f.name in mapping:
            h = mapping[f.name]
        else:
            # the file's name, else its folder's (ukdale-house2-30s/one-day.csv is house 2)
            m = rx.search(f.name) or rx.search(f.parent.name)
            if not m:
                raise DataError(
                    f"{f}: cannot tell which house this file belongs to; name it (or its folder) "
                    "like House<N>… or pass --house-map FILE=HOUSE"
                )
            h = m.group(1)
        houses.setdefault(str(h), []).append(f)
    return houses
