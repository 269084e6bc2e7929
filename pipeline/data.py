"""Data stage: raw house files -> per-appliance train/val/test splits (Parquet) + store rows."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline import artifacts
from pipeline.config import (
    AGG_MEAN_W,
    AGG_STD_W,
    APPLIANCES,
    REFIT_HOUSES,
    REFIT_PERIOD_S,
    file_sha256,
    stable_hash,
)
from pipeline.context import RunContext, Timer
from pipeline.errors import DataError
from pipeline.onoff import duration_samples, status_by_segment
from pipeline.readers import HouseData, group_files_by_house, read_refit_house, read_wide_files
from pipeline.synth import write_synthetic_refit
from pipeline.windows import SplitData, valid_starts
from store.vocab import Appliance, Split

SYNTH_VERSION = "1"
GAP_FACTOR = 7.5  # a jump of more than 7.5 sampling periods (60 s at 8 s) is a gap


@dataclass
class DataOptions:
    source: str = "synthetic"  # synthetic | refit | csv
    path: Path | None = None
    test_house: str | None = None
    val_house: str | None = None
    house_pattern: str = r"[Hh]ouse_?(\d+)"
    house_map: dict[str, str] | None = None
    drop_issues: bool = True
    mask_zero_aggregate: bool = True

    def to_json(self) -> dict:
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in self.__dict__.items()}


def inputs_checksum(files: list[Path]) -> str:
    h = hashlib.sha256()
    for f in sorted(files):
        h.update(f.name.encode())
        h.update(file_sha256(f).encode())
    return h.hexdigest()[:16]


def segments_for(unix: np.ndarray, period_s: float) -> np.ndarray:
    """Segment id per sample; a new segment starts after every gap."""
    if len(unix) == 0:
        return np.zeros(0, np.int32)
    gap = np.diff(unix) > GAP_FACTOR * period_s
    return np.r_[0, np.cumsum(gap)].astype(np.int32)


def house_series(
    house: HouseData, appliance: Appliance, period_s: float, segment_offset: int
) -> SplitData:
    """One house's series for one appliance: clipped power, status per segment."""
    params = APPLIANCES[appliance]
    power = house.appliances[appliance]
    app = np.clip(power, 0, params.max_power_w).astype(np.float32)
    seg = segments_for(house.unix, period_s) + segment_offset
    status = status_by_segment(
        app,
        seg,
        params.on_threshold_w,
        duration_samples(params.min_on_s, period_s),
        duration_samples(params.min_off_s, period_s),
    )
    return SplitData(
        unix=house.unix,
        aggregate_w=house.aggregate.astype(np.float32),
        appliance_w=app,
        status=status,
        segment=seg,
        house=np.full(len(app), house.house, dtype=object),
    )


def concat(parts: list[SplitData]) -> SplitData:
    return SplitData(
        *[
            np.concatenate([getattr(p, c) for p in parts])
            for c in ("unix", "aggregate_w", "appliance_w", "status", "segment", "house")
        ]
    )


def time_split(s: SplitData) -> dict[Split, SplitData]:
    """Single-house data: first 70 % train, next 15 % validation, last 15 % test (by time)."""
    n = len(s)
    cuts = [0, int(n * 0.70), int(n * 0.85), n]
    out = {}
    for split, a, b in zip((Split.TRAIN, Split.VAL, Split.TEST), cuts[:-1], cuts[1:], strict=True):
        part = SplitData(
            *[
                getattr(s, c)[a:b]
                for c in ("unix", "aggregate_w", "appliance_w", "status", "segment", "house")
            ]
        )
        part.segment = part.segment + (0 if split is Split.TRAIN else 100_000 * (1 + cuts.index(a)))
        out[split] = part
    return out


@dataclass
class Plan:
    """Which houses (and files) make each split of each appliance."""

    source: str
    files: dict[str, list[Path]]  # house -> files
    splits: dict[Appliance, dict[Split, list[str]]]  # REFIT layout: the article's house map
    channels: dict[Appliance, dict[str, int]]  # REFIT only

    @property
    def houses(self) -> list[str]:
        return sorted(self.files, key=lambda h: (len(h), h))


