"""SQL -> DataFrame. Every function opens a short read-only connection and fully fetches."""

from __future__ import annotations

import contextlib
import contextvars
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from store import db, recommend

SQL_ROW_LIMIT = 5000
SQL_TIME_LIMIT_S = 10.0


class UserQueryError(ValueError):
    """A query from the SQL page that is refused or fails, with a message for the person."""


_SESSION: contextvars.ContextVar = contextvars.ContextVar("store_session", default=None)


@contextlib.contextmanager
def session(store: Path):
    """One short read-only connection for everything a callback reads (a cursor per query).

    Opening the file and checking its schema version costs more than most queries; a page that
    runs ten of them opens it once. Without a session each query opens its own connection.
    """
    try:
        con = db.connect_readonly(store)
    except db.StoreError:
        yield None  # the queries themselves will raise it, with its message, inside guarded()
        return
    token = _SESSION.set((str(store), con))
    try:
        yield con
    finally:
        _SESSION.reset(token)
        con.close()


@contextlib.contextmanager
def reading(store: Path):
    """The session's cursor when one is open for this store, else a fresh connection."""
    current = _SESSION.get()
    if current is not None and current[0] == str(store):
        cur = current[1].cursor()
        try:
            yield cur
        finally:
            cur.close()
        return
    con = db.connect_readonly(store)
    try:
        yield con
    finally:
        con.close()


def q(store: Path, sql: str, params: list | None = None) -> pd.DataFrame:
    with reading(store) as con:
        return con.execute(sql, params or []).df()


def store_facts(store: Path) -> dict:
    with reading(store) as con:
        meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
        meta.update({f"n_{t}": n for t, n in db.table_counts(con).items()})
        last = con.execute(
            "SELECT command, profile, status, finished_at FROM runs ORDER BY started_at DESC LIMIT 1"
        ).fetchall()
        meta["last_run"] = last[0] if last else None
    return meta


def device_key(host: str, runtime: str, threads) -> str:
    return f"{host}|{runtime}|{int(threads)}"


def parse_device(key: str | None) -> tuple[str, str, int] | None:
    try:
        host, runtime, threads = (key or "").rsplit("|", 2)
        return host, runtime, int(threads)
    except ValueError:
        return None


def device_label(host: str, runtime: str, threads, machine=None) -> str:
    arch = f" ({machine})" if isinstance(machine, str) and machine else ""
    return f"{host}{arch} · {runtime} · {int(threads)} thread{'s' if int(threads) != 1 else ''}"


def devices(store: Path) -> pd.DataFrame:
    """Every device (host x runtime x threads) with measured variants, most variants first."""
    with reading(store) as con:
        df = recommend.devices(con)
    if df.empty:
        return df.assign(key=[], label=[])
    return df.assign(
        key=[device_key(h, r, t) for h, r, t in zip(df.host, df.runtime, df.threads, strict=True)],
        label=[
            device_label(h, r, t, m)
            for h, r, t, m in zip(df.host, df.runtime, df.threads, df.machine, strict=True)
        ],
    )


def cost_ranges(store: Path) -> dict[str, tuple[float | None, float | None]]:
    """Smallest and largest latency, RAM and disk over every device: the budget sliders' span."""
    df = q(
        store,
        "SELECT min(latency_ms) AS a, max(latency_ms) AS b, min(ram_mb) AS c, max(ram_mb) AS d, "
        "min(disk_mb) AS e, max(disk_mb) AS f FROM tradeoff",
    )
    r = df.iloc[0].tolist()
    return {"latency_ms": (r[0], r[1]), "ram_mb": (r[2], r[3]), "disk_mb": (r[4], r[5])}


