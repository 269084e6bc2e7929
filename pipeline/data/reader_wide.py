"""Wide CSV/Parquet files: a time column, an aggregate column and one column per appliance,
one or more files per house (the house from the file's or its folder's name, or --house-map)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.data.readers import (
    UNREADABLE,
    HouseData,
    Splits,
    check_powers,
    finish,
    numeric,
    parse_times,
    reason,
    warn_negatives,
)
from pipeline.data.resample import resample_house
from pipeline.data.series import concat, house_series, time_split, train_val_split
from pipeline.errors import DataError
from store.vocab import Appliance, Split, canonical_appliance

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
        raise DataError(f"{path}: not a readable {kind} ({reason(exc)})") from exc


@dataclass
class _FileRows:
    """The kept rows of one wide file."""

    unix: np.ndarray  # int64 seconds
    lines: np.ndarray  # file line of every kept row, for error messages
    aggregate: np.ndarray  # float32 W
    appliances: dict[Appliance, np.ndarray]  # float32 W


def _read_wide_file(path: Path, house: HouseData, mask_zero_aggregate: bool) -> _FileRows:
    note = house.note
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
    num = numeric(df.astype({c: str for c in cols}), cols, path, 2)
    check_powers(num, cols, path, 2, house)
    keep = ~np.isnan(num[cols].to_numpy()).any(axis=1)
    note("rows_with_empty_cells_dropped", int((~keep).sum()))
    if mask_zero_aggregate:
        zero = (num[agg_col].to_numpy() == 0) & keep
        note("zero_aggregate_rows_masked_as_gaps", int(zero.sum()))
        keep &= ~zero
    return _FileRows(
        unix=t[keep].astype(np.int64),
        lines=np.flatnonzero(keep) + 2,
        aggregate=num[agg_col].to_numpy()[keep].astype(np.float32),
        appliances={a: num[c].to_numpy()[keep].astype(np.float32) for a, c in apps.items()},
    )


def _check_same_appliances(parts: list[_FileRows], path: Path, house: str) -> None:
    """Every file of a house has a column for every appliance any of them has."""
    seen = list(dict.fromkeys(a for p in parts for a in p.appliances))
    for a in seen:
        if not all(a in p.appliances for p in parts):
            raise DataError(
                f"{path}: column for {a.value} missing (present in other files of house {house})"
            )


def read_wide_files(
    paths: list[Path], house: str, mask_zero_aggregate: bool = True
) -> tuple[HouseData, float]:
    """Read one house from one or more wide files (time, aggregate, appliance columns).

    Returns the house data and the detected sampling period in seconds. Rows whose aggregate is
    exactly 0 are treated as missing (zero-filled gaps) unless ``mask_zero_aggregate`` is off.
    """
    data = HouseData(house, list(paths), None, None, {})
    ordered = sorted(paths)
    parts: list[_FileRows] = []
    for path in ordered:
        parts.append(_read_wide_file(path, data, mask_zero_aggregate))
        _check_same_appliances(parts, path, house)
    data.unix = np.concatenate([p.unix for p in parts])
    data.aggregate = np.concatenate([p.aggregate for p in parts])
    data.appliances = {
        a: np.concatenate([p.appliances[a] for p in parts]) for a in parts[0].appliances
    }
    line_no = np.concatenate([p.lines for p in parts])
    file_no = np.concatenate([np.full(len(p.unix), i, dtype=np.int32) for i, p in enumerate(parts)])
    order = np.argsort(data.unix, kind="stable")
    if len(paths) > 1 and (np.diff(data.unix) < 0).any():
        data.unix, data.aggregate = data.unix[order], data.aggregate[order]
        data.appliances = {a: v[order] for a, v in data.appliances.items()}
        line_no, file_no = line_no[order], file_no[order]

    def line_of(i: int) -> str:
        return f"line {line_no[i]}" + (f" of {ordered[file_no[i]]}" if len(paths) > 1 else "")

    finish(data, paths[0] if len(paths) == 1 else Path(f"house {house} files"), line_of)
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


class WideSource:
    """Houses of wide files: with three houses or more the last is the test house and the one
    before it the validation house (or those --test-house/--val-house name); with two, the
    last is the test house and the other trains (its first 85 % by time) and validates (its
    last 15 %); with one, its series is split by time (70 / 15 / 15 %)."""

    def __init__(self, root: Path, files: dict[str, list[Path]], opts):
        self.root = root
        self.label = f"csv:{root}"
        self.files = files
        self.opts = opts
        self.loaded: dict[str, tuple[HouseData, float]] = {}
        self.plans: dict[Appliance, dict[Split, list[str]] | None] = {}

    @classmethod
    def find(cls, path: Path, opts) -> WideSource:
        """The wide files of a folder (any depth) by house, or one file as house 1."""
        if path.is_file():
            return cls(path.parent, {"1": [path]}, opts)
        files = sorted(
            p
            for p in path.rglob("*")
            if p.is_file() and p.name.endswith((".csv", ".csv.gz", ".parquet"))
        )
        if not files:
            raise DataError(f"{path}: no .csv, .csv.gz or .parquet files found")
        return cls(path, group_files_by_house(files, opts.house_pattern, opts.house_map), opts)

    @property
    def houses(self) -> list[str]:
        return sorted(self.files, key=lambda h: (len(h), h))

    def appliances(self, requested: list[Appliance], explicit: bool) -> list[Appliance]:
        """Reads every house: which appliances the files hold is known only from their columns."""
        target = getattr(self.opts, "resample_s", None)
        for h in self.houses:
            hd, period = read_wide_files(self.files[h], h, self.opts.mask_zero_aggregate)
            if target:
                hd, period = resample_house(hd, period, int(target)), float(target)
            self.loaded[h] = (hd, period)
        present = {a for hd, _ in self.loaded.values() for a in hd.appliances}
        apps = [a for a in requested if a in present]
        if explicit:
            absent = [a.value for a in requested if a not in present]
            if absent:
                raise DataError(f"{self.root}: no column for {', '.join(absent)} in any file")
        if not apps:
            raise DataError(
                f"{self.root}: none of the selected appliances has a column in these files"
            )
        self.plans = {a: self._plan(a) for a in apps}
        return apps

    def _plan(self, appliance: Appliance) -> dict[Split, list[str]] | None:
        """The split houses among the houses that hold the appliance (a folder may mix houses
        with different appliances: IDEAL has no kettle): the test house is the last of them
        (or --test-house), a house without the appliance never makes a split empty."""
        holding = [h for h in self.houses if appliance in self.loaded[h][0].appliances]
        test, val = self.opts.test_house, self.opts.val_house
        if test:
            named = [h.strip() for h in test.split(",") if h.strip()]
            unknown = [h for h in named if h not in self.houses]
            if unknown:
                raise DataError(
                    f"house {unknown[0]} is not in the data (houses: {', '.join(self.houses)})"
                )
            test = ",".join(h for h in named if h in holding)
            if not test:
                raise DataError(
                    f"{self.root}: the test split of {appliance.value} has no house with that "
                    f"appliance (--test-house {self.opts.test_house}; houses with it: "
                    f"{', '.join(holding)})"
                )
        if val not in (None, VAL_IN_TRAINING) and val in self.houses and val not in holding:
            raise DataError(
                f"{self.root}: the validation split of {appliance.value} has no house with that "
                f"appliance (--val-house {val}; houses with it: {', '.join(holding)})"
            )
        if len(holding) < len(self.houses) and not self.opts.test_house and len(holding) < 2:
            # the appliance is in one house only: that house is split by time
            return None
        return _split_houses(holding, test or None, val)

    def split_houses(self, appliance: Appliance) -> dict[Split, list[str]] | None:
        return self.plans[appliance]

    def load(self, appliances: list[Appliance], console) -> None:
        """appliances() has read every house: only its warnings are left to say."""
        for h in self.houses:
            warn_negatives(self.loaded[h][0], console)

    def splits(self, appliance: Appliance) -> Splits:
        series, period = self._series(appliance)
        plan = self.plans[appliance]
        if plan is None:
            parts = [time_split(s) for s in series.values()]
            data = {sp: concat([p[sp] for p in parts]) for sp in Split}
            names = {sp: list(series) for sp in Split}
        else:
            names = {sp: [h for h in hs if h in series] for sp, hs in plan.items()}
            for sp, hs in names.items():
                if not hs:
                    raise DataError(
                        f"{self.root}: the {sp.value} split of {appliance.value} has no house with that appliance"
                    )
            data = {sp: concat([series[h] for h in hs]) for sp, hs in names.items()}
            if names[Split.TRAIN] == names[Split.VAL]:
                # the training houses validate: each its own last 15 % by time
                parts = [train_val_split(series[h]) for h in names[Split.TRAIN]]
                for sp in (Split.TRAIN, Split.VAL):
                    data[sp] = concat([p[sp] for p in parts])
        cleaning = {h: self.loaded[h][0].cleaning for h in series}
        return Splits(data=data, houses=names, period_s=period, cleaning=cleaning)

    def _series(self, appliance: Appliance) -> tuple[dict, float]:
        """The series of every house with the appliance, and their common sampling period."""
        series, periods = {}, set()
        for i, h in enumerate(self.houses):
            hd, period = self.loaded[h]
            if appliance not in hd.appliances:
                continue
            series[h] = house_series(hd, appliance, period, (i + 1) * 1_000_000)
            periods.add(round(period, 3))
        if len(periods) > 1:
            raise DataError(
                f"{self.root}: houses have different sampling periods {sorted(periods)} s; bring them "
                "to one with --resample SECONDS (e.g. the shortest)"
            )
        return series, periods.pop()


VAL_IN_TRAINING = "train"  # --val-house train: the training houses' last 15 % validates


def _split_houses(
    houses: list[str], test_house: str | None, val_house: str | None
) -> dict[Split, list[str]] | None:
    """The houses of each split, or None: one house, split by time.
    ``test_house`` may name several houses, comma-separated (each is then reported alone too).
    With two houses (or one house left after the test houses) the house left trains and its
    last 15 % by time validates; ``val_house`` "train": every training house validates on its
    own last 15 %. A test house never reaches training or validation."""
    if test_house or val_house or len(houses) == 2:
        tests = [h.strip() for h in test_house.split(",") if h.strip()] if test_house else []
        in_training = val_house == VAL_IN_TRAINING
        for h in [*tests, None if in_training else val_house]:
            if h is not None and h not in houses:
                raise DataError(f"house {h} is not in the data (houses: {', '.join(houses)})")
        tests = tests or [houses[-1]]
        rest = [h for h in houses if h not in tests]
        if in_training:  # every training house validates on its own last 15 % by time
            if not rest:
                raise DataError(f"no house left for training (houses: {', '.join(houses)})")
            return {Split.TRAIN: rest, Split.VAL: rest, Split.TEST: tests}
        if val_house is None and len(rest) == 1:
            # one house left: it trains, and its last 15 % (by time) validates; the test
            # house stays unseen (two houses are thus cross-house by default)
            return {Split.TRAIN: rest, Split.VAL: rest, Split.TEST: tests}
        val = val_house or next((h for h in reversed(houses) if h not in tests), None)
        if val is None or val in tests:
            raise DataError(
                f"no house left for validation after the test houses {', '.join(tests)} "
                f"(houses: {', '.join(houses)})"
            )
        return {
            Split.TRAIN: [h for h in houses if h not in (*tests, val)],
            Split.VAL: [val],
            Split.TEST: tests,
        }
    if len(houses) >= 3:
        return {Split.TRAIN: houses[:-2], Split.VAL: [houses[-2]], Split.TEST: [houses[-1]]}
    return None  # one house: split by time