def plan_refit(root: Path, appliances: list[Appliance], source: str) -> Plan:
    files = {}
    for f in sorted(root.glob("CLEAN_House*.csv")):
        files[f.stem.replace("CLEAN_House", "")] = [f]
    if not files:
        raise DataError(f"{root}: no CLEAN_House<N>.csv files (expected REFIT's cleaned release)")
    splits, channels = {}, {}
    for a in appliances:
        hs = REFIT_HOUSES[a]
        missing = [str(h) for h in hs.channels if str(h) not in files]
        if str(hs.test) in missing or str(hs.val) in missing or len(missing) == len(hs.channels):
            raise DataError(
                f"{root}: {a.value} needs houses {sorted(hs.channels)} (test {hs.test}, "
                f"validation {hs.val}); missing CLEAN_House{{{','.join(missing)}}}.csv"
            )
        train = [str(h) for h in hs.train if str(h) in files]
        if not train:
            raise DataError(f"{root}: no training house for {a.value} (need one of {hs.train})")
        splits[a] = {Split.TRAIN: train, Split.VAL: [str(hs.val)], Split.TEST: [str(hs.test)]}
        channels[a] = {str(h): ch for h, ch in hs.channels.items()}
    return Plan(source, files, splits, channels)


def plan_wide(root: Path, opts: DataOptions) -> Plan:
    files = sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and p.name.endswith((".csv", ".csv.gz", ".parquet"))
    )
    if not files:
        raise DataError(f"{root}: no .csv, .csv.gz or .parquet files found")
    by_house = group_files_by_house(files, opts.house_pattern, opts.house_map)
    return Plan("csv", by_house, {}, {})


def _split_houses_for_wide(houses: list[str], opts: DataOptions) -> dict[Split, list[str]] | None:
    if opts.test_house or opts.val_house:
        for h in (opts.test_house, opts.val_house):
            if h is not None and h not in houses:
                raise DataError(f"house {h} is not in the data (houses: {', '.join(houses)})")
        test = opts.test_house or houses[-1]
        val = opts.val_house or next(h for h in reversed(houses) if h != test)
        return {
            Split.TRAIN: [h for h in houses if h not in (test, val)],
            Split.VAL: [val],
            Split.TEST: [test],
        }
    if len(houses) >= 3:
        return {Split.TRAIN: houses[:-2], Split.VAL: [houses[-2]], Split.TEST: [houses[-1]]}
    return None  # one or two houses: split each by time


def run_data(ctx: RunContext, opts: DataOptions) -> list[dict]:
    """Build and record the splits of every selected appliance; returns the dataset rows."""
    cfg = ctx.cfg
    source = opts.source
    if source == "synthetic":
        raw = (
            ctx.artifacts
            / "raw"
            / f"synthetic-{stable_hash([cfg.synthetic_days, cfg.seed, SYNTH_VERSION])}"
        )
        marker = raw / "COMPLETE"
        if not marker.exists():
            with ctx.console.status(
                f"generating the embedded dataset ({cfg.synthetic_days} days x 17 houses)"
            ):
                write_synthetic_refit(raw, cfg.synthetic_days, cfg.seed)
            marker.write_text("ok\n")
        plan = plan_refit(raw, ctx.appliances, "synthetic")
        root = raw
    elif source == "refit":
        if opts.path is None:
            raise DataError("--source refit needs --path DIR holding CLEAN_House<N>.csv files")
        root = Path(opts.path)
        plan = plan_refit(root, ctx.appliances, "refit")
    elif source == "csv":
        if opts.path is None:
            raise DataError("--source csv needs --path DIR (or a file) of wide CSV/Parquet files")
        root = Path(opts.path)
        if root.is_file():
            plan = Plan("csv", {"1": [root]}, {}, {})
            opts.house_map = {root.name: "1"}
            root = root.parent
        else:
            plan = plan_wide(root, opts)
    else:
        raise DataError(f"unknown data source {source!r}; expected synthetic, refit or csv")

    all_files = [f for fs in plan.files.values() for f in fs]
    checksum = inputs_checksum(all_files)
    rows: list[dict] = []
    if source == "csv":
        return _run_wide(ctx, opts, plan, root, checksum)

    # REFIT layout: read each house once with every channel any selected appliance needs.
    todo = []
    for a in ctx.appliances:
        key = stable_hash([checksum, opts.to_json(), APPLIANCES[a].__dict__, plan.splits[a], "v1"])
        if ctx.skip_if_current("data", a.value, key, _outputs_exist(ctx, a)):
            continue
        todo.append((a, key))
    if not todo:
        return rows
    needed_houses = sorted(
        {h for a, _ in todo for hs in plan.splits[a].values() for h in hs}, key=int
    )
    per_app: dict[Appliance, dict[str, SplitData]] = {a: {} for a, _ in todo}
    cleaning: dict[Appliance, dict[str, dict[str, int]]] = {a: {} for a, _ in todo}
    with Timer() as read_timer:
        for i, h in enumerate(needed_houses, 1):
            chans = {a: plan.channels[a][h] for a, _ in todo if h in plan.channels[a]}
            ctx.console.print(f"data: reading house {h} ({i}/{len(needed_houses)})")
            house = read_refit_house(plan.files[h][0], chans, drop_issues=opts.drop_issues)
            for a in chans:
                if len(house.appliances[a]) == 0:
                    raise DataError(f"{plan.files[h][0]}: house {h} has no data for {a.value}")
                per_app[a][h] = house_series(house, a, REFIT_PERIOD_S, int(h) * 1_000_000)
                cleaning[a][h] = dict(house.cleaning)
    for a, key in todo:
        with Timer() as t:
            split_rows = []
            for split, houses in plan.splits[a].items():
                data = concat([per_app[a][h] for h in houses])
                split_rows.append(
                    _write_split(
                        ctx,
                        a,
                        split,
                        data,
                        houses,
                        f"{source}:{root}",
                        REFIT_PERIOD_S,
                        checksum,
                        {h: cleaning[a][h] for h in houses},
                    )
                )
        seconds = t.seconds + read_timer.seconds / len(todo)
        ctx.commit("data", a.value, key, seconds, lambda con, r=split_rows: _insert_rows(con, r))
        rows.extend(split_rows)
        ctx.console.print(f"data: {a.value} splits recorded ({_summary(split_rows)})")
    return rows


