"""What the evaluation stage writes: the rows of one appliance (metrics, deltas, evaluations,
traces, baselines, the window description), the trace and sample files, and the store update."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.core import artifacts
from pipeline.core.hashing import array_sha256
from pipeline.evaluate.sample import EvalPlan
from pipeline.settings.constants import MIDPOINT
from store import db, ids
from store.vocab import Kind, Split

TRACE_ROW_GROUP = 100_000


@dataclass
class Rows:
    """Rows (dicts keyed by column) for the tables evaluation writes, for one appliance."""

    metrics: list = field(default_factory=list)
    deltas: list = field(default_factory=list)
    pairs: list = field(default_factory=list)
    evaluations: list = field(default_factory=list)
    traces: list = field(default_factory=list)
    baselines: list = field(default_factory=list)
    window_info: dict = field(default_factory=dict)


def evaluation_record(vid, runtime, xnnpack, sha, subset, n_windows, seconds, on_windows=None):
    return {
        "variant_id": vid,
        "split": Split.TEST.value,
        "runtime": runtime,
        "xnnpack": xnnpack,
        "file_sha256": sha,
        "subset": subset,
        "n_windows": n_windows,
        "on_windows": on_windows,
        "seconds": seconds,
    }


def split_appliance(vid: str) -> str:
    return ids.appliance_of(vid)


def write_trace(ctx, vid, split, starts, pred, pred_on, sha, truth_on=None) -> dict:
    """The predicted trace of one variant as a Parquet file; returns its traces row.
    ``truth_on``: the true status under the trace's own rule (default: the split's)."""
    mid = starts + MIDPOINT
    if truth_on is None:
        truth_on = split.status[mid]
    table = pa.table(
        {
            "time": pa.array(split.unix[mid].astype("datetime64[s]")),
            "aggregate_w": split.aggregate_w[mid].astype(np.float32),
            "truth_w": split.appliance_w[mid].astype(np.float32),
            "pred_w": np.asarray(pred, np.float32),
            "truth_on": np.asarray(truth_on, np.int8),
            "pred_on": np.asarray(pred_on, np.int8),
        }
    )
    # a new content-addressed file: a published trace is never rewritten
    path, _ = artifacts.write_artifact(
        ctx.artifacts / "traces",
        vid,
        ".parquet",
        lambda p: pq.write_table(table, p, row_group_size=TRACE_ROW_GROUP),
    )
    return {
        "variant_id": vid,
        "appliance": split_appliance(vid),
        "split": Split.TEST.value,
        "path": ctx.rel(path),
        "rows": len(starts),
        "file_sha256": sha,
    }


def _ts(unix):
    return np.datetime64(int(unix), "s").astype(object)


def _write_sample(ctx, appliance, split, plan: EvalPlan):
    """The sample's windows, strata, weights and smallest level as a Parquet file."""
    sample = plan.sample
    mid = sample.starts + MIDPOINT
    _, design = sample.subset(None)
    level_of = np.full(len(sample), "full", dtype=object)
    for lv in ("reference", "core", "min"):  # nested: the smaller level overwrites
        level_of[sample.subset(plan.levels[lv])[0]] = lv
    table = pa.table(
        {
            "start": sample.starts,
            "midpoint_time": pa.array(split.unix[mid].astype("datetime64[s]")),
            "stratum": [sample.strata[h]["name"] for h in sample.stratum],
            "weight": design.weight,
            "smallest_level": level_of.astype(str),
        }
    )
    path, _ = artifacts.write_artifact(
        ctx.artifacts / "eval",
        f"{appliance.value}.sample",
        ".parquet",
        lambda p: pq.write_table(table, p),
    )
    return path


def window_info(appliance, split, row, plan: EvalPlan, article: bool, ctx) -> dict:
    """The eval_windows row: which windows were evaluated, and how."""
    sample = plan.sample
    mid = sample.starts + MIDPOINT
    tmid = plan.trace + MIDPOINT
    sample_path = _write_sample(ctx, appliance, split, plan)
    return {
        "appliance": appliance.value,
        "split": Split.TEST.value,
        "first_time": _ts(split.unix[mid].min()) if len(mid) else None,
        "last_time": _ts(split.unix[mid].max()) if len(mid) else None,
        "n_windows": int(len(sample)),
        "windows_hash": array_sha256(sample.starts)[:16],
        "postprocess": "article_threshold" if article else "clip_negative",
        "protocol": plan.protocol,
        "population_windows": int(sample.population.sum()),
        "core_windows": int(plan.levels["core"]),
        "strata": json.dumps(
            {
                "strata": sample.strata,
                "levels": plan.levels,
                # windows each level holds: its size, raised to the floors of every stratum
                "windows": {lv: int(m.sum()) for lv, m in plan.masks().items()},
            }
        ),
        "sample_path": ctx.rel(sample_path),
        "test_houses": str(row["houses"]),
        "trace_first_time": _ts(split.unix[tmid[0]]),
        "trace_last_time": _ts(split.unix[tmid[-1]]),
        "seed": ctx.cfg.seed,
    }


def write(con, rows: Rows, variant_ids: list[str]) -> None:
    """Replace the appliance's evaluation rows (and its baselines) in the store."""
    info = rows.window_info
    con.execute(
        "DELETE FROM eval_windows WHERE appliance = ? AND split = ?",
        [info["appliance"], info["split"]],
    )
    db.insert_records(con, "eval_windows", [info])
    vids = variant_ids + [b["variant_id"] for b in rows.baselines]
    for table in ("metrics", "metric_deltas", "paired_deltas", "evaluations", "traces"):
        con.execute(f"DELETE FROM {table} WHERE variant_id IN (SELECT unnest(?))", [vids])
    con.execute("DELETE FROM paired_deltas WHERE other_id IN (SELECT unnest(?))", [vids])
    con.execute(
        "DELETE FROM variants WHERE kind = ? AND appliance = ?",
        [Kind.BASELINE.value, info["appliance"]],
    )
    db.insert_records(con, "variants", rows.baselines)
    db.insert_records(con, "metrics", rows.metrics)
    db.insert_records(con, "metric_deltas", rows.deltas)
    db.insert_records(con, "paired_deltas", rows.pairs)
    db.insert_records(con, "evaluations", rows.evaluations)
    db.insert_records(con, "traces", rows.traces)
