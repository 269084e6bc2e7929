"""SQL -> DataFrame. Every function opens a short read-only connection and fully fetches."""

from __future__ import annotations

import threading
from pathlib import Path

import duckdb
import pandas as pd

from store import db

SQL_ROW_LIMIT = 5000
SQL_TIME_LIMIT_S = 10.0
ALLOWED_STATEMENTS = {"SELECT"}


class UserQueryError(ValueError):
    """A query from the SQL page that is refused or fails, with a message for the person."""


def q(store: Path, sql: str, params: list | None = None) -> pd.DataFrame:
    return db.query_df(store, sql, params)


def store_facts(store: Path) -> dict:
    con = db.connect_readonly(store)
    try:
        meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
        meta.update({f"n_{t}": n for t, n in db.table_counts(con).items()})
        last = con.execute(
            "SELECT command, profile, status, finished_at FROM runs ORDER BY started_at DESC LIMIT 1"
        ).fetchall()
        meta["last_run"] = last[0] if last else None
    finally:
        con.close()
    return meta


def tradeoff(store: Path, appliance: str | None = None) -> pd.DataFrame:
    sql = "SELECT * FROM tradeoff"
    params = []
    if appliance:
        sql += " WHERE appliance = ?"
        params.append(appliance)
    return q(store, sql + " ORDER BY variant_id, runtime, threads", params)


def leaderboard(store: Path) -> pd.DataFrame:
    return q(
        store,
        """
        SELECT t.appliance, t.arch, t.mode, t.host, t.runtime, t.threads,
               round(t.f1, 4) AS f1, round(t.mcc, 4) AS mcc, round(t.mae, 2) AS mae_w,
               round(t.sae, 4) AS sae, round(t.nde, 4) AS nde, round(t.epd_error_pct, 2) AS epd_error_pct,
               round(t.latency_ms, 4) AS latency_ms, round(t.ram_mb, 2) AS ram_mb,
               round(t.disk_mb, 3) AS disk_mb, t.xnnpack_partitions, t.variant_id
        FROM tradeoff t ORDER BY appliance, arch, mode, runtime, threads""",
    )


def reference_points(store: Path, metric: str) -> pd.DataFrame:
    """The article's published numbers pivoted to (appliance, arch, mode, host) rows."""
    names = {"mae": "mae_masked", "sae": "sae_masked", "nde": "nde_masked"}
    return q(
        store,
        """
        WITH acc AS (SELECT appliance, arch, mode, value FROM reference_results WHERE metric = ? AND host IS NULL),
             lat AS (SELECT appliance, arch, mode, host, value AS latency_ms FROM reference_results WHERE metric = 'latency_ms'),
             disk AS (SELECT appliance, arch, mode, value AS disk_mb FROM reference_results WHERE metric = 'disk_mb'),
             ram AS (SELECT appliance, arch, mode, host, value AS ram_mb FROM reference_results WHERE metric = 'ram_mb')
        SELECT lat.appliance, lat.arch, lat.mode, lat.host, acc.value AS metric_value, lat.latency_ms,
               ram.ram_mb, disk.disk_mb
        FROM lat JOIN acc USING (appliance, arch, mode)
        LEFT JOIN ram ON ram.appliance = lat.appliance AND ram.arch = lat.arch AND ram.mode = lat.mode AND ram.host = lat.host
        LEFT JOIN disk ON disk.appliance = lat.appliance AND disk.arch = lat.arch AND disk.mode = lat.mode
        WHERE lat.host <> 'edgetpu'""",
        [names.get(metric, metric)],
    )


def variant_ids(store: Path) -> list[str]:
    return q(store, "SELECT variant_id FROM variants WHERE status = 'ok' ORDER BY 1")[
        "variant_id"
    ].tolist()


def variant(store: Path, vid: str) -> dict | None:
    df = q(
        store,
        "SELECT v.*, m.parameters, m.train_config, m.loss_variant, m.profile, m.best_epoch, m.best_val_loss "
        "FROM variants v JOIN models m USING (model_id) WHERE variant_id = ?",
        [vid],
    )
    return None if df.empty else df.iloc[0].to_dict()


def metrics_vs_float(store: Path, vid: str) -> pd.DataFrame:
    return q(
        store,
        """
        SELECT m.metric, m.value, f.value AS float_value, m.value - f.value AS delta, m.reason
        FROM metrics m JOIN variants v USING (variant_id)
        LEFT JOIN metrics f ON f.variant_id = v.model_id || '.keras' AND f.split = m.split AND f.metric = m.metric
        WHERE m.variant_id = ? AND m.split = 'test' ORDER BY m.metric""",
        [vid],
    )


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
    return q(
        store,
        """
        SELECT v.appliance, v.arch, v.mode, m.metric, m.value - f.value AS delta
        FROM metrics m JOIN variants v USING (variant_id)
        JOIN metrics f ON f.variant_id = v.model_id || '.keras' AND f.split = m.split AND f.metric = m.metric
        WHERE m.split = 'test' AND v.mode <> 'keras' AND m.metric IN ('f1', 'mcc', 'mae', 'sae', 'nde', 'epd_error_pct')""",
    )


