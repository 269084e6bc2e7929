"""Data stage: raw house files -> per-appliance train/val/test splits (Parquet) + store rows.

Every source (the embedded dataset and REFIT files in the REFIT layout, wide CSV/Parquet files)
goes through one path: the source names its files and each appliance's split houses (the cache
key), reads what the appliances to redo need, and hands over their series; each appliance's
splits are then written and recorded with its cache key in one store write.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.core import artifacts
from pipeline.core.context import RunContext, Timer
from pipeline.core.hashing import file_sha256, stable_hash
from pipeline.data.reader_refit import RefitSource
from pipeline.data.reader_wide import WideSource
from pipeline.data.readers import HouseSource, Splits
from pipeline.data.synth import write_synthetic_refit
from pipeline.data.windows import SplitData, valid_starts
from pipeline.errors import DataError
from pipeline.settings.constants import AGG_MEAN_W, AGG_STD_W, APPLIANCES
from pipeline.settings.stages import settings_key, stage_settings
from store import db, ids
from store.vocab import Appliance, Split

SYNTH_VERSION = "1"


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
    resample_s: int | None = None  # every house brought to this period, whole seconds (csv)

    def to_json(self) -> dict:
        """The options as the cache key and the run's record hold them (resample_s only when
        set, so that the keys of runs without it did not change when it was added)."""
        out = {k: (str(v) if isinstance(v, Path) else v) for k, v in self.__dict__.items()}
        if out["resample_s"] is None:
            del out["resample_s"]
        return out


def inputs_checksum(files: list[Path]) -> str:
    h = hashlib.sha256()
    for f in sorted(files):
        h.update(f.name.encode())
        h.update(file_sha256(f).encode())
    return h.hexdigest()[:16]


def open_source(ctx: RunContext, opts: DataOptions) -> HouseSource:
    """The house data the options name (the embedded dataset is generated on first use)."""
    if opts.source == "synthetic":
        return RefitSource(_synthetic_raw(ctx), "synthetic", ctx.appliances, opts.drop_issues)
    if opts.source == "refit":
        if opts.path is None:
            raise DataError("--source refit needs --path DIR holding CLEAN_House<N>.csv files")
        return RefitSource(Path(opts.path), "refit", ctx.appliances, opts.drop_issues)
    if opts.source == "csv":
        if opts.path is None:
            raise DataError("--source csv needs --path DIR (or a file) of wide CSV/Parquet files")
        path = Path(opts.path)
        if path.is_file():  # one file is house 1 (so named in the options, and the cache key)
            opts.house_map = {path.name: "1"}
        return WideSource.find(path, opts)
    raise DataError(f"unknown data source {opts.source!r}; expected synthetic, refit or csv")


def _synthetic_raw(ctx: RunContext) -> Path:
    """The embedded dataset's folder of CLEAN_House<N>.csv files, written on first use."""
    cfg = ctx.cfg
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
    return raw


DATA_CODE_VERSION = "v1"


def data_key(settings, checksum: str, options: dict, appliance: Appliance, houses) -> str:
    """The cache key of one appliance's splits: the raw files' checksum, the data options, the
    appliance's parameters, its houses, the DataSettings and the code's version."""
    return stable_hash(
        [
            checksum,
            options,
            APPLIANCES[appliance].__dict__,
            houses,
            *settings_key(settings),
            DATA_CODE_VERSION,
        ]
    )


def run_data(ctx: RunContext, opts: DataOptions) -> list[dict]:
    """Build and record the splits of every selected appliance; returns the dataset rows."""
    source = open_source(ctx, opts)
    checksum = inputs_checksum([f for fs in source.files.values() for f in fs])
    explicit = ctx.options.appliances_explicit
    settings = stage_settings("data", ctx.cfg, ctx.options, synthetic=opts.source == "synthetic")
    todo = []
    for a in source.appliances(ctx.appliances, explicit):
        key = data_key(settings, checksum, opts.to_json(), a, source.split_houses(a))
        if ctx.skip_if_current("data", a.value, key, _outputs_exist(ctx, a)):
            continue
        todo.append((a, key))
    if not todo:
        return []
    with Timer() as read_timer:
        source.load([a for a, _ in todo], ctx.console)
    rows: list[dict] = []
    for a, key in todo:
        with Timer() as t:
            split_rows = _write_splits(ctx, a, source.splits(a), source.label, checksum)
        seconds = t.seconds + read_timer.seconds / len(todo)  # reads shared by the appliances
        ctx.commit("data", a.value, key, seconds, lambda con, r=split_rows: _insert_rows(con, r))
        rows.extend(split_rows)
        ctx.console.print(f"data: {a.value} splits recorded ({_summary(split_rows)})")
    return rows


def _write_splits(ctx: RunContext, a: Appliance, splits: Splits, label: str, checksum: str):
    """Write the appliance's split files; returns their datasets rows (not yet recorded)."""
    return [
        _write_split(
            ctx,
            a,
            split,
            data,
            splits.houses[split],
            label,
            splits.period_s,
            checksum,
            {h: splits.cleaning[h] for h in splits.houses[split]},
        )
        for split, data in splits.data.items()
    ]


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
        ctx.artifacts / "data", ids.dataset_id(a, split), ".parquet", data.write
    )
    return {
        "dataset_id": ids.dataset_id(a, split),
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
        db.insert_records(con, "datasets", [r])


def split_record(ctx: RunContext, a: Appliance, split: Split) -> dict:
    """The store's row for a split (no data read); raises NotReadyError when it is missing."""
    return load_split(ctx, a, split, data=False)[1]


def appliances_with_data(ctx: RunContext) -> list:
    """The run's appliances that have recorded splits (a source without an appliance's column,
    e.g. a house with no fridge, leaves it out when the appliances were not named)."""
    if not ctx.store.exists():
        return []
    recorded = set(ctx.read("SELECT DISTINCT appliance FROM datasets")["appliance"])
    return [a for a in ctx.appliances if a.value in recorded]


def load_split(ctx: RunContext, a: Appliance, split: Split, data: bool = True):
    """The split's series and its store row; raises NotReadyError when the data stage has not run."""
    from pipeline.errors import NotReadyError

    if not ctx.store.exists():
        raise NotReadyError(f"no {split.value} data for {a.value}: run `pipeline data` first")
    row = ctx.read("SELECT * FROM datasets WHERE dataset_id = ?", [ids.dataset_id(a, split)])
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
