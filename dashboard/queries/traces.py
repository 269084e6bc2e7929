"""Disaggregation traces: which variants have one, a window of it downsampled on the server, and
energy per calendar day. Traces are Parquet artifacts beside the store, read with Arrow."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from dashboard.queries.common import q
from dashboard.store_reads import cached_read
from store import db


@cached_read
def trace_variants(store: Path, appliance: str) -> pd.DataFrame:
    return q(
        store,
        "SELECT t.variant_id, t.path, t.rows FROM traces t WHERE appliance = ? ORDER BY 1",
        [appliance],
    )


def _bucket_extremes(t: np.ndarray, v: np.ndarray, buckets: int) -> tuple[np.ndarray, np.ndarray]:
    """Per equal-count bucket, the minimum and the maximum of v, each at the time it happened.

    Works on the column's own dtype and copies nothing unless the column holds NaN (a 5 M-sample
    float32 column is scanned twice, once for the minima and once for the maxima).
    """
    n = len(v)
    per = -(-n // buckets)
    lo_src = hi_src = v
    if v.dtype.kind == "f":
        nan = np.isnan(v)
        if nan.any():
            lo_src, hi_src = np.where(nan, np.inf, v), np.where(nan, -np.inf, v)
    full = n // per
    parts = []
    if full:
        base = np.arange(full) * per
        parts += [
            base + lo_src[: full * per].reshape(full, per).argmin(axis=1),
            base + hi_src[: full * per].reshape(full, per).argmax(axis=1),
        ]
    if full * per < n:  # the last, shorter bucket
        rest = full * per
        parts.append(np.array([rest + lo_src[rest:].argmin(), rest + hi_src[rest:].argmax()]))
    idx = np.unique(np.concatenate(parts))  # sorted, a sample once
    return t[idx], v[idx]


@cached_read
def trace_window(
    store: Path, paths: dict[str, str], start=None, end=None, points: int = 2000
) -> pd.DataFrame:
    """Aggregate, truth and predictions in [start, end], downsampled on the server.

    Above ``points`` samples the stretch is cut into points/2 buckets of equal sample count;
    each gives, for every series, its minimum and its maximum, each at the time it happened, so
    spikes survive and stay where they were. Series therefore have their own time stamps: the
    frame is their outer join on time, NaN where a series has no point. Parquet is read with
    Arrow (row groups outside [start, end] are skipped) and reduced with numpy: a 5 M-sample
    trace takes a fraction of a second.
    """
    import pyarrow.parquet as pq

    art = db.artifacts_dir(store)
    filters = []
    if start is not None:
        filters.append(("time", ">=", pd.Timestamp(start)))
    if end is not None:
        filters.append(("time", "<=", pd.Timestamp(end)))
    series: list[pd.Series] = []
    for i, (vid, rel) in enumerate(paths.items()):
        cols = ["aggregate_w", "truth_w", "pred_w", "truth_on"] if i == 0 else ["pred_w"]
        names = {"pred_w": vid}
        table = pq.read_table(art / rel, columns=["time", *cols], filters=filters or None)
        t = table.column("time").to_numpy()
        for c in cols:
            v = table.column(c).to_numpy(zero_copy_only=False)
            if len(t) > points:
                tt, vv = _bucket_extremes(t, v, max(points // 2, 1))
            else:
                tt, vv = t, v
            series.append(
                pd.Series(vv.astype(np.float64), index=pd.DatetimeIndex(tt), name=names.get(c, c))
            )
    if not series or not len(series[0]):
        return pd.DataFrame()
    out = pd.concat(series, axis=1, sort=False).sort_index()
    out.index.name = "time"
    return out.reset_index()


@cached_read
def daily_energy_unmasked(store: Path, paths: dict[str, str]) -> pd.DataFrame:
    """Energy per calendar day of the ground truth and each prediction, unmasked, in Wh.

    Sum of power times the trace's median sample period; `coverage` is the share of the day the
    trace covers (the first and last days of a trace are usually partial).
    """
    art = db.artifacts_dir(store)
    con = duckdb.connect()
    try:
        out = []
        for vid, rel in paths.items():
            df = con.execute(
                """
                WITH head AS (SELECT time FROM read_parquet(?) ORDER BY time LIMIT 10001),
                p AS (SELECT median(d) AS period FROM (
                        SELECT epoch(time) - lag(epoch(time)) OVER (ORDER BY time) AS d FROM head))
                SELECT date_trunc('day', t.time) AS day,
                       sum(t.truth_w) * any_value(p.period) / 3600 AS truth_wh,
                       sum(t.pred_w) * any_value(p.period) / 3600 AS pred_wh,
                       count(*) * any_value(p.period) / 86400 AS coverage
                FROM read_parquet(?) t CROSS JOIN p
                GROUP BY day ORDER BY day""",
                [str(art / rel)] * 2,
            ).df()
            df["variant_id"] = vid
            out.append(df)
    finally:
        con.close()
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame()