def _run_wide(
    ctx: RunContext, opts: DataOptions, plan: Plan, root: Path, checksum: str
) -> list[dict]:
    houses = plan.houses
    loaded: dict[str, tuple[HouseData, float]] = {}
    for h in houses:
        loaded[h] = read_wide_files(plan.files[h], h, opts.mask_zero_aggregate)
    present = {a for hd, _ in loaded.values() for a in hd.appliances}
    explicit = ctx.options.get("appliances_explicit", False)
    apps = [a for a in ctx.appliances if a in present]
    if explicit:
        absent = [a.value for a in ctx.appliances if a not in present]
        if absent:
            raise DataError(f"{root}: no column for {', '.join(absent)} in any file")
    if not apps:
        raise DataError(f"{root}: none of the selected appliances has a column in these files")
    ctx.appliances = apps
    split_houses = _split_houses_for_wide(houses, opts)
    rows = []
    for a in apps:
        key = stable_hash([checksum, opts.to_json(), APPLIANCES[a].__dict__, split_houses, "v1"])
        if ctx.skip_if_current("data", a.value, key, _outputs_exist(ctx, a)):
            continue
        with Timer() as t:
            series = {}
            for i, h in enumerate(houses):
                hd, period = loaded[h]
                if a not in hd.appliances:
                    continue
                series[h] = (house_series(hd, a, period, (i + 1) * 1_000_000), period)
            periods = {round(p, 3) for _, p in series.values()}
            if len(periods) > 1:
                raise DataError(
                    f"{root}: houses have different sampling periods {sorted(periods)} s; resample them to one period first"
                )
            period = periods.pop()
            if split_houses is None:
                parts = [time_split(s) for s, _ in series.values()]
                splits = {sp: concat([p[sp] for p in parts]) for sp in Split}
                names = {sp: list(series) for sp in Split}
            else:
                names = {sp: [h for h in hs if h in series] for sp, hs in split_houses.items()}
                for sp, hs in names.items():
                    if not hs:
                        raise DataError(
                            f"{root}: the {sp.value} split of {a.value} has no house with that appliance"
                        )
                splits = {sp: concat([series[h][0] for h in hs]) for sp, hs in names.items()}
            split_rows = [
                _write_split(
                    ctx,
                    a,
                    sp,
                    d,
                    names[sp],
                    f"csv:{root}",
                    period,
                    checksum,
                    {h: loaded[h][0].cleaning for h in names[sp]},
                )
                for sp, d in splits.items()
            ]
        ctx.commit("data", a.value, key, t.seconds, lambda con, r=split_rows: _insert_rows(con, r))
        rows.extend(split_rows)
        ctx.console.print(f"data: {a.value} splits recorded ({_summary(split_rows)})")
    return rows