def trace_variants(store: Path, appliance: str) -> pd.DataFrame:
    return q(
        store,
        "SELECT t.variant_id, t.path, t.rows FROM traces t WHERE appliance = ? ORDER BY 1",
        [appliance],
    )


def appliances(store: Path) -> list[str]:
    return q(store, "SELECT DISTINCT appliance FROM variants ORDER BY 1")["appliance"].tolist()


def trace_window(
    store: Path, paths: dict[str, str], start=None, end=None, points: int = 2000
) -> pd.DataFrame:
    """Aggregate, truth and predictions in [start, end], downsampled on the server.

    Above ``points`` samples the range is cut into points/2 equal time buckets and each bucket
    gives two rows, its minima and its maxima, so spikes survive; the buckets are the same for
    every variant, so their series line up. One GROUP BY per file: fast on millions of rows.
    """
    art = db.artifacts_dir(store)
    frames = []
    con = duckdb.connect()
    try:
        where, bounds = [], []
        if start is not None:
            where.append("time >= ?::TIMESTAMP")
            bounds.append(str(start))
        if end is not None:
            where.append("time <= ?::TIMESTAMP")
            bounds.append(str(end))
        cond = ("WHERE " + " AND ".join(where)) if where else ""
        first = str(art / next(iter(paths.values()))) if paths else None
        n, lo, hi = (
            con.execute(
                f"SELECT count(*), epoch(min(time)), epoch(max(time)) FROM read_parquet(?) {cond}",
                [first, *bounds],
            ).fetchall()[0]
            if first
            else (0, None, None)
        )
        for i, (vid, rel) in enumerate(paths.items()):
            cols = (
                ["aggregate_w", "truth_w", "pred_w", "truth_on", "pred_on"]
                if i == 0
                else ["pred_w", "pred_on"]
            )
            params = [str(art / rel), *bounds]
            if n > points and hi > lo:
                width = (hi - lo) / max(points // 2, 1)
                k = f"floor((epoch(time) - {lo}) / {width})"

                def agg(fn, offset, cols=cols, k=k, width=width):
                    values = ", ".join(f"{fn}({c}) AS {c}" for c in cols)
                    return (
                        f"SELECT make_timestamp(CAST(({lo} + ({k} + {offset}) * {width}) * 1e6 AS BIGINT)) AS time, "
                        f"{values} FROM read_parquet(?) {cond} GROUP BY {k}"
                    )

                sql = f"{agg('min', 0.0)} UNION ALL {agg('max', 0.5)} ORDER BY time"
                df = con.execute(sql, params + params).df()
            else:
                df = con.execute(
                    f"SELECT time, {', '.join(cols)} FROM read_parquet(?) {cond} ORDER BY time",
                    params,
                ).df()
            df = df.rename(columns={"pred_w": vid, "pred_on": f"{vid}__on"})
            frames.append(df.set_index("time"))
    finally:
        con.close()
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, axis=1).sort_index().reset_index()


def daily_energy(store: Path, paths: dict[str, str]) -> pd.DataFrame:
    art = db.artifacts_dir(store)
    con = duckdb.connect()
    try:
        out = []
        for vid, rel in paths.items():
            df = con.execute(
                """
                SELECT date_trunc('day', time) AS day,
                       sum(truth_w) * median_period / 3600 AS truth_wh,
                       sum(pred_w) * median_period / 3600 AS pred_wh
                FROM (SELECT *, (SELECT median(d) FROM (SELECT epoch(time) - lag(epoch(time)) OVER (ORDER BY time) AS d FROM read_parquet(?))) AS median_period
                      FROM read_parquet(?))
                GROUP BY ALL ORDER BY day""",
                [str(art / rel)] * 2,
            ).df()
            df["variant_id"] = vid
            out.append(df)
    finally:
        con.close()
    return pd.concat(out) if out else pd.DataFrame()


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


def run_user_sql(
    store: Path, sql: str, limit: int = SQL_ROW_LIMIT, timeout_s: float = SQL_TIME_LIMIT_S
) -> pd.DataFrame:
    """One read statement, no file or network access, a row limit and a time limit."""
    text = (sql or "").strip().rstrip(";").strip()
    if not text:
        raise UserQueryError("empty query")
    try:
        statements = duckdb.extract_statements(text)
    except duckdb.Error as exc:
        raise UserQueryError(f"syntax error: {exc}") from exc
    if len(statements) != 1:
        raise UserQueryError(f"one statement at a time, got {len(statements)}")
    kind = statements[0].type.name
    if kind not in ALLOWED_STATEMENTS:
        raise UserQueryError(f"only read queries (SELECT/WITH) are allowed here, not {kind}")
    con = duckdb.connect(
        str(store),
        read_only=True,
        config={"enable_external_access": False, "lock_configuration": True},
    )
    timer = threading.Timer(timeout_s, con.interrupt)
    timer.start()
    try:
        return con.execute(f"SELECT * FROM ({text}) AS user_query LIMIT {int(limit)}").df()
    except duckdb.InterruptException as exc:
        raise UserQueryError(f"query stopped after {timeout_s:.0f} s") from exc
    except duckdb.Error as exc:
        raise UserQueryError(f"{type(exc).__name__}: {str(exc).splitlines()[0]}") from exc
    finally:
        timer.cancel()
        con.close()