def recommendation_inputs(
    store: Path, host: str, runtime: str, threads: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The recommendation rule's inputs for one device (store/recommend.py holds the SQL)."""
    with reading(store) as con:
        return recommend.load(con, host, runtime, threads)


def tradeoff(
    store: Path, appliance: str | None = None, device: tuple[str, str, int] | None = None
) -> pd.DataFrame:
    sql = "SELECT * FROM tradeoff WHERE true"
    params: list = []
    if appliance:
        sql += " AND appliance = ?"
        params.append(appliance)
    if device:
        sql += " AND host = ? AND runtime = ? AND threads = ?"
        params += [device[0], device[1], int(device[2])]
    return q(store, sql + " ORDER BY appliance, variant_id, runtime, threads", params)


def baselines(store: Path) -> pd.DataFrame:
    """Baselines' metrics on the test split (same windows as the models), one row each."""
    return q(
        store,
        "SELECT * FROM metrics_wide WHERE kind = 'baseline' AND split = 'test' "
        "ORDER BY appliance, variant_id",
    )


def leaderboard(store: Path, device: tuple[str, str, int] | None = None) -> pd.DataFrame:
    """Models measured on the device beside the baselines scored on the same windows."""
    cond, params = "", []
    if device:
        cond = "WHERE t.host = ? AND t.runtime = ? AND t.threads = ?"
        params = [device[0], device[1], int(device[2])]
    return q(
        store,
        f"""
        SELECT t.appliance, t.arch, t.mode, 'model' AS kind, t.host, t.runtime, t.threads,
               t.f1, t.f1_lo, t.f1_hi, t.mcc, t.mcc_lo, t.mcc_hi, t.mae_w, t.mae_lo_w, t.mae_hi_w,
               t.sae, t.nde, t.epd_error_pct, t.latency_ms, t.ram_mb, t.disk_mb,
               t.xnnpack_partitions, coalesce(t.under_trained, false) AS under_trained, t.variant_id
        FROM tradeoff t {cond}
        UNION ALL BY NAME
        SELECT b.appliance, b.arch, b.mode, 'baseline' AS kind,
               b.f1, b.f1_lo, b.f1_hi, b.mcc, b.mcc_lo, b.mcc_hi,
               b.mae AS mae_w, b.mae_lo AS mae_lo_w, b.mae_hi AS mae_hi_w,
               b.sae, b.nde, b.epd_error_pct, false AS under_trained, b.variant_id
        FROM metrics_wide b WHERE b.kind = 'baseline' AND b.split = 'test'
        ORDER BY appliance, kind DESC, arch, mode""",
        params,
    )


ARTICLE_METRICS = {
    # our column -> the article's metric (same definition); absent: no like-for-like number
    "f1": "f1",
    "mcc": "mcc",
    "acc": "acc",
    "mae_masked": "mae_masked",
    "mae_masked_w": "mae_masked",
    "sae_masked": "sae_masked",
    "nde_masked": "nde_masked",
    "epd_article_error_pct": "epd_article_error_pct",
}


def reference_points(store: Path, metric: str) -> pd.DataFrame:
    """The article's published accuracy beside its latency, RAM and disk, like for like.

    Only the metric with the same definition as ours (the article's MAE/SAE/NDE are the
    status-masked ones); values the reference notes mark as errata are left out; each row keeps
    its protocol (conditions) so a plot can say it.
    """
    name = ARTICLE_METRICS.get(metric)
    if name is None:
        return pd.DataFrame(
            columns=["appliance", "arch", "mode", "host", "metric_value", "latency_ms"]
        )
    return q(
        store,
        """
        WITH r AS (SELECT * FROM reference_results WHERE note IS NULL),
             acc AS (SELECT appliance, arch, mode, value, conditions FROM r WHERE metric = ? AND host IS NULL),
             lat AS (SELECT appliance, arch, mode, host, value AS latency_ms, conditions AS latency_conditions
                     FROM r WHERE metric = 'latency_ms'),
             disk AS (SELECT appliance, arch, mode, value AS disk_mb FROM r WHERE metric = 'disk_mb'),
             ram AS (SELECT appliance, arch, mode, host, value AS ram_mb FROM r WHERE metric = 'ram_mb')
        SELECT lat.appliance, lat.arch, lat.mode, lat.host, acc.value AS metric_value, lat.latency_ms,
               ram.ram_mb, disk.disk_mb, acc.conditions, lat.latency_conditions
        FROM lat JOIN acc USING (appliance, arch, mode)
        LEFT JOIN ram ON ram.appliance = lat.appliance AND ram.arch = lat.arch AND ram.mode = lat.mode AND ram.host = lat.host
        LEFT JOIN disk ON disk.appliance = lat.appliance AND disk.arch = lat.arch AND disk.mode = lat.mode
        WHERE lat.host <> 'edgetpu' ORDER BY ALL""",
        [name],
    )


def article_comparison(store: Path, metric: str, split: str = "test") -> pd.DataFrame:
    """The article's value beside ours for one metric with the same definition, per variant.

    Rows the reference notes mark as errata come back with their note (and no plotting value).
    Our protocol comes from eval_windows, theirs from the reference row's conditions.
    """
    name = ARTICLE_METRICS.get(metric)
    if name is None:
        return pd.DataFrame()
    ours = metric.removesuffix("_w")
    return q(
        store,
        """
        SELECT r.appliance, r.arch, r.mode, r.table_ref, r.value AS article_value, r.conditions AS article_protocol,
               r.note, m.variant_id, m.value AS our_value, m.ci_low AS our_lo, m.ci_high AS our_hi,
               m.n_windows AS our_windows,
               e.protocol || ', ' || coalesce(e.population_windows::VARCHAR || ' windows in the test span', '?')
                 || ', test house ' || coalesce(e.test_houses, '?') AS our_protocol
        FROM reference_results r
        LEFT JOIN variants v ON v.appliance = r.appliance AND v.arch = r.arch AND v.mode = r.mode
        LEFT JOIN metrics m ON m.variant_id = v.variant_id AND m.metric = ? AND m.split = ?
        LEFT JOIN eval_windows e ON e.appliance = r.appliance AND e.split = 'test'
        WHERE r.metric = ? AND r.host IS NULL
        ORDER BY r.appliance, r.arch, r.mode""",
        [ours, split, name],
    )


def variant_ids(store: Path) -> list[str]:
    return q(store, "SELECT variant_id FROM variants WHERE status = 'ok' ORDER BY 1")[
        "variant_id"
    ].tolist()


def variant_options(store: Path) -> pd.DataFrame:
    return q(
        store,
        "SELECT variant_id, appliance, arch, mode, kind FROM variants WHERE status = 'ok' "
        "ORDER BY kind DESC, appliance, arch, mode",
    )


def variant(store: Path, vid: str) -> dict | None:
    df = q(
        store,
        "SELECT v.*, m.parameters, m.train_config, m.loss_variant, m.profile, m.best_epoch, "
        "m.best_val_loss, m.under_trained, m.stop_reason, m.artifact_path AS keras_path, "
        "m.sha256 AS keras_sha256 "
        "FROM variants v LEFT JOIN models m USING (model_id) WHERE variant_id = ?",
        [vid],
    )
    return None if df.empty else df.iloc[0].to_dict()


def metrics_vs_float(store: Path, vid: str) -> pd.DataFrame:
    """Each test metric with its interval, the float model's value and the paired difference.

    Without a stored paired interval (older stores) the difference is the plain one and
    delta_lo/delta_hi are NULL.
    """
    return q(
        store,
        """
        SELECT m.metric, m.value, m.ci_low, m.ci_high, m.n_windows, m.reason,
               f.value AS float_value,
               coalesce(d.delta, CASE WHEN v.mode <> 'keras' THEN m.value - f.value END) AS delta,
               d.ci_low AS delta_lo, d.ci_high AS delta_hi, d.distinguishable
        FROM metrics m JOIN variants v USING (variant_id)
        LEFT JOIN metrics f ON f.variant_id = v.model_id || '.keras' AND f.split = m.split AND f.metric = m.metric
        LEFT JOIN metric_deltas d ON d.variant_id = m.variant_id AND d.split = m.split AND d.metric = m.metric
        WHERE m.variant_id = ? AND m.split = 'test' ORDER BY m.metric""",
        [vid],
    )


def kernels(store: Path, vid: str) -> dict:
    """Which kernels a variant runs on: evaluation interpreter, XNNPACK partitions, profiled ops."""
    with reading(store) as con:
        ev = con.execute(
            "SELECT runtime, xnnpack, subset, n_windows, file_sha256 FROM evaluations "
            "WHERE variant_id = ? AND split = 'test'",
            [vid],
        ).df()
        ops = con.execute(
            "SELECT count(*) FILTER (WHERE xnnpack) AS xnnpack_ops, "
            "count(*) FILTER (WHERE NOT xnnpack) AS builtin_ops, "
            "count(*) FILTER (WHERE xnnpack IS NULL) AS unknown_ops, any_value(host) AS host "
            "FROM op_profile WHERE variant_id = ?",
            [vid],
        ).df()
    return {
        "evaluation": ev.iloc[0].to_dict() if len(ev) else None,
        "ops": ops.iloc[0].to_dict() if len(ops) else None,
    }


def download_path(store: Path, vid: str, kind: str) -> tuple[Path, str] | None:
    """The file a variant's page may offer for download, or None.

    Only paths the store itself references (the variant's .tflite, its model's .keras) and only
    inside the artifacts folder: nothing else on the disk can be fetched through this.
    """
    column = {"tflite": ("v.file_path", "v.sha256"), "keras": ("m.artifact_path", "m.sha256")}
    if kind not in column:
        return None
    path_col, sha_col = column[kind]
    df = q(
        store,
        f"SELECT {path_col} AS path, {sha_col} AS sha256 FROM variants v "
        "LEFT JOIN models m USING (model_id) WHERE v.variant_id = ?",
        [vid],
    )
    if df.empty or not isinstance(df["path"].iloc[0], str):
        return None
    art = db.artifacts_dir(store).resolve()
    path = (art / df["path"].iloc[0]).resolve()
    if not path.is_relative_to(art) or not path.is_file():
        return None
    return path, df["sha256"].iloc[0]


def compare(store: Path, ids: list[str], device: tuple[str, str, int] | None) -> pd.DataFrame:
    """Metrics with intervals and the device's latency/RAM/disk of several variants, one row each."""
    if not ids:
        return pd.DataFrame()
    host, runtime, threads = device or (None, None, None)
    return q(
        store,
        """
        SELECT w.variant_id, w.appliance, w.arch, w.mode, w.kind,
               w.f1, w.f1_lo, w.f1_hi, w.mcc, w.mcc_lo, w.mcc_hi, w.mae, w.mae_lo, w.mae_hi,
               w.mae_masked, w.mae_masked_lo, w.mae_masked_hi, w.sae, w.nde, w.epd_error_pct,
               w.epd_error_pct_lo, w.epd_error_pct_hi, w.n_windows,
               l.median_ms AS latency_ms, mp.peak_delta_mb AS ram_mb, v.file_bytes / 1e6 AS disk_mb,
               v.xnnpack_partitions, md.under_trained
        FROM metrics_wide w JOIN variants v USING (variant_id)
        LEFT JOIN models md ON md.model_id = v.model_id
        LEFT JOIN latency l ON l.variant_id = w.variant_id AND l.host = ? AND l.runtime = ?
             AND l.threads = ? AND l.batch = 1 AND l.xnnpack AND l.error IS NULL
        LEFT JOIN memory_peak mp ON mp.variant_id = w.variant_id AND mp.host = ? AND mp.runtime = ? AND mp.xnnpack
        WHERE w.split = 'test' AND list_contains(?, w.variant_id)""",
        [host, runtime, threads, host, runtime, ids],
    )


def compare_ops(store: Path, ids: list[str]) -> pd.DataFrame:
    """Per-op-type profile (1 thread, first host that has one) of several variants."""
    if not ids:
        return pd.DataFrame()
    return q(
        store,
        """
        SELECT variant_id, op_type, coalesce(xnnpack, false) AS xnnpack, sum(total_ms) AS total_ms
        FROM op_type_summary WHERE threads = 1 AND list_contains(?, variant_id)
        GROUP BY ALL ORDER BY variant_id, total_ms DESC""",
        [ids],
    )


def suspect_threshold(store: Path) -> float | None:
    """The rmse/scale threshold the last conversion used, from its run's recorded config."""
    df = q(
        store,
        """
        SELECT coalesce(try_cast(json_extract_string(config, '$.suspect_threshold') AS DOUBLE),
                        try_cast(json_extract_string(config, '$.profile.suspect_threshold') AS DOUBLE)) AS t
        FROM runs WHERE command IN ('all', 'convert') ORDER BY started_at DESC""",
    )
    values = df["t"].dropna()
    return float(values.iloc[0]) if len(values) else None


def op_profile(store: Path, vid: str) -> pd.DataFrame:
    return q(
        store,
        "SELECT * FROM op_profile WHERE variant_id = ? AND threads = 1 ORDER BY host, node_index",
        [vid],
    )


def op_totals(store: Path, vid: str) -> pd.DataFrame:
    return q(store, "SELECT * FROM op_profile_totals WHERE variant_id = ?", [vid])


def layer_stats(store: Path, vid: str) -> pd.DataFrame:
    return q(
        store, "SELECT * FROM quant_layer_stats WHERE variant_id = ? ORDER BY layer_index", [vid]
    )


def memory(store: Path, vid: str) -> pd.DataFrame:
    return q(
        store, "SELECT * FROM memory WHERE variant_id = ? ORDER BY xnnpack DESC, runtime", [vid]
    )


def census(store: Path, vid: str) -> pd.DataFrame:
    return q(
        store,
        "SELECT op_type, input_dtypes, output_dtypes, count FROM op_census WHERE variant_id = ? ORDER BY op_type",
        [vid],
    )


def history(store: Path, model_id: str) -> pd.DataFrame:
    return q(store, "SELECT * FROM training_history WHERE model_id = ? ORDER BY epoch", [model_id])


def latency(store: Path, vid: str) -> pd.DataFrame:
    return q(
        store,
        "SELECT host, runtime, threads, xnnpack, batch, runs, median_ms, p90_ms, error FROM latency WHERE variant_id = ? ORDER BY ALL",
        [vid],
    )


def layer_error_summary(store: Path) -> pd.DataFrame:
    return q(
        store,
        """
        SELECT v.arch, v.appliance, v.mode, s.op_name, count(*) AS tensors,
               avg(s.rmse_scale) AS mean_rmse_scale, max(s.rmse_scale) AS max_rmse_scale,
               sum(CASE WHEN s.suspect THEN 1 ELSE 0 END) AS suspects
        FROM quant_layer_stats s JOIN variants v USING (variant_id)
        GROUP BY ALL ORDER BY arch, appliance, mode, op_name""",
    )


def mode_deltas(store: Path) -> pd.DataFrame:
    """Each quantized variant minus its float model: the stored paired difference and interval
    when there is one, else the plain difference (``paired`` false: an older store, the two
    values may come from different windows)."""
    return q(
        store,
        """
        SELECT v.appliance, v.arch, v.mode, v.variant_id, m.metric,
               coalesce(d.delta, m.value - f.value) AS delta, d.ci_low, d.ci_high, d.distinguishable,
               d.delta IS NOT NULL AS paired
        FROM metrics m JOIN variants v USING (variant_id)
        JOIN metrics f ON f.variant_id = v.model_id || '.keras' AND f.split = m.split AND f.metric = m.metric
        LEFT JOIN metric_deltas d ON d.variant_id = m.variant_id AND d.split = m.split AND d.metric = m.metric
        WHERE m.split = 'test' AND v.mode <> 'keras' AND v.kind = 'model'
          AND m.metric IN ('f1', 'mcc', 'mae', 'sae', 'nde', 'epd_error_pct')""",
    )


def trace_variants(store: Path, appliance: str) -> pd.DataFrame:
    return q(
        store,
        "SELECT t.variant_id, t.path, t.rows FROM traces t WHERE appliance = ? ORDER BY 1",
        [appliance],
    )


def appliances(store: Path) -> list[str]:
    return q(store, "SELECT DISTINCT appliance FROM variants ORDER BY 1")["appliance"].tolist()


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


def schema(store: Path) -> pd.DataFrame:
    return q(
        store,
        """
        SELECT c.table_name, c.column_name, c.data_type, c.comment AS column_comment,
               coalesce(t.comment, v.comment) AS table_comment
        FROM duckdb_columns() c
        LEFT JOIN duckdb_tables() t ON t.table_name = c.table_name
        LEFT JOIN duckdb_views() v ON v.view_name = c.table_name
        WHERE c.schema_name = 'main' AND NOT c.internal ORDER BY c.table_name, c.column_index""",
    )


SQL_MAX_BYTES = 20_000_000  # the SQL page's result bound (Arrow bytes); exports use the CLI


def run_user_sql(
    store: Path,
    sql: str,
    limit: int = SQL_ROW_LIMIT,
    timeout_s: float = SQL_TIME_LIMIT_S,
    max_bytes: int = SQL_MAX_BYTES,
) -> pd.DataFrame:
    """One read statement, no file or network access, limits on rows, bytes and time.

    The rules are store.safe_sql's (shared with `pipeline sql`); the query runs in a child
    process so it never shares this server's DuckDB instance with the other pages' reads.
    ``df.attrs["truncated"]`` says whether rows were cut at ``limit``.
    """
    from store import safe_sql

    try:
        res = safe_sql.run_query_isolated(
            store, sql, row_limit=int(limit), timeout_s=timeout_s, max_bytes=max_bytes
        )
    except safe_sql.UnsafeQueryError as exc:
        raise UserQueryError(str(exc)) from exc
    return res.to_df()
