"""The REFIT layout: CLEAN_House<N>.csv files (Time, Unix, Aggregate, Appliance1..9, Issues)
with the article's house map, read in chunks keeping only the needed columns."""

from __future__ import annotations

import re
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
from pipeline.data.series import concat, house_series
from pipeline.errors import DataError
from pipeline.settings.constants import REFIT_HOUSES, REFIT_PERIOD_S
from store.vocab import Appliance, Split

CHUNK_ROWS = 250_000


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
        raise DataError(f"{path}: not a readable CSV ({reason(exc)})") from exc
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
        house.forget_cleaning()
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
                t = numeric(chunk, ["Unix"], path, line)["Unix"].to_numpy()
            else:
                t = parse_times(chunk["Time"], path, "Time", line)
                if np.isnan(t).any():
                    i = int(np.flatnonzero(np.isnan(t))[0])
                    raise DataError(
                        f"{path}: line {line + i}, column 'Time': expected a timestamp, "
                        f"got {str(chunk['Time'].iloc[i])!r}"
                    )
            num = numeric(chunk, needed + (["Issues"] if has_issues else []), path, line)
            check_powers(num, needed, path, line, house)
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
        raise DataError(f"{path}: not a readable CSV ({reason(exc)})") from exc
    except ValueError as exc:
        if isinstance(exc, DataError) or dtype is not str:
            raise
        raise DataError(f"{path}: cannot parse as CSV: {exc}") from exc
    house.unix = cols["t"].values()
    house.aggregate = cols["agg"].values()
    house.appliances = {a: cols[a].values() for a in channels}
    kept_lines = lines.values()
    return finish(house, path, lambda i: f"line {kept_lines[i]}")


class RefitSource:
    """CLEAN_House<N>.csv files of a folder, split by the article's house map: each appliance's
    test and validation houses, and every other house of it present as training houses."""

    def __init__(self, root: Path, kind: str, appliances: list[Appliance], drop_issues: bool):
        self.files = {
            f.stem.replace("CLEAN_House", ""): [f] for f in sorted(root.glob("CLEAN_House*.csv"))
        }
        if not self.files:
            raise DataError(
                f"{root}: no CLEAN_House<N>.csv files (expected REFIT's cleaned release)"
            )
        self.label = f"{kind}:{root}"
        self.drop_issues = drop_issues
        self.plan = {a: self._houses_of(root, a) for a in appliances}
        self.channels = {
            a: {str(h): ch for h, ch in REFIT_HOUSES[a].channels.items()} for a in appliances
        }
        self.series: dict[Appliance, dict] = {}
        self.cleaning: dict[Appliance, dict] = {}

    def _houses_of(self, root: Path, a: Appliance) -> dict[Split, list[str]]:
        hs = REFIT_HOUSES[a]
        missing = [str(h) for h in hs.channels if str(h) not in self.files]
        if str(hs.test) in missing or str(hs.val) in missing or len(missing) == len(hs.channels):
            raise DataError(
                f"{root}: {a.value} needs houses {sorted(hs.channels)} (test {hs.test}, "
                f"validation {hs.val}); missing CLEAN_House{{{','.join(missing)}}}.csv"
            )
        train = [str(h) for h in hs.train if str(h) in self.files]
        if not train:
            raise DataError(f"{root}: no training house for {a.value} (need one of {hs.train})")
        return {Split.TRAIN: train, Split.VAL: [str(hs.val)], Split.TEST: [str(hs.test)]}

    def appliances(self, requested: list[Appliance], explicit: bool) -> list[Appliance]:
        return requested  # the house map names a house and channel for every appliance

    def split_houses(self, appliance: Appliance) -> dict[Split, list[str]]:
        return self.plan[appliance]

    def load(self, appliances: list[Appliance], console) -> None:
        """Read each needed house once, with every channel any of the appliances needs."""
        needed = sorted(
            {h for a in appliances for hs in self.plan[a].values() for h in hs}, key=int
        )
        self.series = {a: {} for a in appliances}
        self.cleaning = {a: {} for a in appliances}
        for i, h in enumerate(needed, 1):
            chans = {a: self.channels[a][h] for a in appliances if h in self.channels[a]}
            console.print(f"data: reading house {h} ({i}/{len(needed)})")
            path = self.files[h][0]
            house = read_refit_house(path, chans, drop_issues=self.drop_issues)
            warn_negatives(house, console)
            for a in chans:
                if len(house.appliances[a]) == 0:
                    raise DataError(f"{path}: house {h} has no data for {a.value}")
                self.series[a][h] = house_series(house, a, REFIT_PERIOD_S, int(h) * 1_000_000)
                self.cleaning[a][h] = dict(house.cleaning)

    def splits(self, appliance: Appliance) -> Splits:
        houses = self.plan[appliance]
        series = self.series[appliance]
        return Splits(
            data={sp: concat([series[h] for h in hs]) for sp, hs in houses.items()},
            houses=houses,
            period_s=REFIT_PERIOD_S,
            cleaning=self.cleaning[appliance],
        )
