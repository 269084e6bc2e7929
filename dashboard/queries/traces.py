"""Disaggregation traces: which variants have one, a window of it downsampled on the server, and
energy per calendar day. Traces are Parquet artifacts beside the store, read with Arrow."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from dashboard.queries.common import q
from dashboard.store_reads import cached_read
from store import db
from store.vocab import TRACE_SPLIT, Baseline, Kind


@cached_read
def trace_variants(store: Path, appliance: str) -> pd.DataFrame:
    """The appliance's variants with a trace file, and the windows of the stretch each one's
    test_trace metrics were computed on (``trace_windows``) beside the most any of them had
    (``stretch_windows``): fewer means the variant was scored on a sub-sample of it."""
    return q(
        store,
        """
        WITH n AS (
            SELECT variant_id, max(n_windows) AS trace_windows
            FROM metrics WHERE split = ? GROUP BY variant_id
        )
        SELECT t.variant_id, t.path, t.rows, n.trace_windows,
               max(n.trace_windows) OVER () AS stretch_windows
        FROM traces t LEFT JOIN n USING (variant_id)
        WHERE t.appliance = ? ORDER BY 1""",
        [TRACE_SPLIT, appliance],
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
def trace_baselines(store: Path, appliance: str) -> pd.DataFrame:
    """The appliance's baselines and, for the constant rules, the power they predict (W):
    always_off 0 W, mean_power the training split's mean (its recorded training power).
    aggregate_threshold depends on each window's aggregate: no trace can be drawn for it."""
    df = q(
        store,
        "SELECT variant_id, mode, converter_settings FROM variants "
        "WHERE kind = ? AND appliance = ? AND status = 'ok' ORDER BY 1",
        [Kind.BASELINE.value, appliance],
    )
    power = []
    for mode, settings in zip(df["mode"], df["converter_settings"], strict=True):
        try:
            train = json.loads(settings or "{}").get("training_power_w") or {}
        except (TypeError, ValueError):
            train = {}
        power.append(
            0.0
            if mode == Baseline.ALWAYS_OFF
            else train.get("mean")
            if mode == Baseline.MEAN_POWER
            else None
        )
    return df.drop(columns="converter_settings").assign(power_w=power)


@cached_read
def trace_span(store: Path, rel: str) -> dict:
    """First and last time stamp of a trace and its sample period (s), from the file's row-group
    statistics and its first samples (the whole file is not read)."""
    import pyarrow.parquet as pq

    f = pq.ParquetFile(db.artifacts_dir(store) / rel)
    col = f.schema_arrow.get_field_index("time")
    stats = [f.metadata.row_group(i).column(col).statistics for i in range(f.num_row_groups)]
    lo = min(pd.Timestamp(st.min) for st in stats if st is not None and st.has_min_max)
    hi = max(pd.Timestamp(st.max) for st in stats if st is not None and st.has_min_max)
    head = f.read_row_group(0, columns=["time"]).column(0).to_numpy()[:10001]
    return {"start": lo, "end": hi, "period_s": _period_s(head)}


def _period_s(t: np.ndarray) -> float:
    """The median sample period (s) of time stamps t (NaN with fewer than two)."""
    if len(t) < 2:
        return float("nan")
    return float(np.median(np.diff(t).astype("timedelta64[ns]").astype(np.int64)) / 1e9)


def _downsampled(t: np.ndarray, v: np.ndarray, name: str, points: int) -> pd.Series:
    if len(t) > points:
        t, v = _bucket_extremes(t, v, max(points // 2, 1))
    return pd.Series(v.astype(np.float64), index=pd.DatetimeIndex(t), name=name)


@cached_read
def trace_window(
    store: Path,
    paths: dict[str, str],
    start=None,
    end=None,
    points: int = 2000,
    constants: dict[str, float] | None = None,
) -> pd.DataFrame:
    """Aggregate, truth and predictions in [start, end], downsampled on the server.

    Above ``points`` samples the stretch is cut into points/2 buckets of equal sample count;
    each gives, for every series, its minimum and its maximum, each at the time it happened, so
    spikes survive and stay where they were. Series therefore have their own time stamps: the
    frame is their outer join on time, NaN where a series has no point. Parquet is read with
    Arrow (row groups outside [start, end] are skipped) and reduced with numpy: a 5 M-sample
    trace takes a fraction of a second. ``constants`` adds rule baselines that predict one
    power throughout (drawn at the window's ends).

    ``attrs["energy_wh"]`` holds each series' energy over the window from every sample (sum of
    power times the median sample period), ``attrs["hours"]`` the window's length, and
    ``attrs["energy_span"]`` per predicted series the truth's energy over the samples that series
    covers and their hours (a variant scored on a sub-sample predicts only the first part of
    the stretch: its error is against the truth of that part, never of the whole window).
    """
    import pyarrow.parquet as pq

    art = db.artifacts_dir(store)
    filters = []
    if start is not None:
        filters.append(("time", ">=", pd.Timestamp(start)))
    if end is not None:
        filters.append(("time", "<=", pd.Timestamp(end)))
    series: list[pd.Series] = []
    energy: dict[str, float] = {}
    span: dict[str, tuple[float, float]] = {}
    t0 = period = None
    n = 0
    # the longest file first: the aggregate, the truth and the window's length come from it
    # (a variant scored on a sub-sample predicts only the start of the stretch)
    rows = {vid: pq.ParquetFile(art / rel).metadata.num_rows for vid, rel in paths.items()}
    ordered = sorted(paths.items(), key=lambda kv: -rows[kv[0]])
    for i, (vid, rel) in enumerate(ordered):
        cols = ["aggregate_w", "truth_w", "pred_w", "truth_on"] if i == 0 else ["pred_w"]
        table = pq.read_table(art / rel, columns=["time", *cols], filters=filters or None)
        t = table.column("time").to_numpy()
        if i == 0:
            t0, n, period = t, len(t), _period_s(t[:10001])
            truth0 = table.column("truth_w").to_numpy(zero_copy_only=False)
        # the truth over this file's samples: the longest file's, on the same time grid
        lo, hi = np.searchsorted(t0, t[[0, -1]], side="left") if len(t) else (0, -1)
        span[vid] = (_wh(truth0[lo : hi + 1], period), len(t) * period / 3600)
        for c in cols:
            v = table.column(c).to_numpy(zero_copy_only=False)
            name = vid if c == "pred_w" else c
            if c in ("truth_w", "pred_w"):
                energy["ground truth" if c == "truth_w" else vid] = _wh(v, period)
            series.append(_downsampled(t, v, name, points))
    if not series or not len(series[0]):
        return pd.DataFrame()
    for vid, w in (constants or {}).items():
        series.append(pd.Series([w, w], index=pd.DatetimeIndex([t0[0], t0[-1]]), name=vid))
        energy[vid] = float(w) * n * period / 3600
    out = pd.concat(series, axis=1, sort=False).sort_index()
    out.index.name = "time"
    out = out.reset_index()
    out.attrs["energy_wh"] = energy
    out.attrs["hours"] = n * period / 3600 if n else 0.0
    out.attrs["energy_span"] = span
    return out


def _wh(v: np.ndarray, period_s: float) -> float:
    return float(np.nansum(v, dtype=np.float64) * period_s / 3600)


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