def _outputs_exist(ctx: RunContext, a: Appliance) -> bool:
    """The store records every split of the appliance and each file holds the recorded bytes."""
    return artifacts.recorded_files_ok(
        ctx.store,
        "SELECT artifact_path, sha256 FROM datasets WHERE appliance = ?",
        [a.value],
        expect_rows=len(Split),
    )


def _summary(rows: list[dict]) -> str:
    return ", ".join(f"{r['split']}: {r['rows']:,} rows / {r['windows']:,} windows" for r in rows)


def _write_split(
    ctx, a, split, data: SplitData, houses, source, period, checksum, cleaning
) -> dict:
    params = APPLIANCES[a]
    if len(data) == 0:
        raise DataError(f"{source}: the {split.value} split of {a.value} is empty after cleaning")
    n_windows = len(valid_starts(data.segment))
    if n_windows == 0:
        raise DataError(
            f"{source}: the {split.value} split of {a.value} (houses {', '.join(houses)}) has no "
            f"stretch of 599 samples without a gap; it needs more data"
        )
    # a new file named by its content: the published split files are never rewritten, and this
    # one becomes visible only through the datasets row the caller commits
    path, sha = artifacts.write_artifact(
        ctx.artifacts / "data", f"{a.value}.{split.value}", ".parquet", data.write
    )
    return {
        "dataset_id": f"{a.value}.{split.value}",
        "appliance": a.value,
        "split": split.value,
        "source": source,
        "houses": ",".join(houses),
        "sample_period_s": float(period),
        "rows": len(data),
        "segments": int(len(np.unique(data.segment))),
        "windows": int(n_windows),
        "first_time": np.datetime64(int(data.unix.min()), "s").astype(object),
        "last_time": np.datetime64(int(data.unix.max()), "s").astype(object),
        "on_fraction": float(data.status.mean()),
        "input_checksum": checksum,
        "agg_mean": AGG_MEAN_W,
        "agg_std": AGG_STD_W,
        "max_power_w": params.max_power_w,
        "on_threshold_w": params.on_threshold_w,
        "min_on_s": params.min_on_s,
        "min_off_s": params.min_off_s,
        "cleaning": json.dumps(cleaning),
        "artifact_path": ctx.rel(path),
        "sha256": sha,
    }


def _insert_rows(con, rows: list[dict]) -> None:
    for r in rows:
        con.execute("DELETE FROM datasets WHERE dataset_id = ?", [r["dataset_id"]])
        con.execute(
            f"INSERT INTO datasets ({', '.join(r)}) VALUES ({', '.join('?' * len(r))})",
            list(r.values()),
        )


def split_record(ctx: RunContext, a: Appliance, split: Split) -> dict:
    """The store's row for a split (no data read); raises NotReadyError when it is missing."""
    return load_split(ctx, a, split, data=False)[1]


def load_split(ctx: RunContext, a: Appliance, split: Split, data: bool = True):
    """The split's series and its store row; raises NotReadyError when the data stage has not run."""
    from pipeline.errors import NotReadyError

    if not ctx.store.exists():
        raise NotReadyError(f"no {split.value} data for {a.value}: run `pipeline data` first")
    row = ctx.read("SELECT * FROM datasets WHERE dataset_id = ?", [f"{a.value}.{split.value}"])
    if row.empty:
        raise NotReadyError(
            f"the store has no {split.value} split for {a.value}: run `pipeline data`"
        )
    rec = row.iloc[0].to_dict()
    path = ctx.artifacts / rec["artifact_path"]  # the file the store names, never a fixed name
    if not path.is_file():
        raise NotReadyError(
            f"{path}: the {split.value} split of {a.value} recorded in the store is missing; "
            "run `pipeline data` to rebuild it"
        )
    if not data:
        return None, rec
    if file_sha256(path) != rec["sha256"]:
        raise DataError(
            f"{path}: sha256 differs from the store's record; run `pipeline data` to rebuild it"
        )
    return SplitData.read(path), rec


def split_path(ctx: RunContext, a: Appliance, split: Split) -> Path:
    """The split's Parquet file as the store records it; NotReadyError when missing."""
    return ctx.artifacts / split_record(ctx, a, split)["artifact_path"]
