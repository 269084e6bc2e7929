"""Accuracy beside cost: the tradeoff view, baselines, the leaderboard, the article's published
numbers like for like, and what quantization does to each metric."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from dashboard.queries.common import q
from dashboard.store_reads import cached_read
from store import ids
from store.vocab import (
    ARTICLE_LABELS,
    QUANT_DELTA_METRICS,
    TRACE_SPLIT,
    TRADEOFF_COLUMNS,
    Kind,
    Mode,
    Split,
)

FLOAT_OF_V = ids.float_variant_sql("v.model_id")  # the float model of variant v, in SQL


@cached_read
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


@cached_read
def baselines(store: Path) -> pd.DataFrame:
    """Baselines' metrics on the test split (same windows as the models), one row each."""
    return q(
        store,
        "SELECT * FROM metrics_wide WHERE kind = ? AND split = ? ORDER BY appliance, variant_id",
        [Kind.BASELINE.value, Split.TEST.value],
    )


@cached_read
def best_baselines(store: Path) -> pd.DataFrame:
    """Per appliance, the best baseline on F1, on MAE and on the energy-per-day error: the bar a
    model must clear (the recommendation rule's own query, store/recommend.py)."""
    from store.recommend import BASELINES_SQL

    return q(store, BASELINES_SQL)


@cached_read
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


# our column (a metric or its tradeoff-view column) -> the article's metric (same definition);
# absent: no like-for-like number
ARTICLE_METRICS = {m: m for m in ARTICLE_LABELS} | {
    col: m for col, m in TRADEOFF_COLUMNS.items() if m in ARTICLE_LABELS
}


@cached_read
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


ARTICLE_SPLIT = TRACE_SPLIT  # the article's protocol: a contiguous stretch, duration rules


@cached_read
def article_comparison(store: Path, metric: str) -> pd.DataFrame:
    """The article's value beside ours for one metric with the same definition, per variant.

    Ours come from split ``test_trace`` only: the contiguous stretch of the test house scored
    the article's way (status by its minimum on/off durations, its masked metrics, its hourly
    energy rule). Rows the reference notes mark as errata come back with their note (and no
    plotting value). ``split_rows`` counts the store's rows on that split (0: never scored).
    Our protocol says which stretch and on how many of its windows (a variant
    scored on a sub-sample of the stretch says so); theirs comes from the reference row.
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
               CASE WHEN m.variant_id IS NOT NULL THEN
                 'the article''s protocol on a contiguous stretch of test house '
                 || coalesce(e.test_houses, '?') || ' ('
                 || coalesce(strftime(e.trace_first_time, '%Y-%m-%d %H:%M') || ' .. '
                             || strftime(e.trace_last_time, '%Y-%m-%d %H:%M'), 'times not recorded')
                 || '), ' || coalesce(format('{:,}', m.n_windows), '?') || ' windows'
                 || CASE WHEN m.n_windows < max(m.n_windows) OVER (PARTITION BY r.appliance)
                         THEN ', a sub-sample of the stretch' ELSE '' END
               END AS our_protocol,
               (SELECT count(*) FROM metrics WHERE split = ?) AS split_rows
        FROM reference_results r
        LEFT JOIN variants v ON v.appliance = r.appliance AND v.arch = r.arch AND v.mode = r.mode
        LEFT JOIN metrics m ON m.variant_id = v.variant_id AND m.metric = ? AND m.split = ?
        LEFT JOIN eval_windows e ON e.appliance = r.appliance AND e.split = 'test'
        WHERE r.metric = ? AND r.host IS NULL
        ORDER BY r.appliance, r.arch, r.mode""",
        [ARTICLE_SPLIT, ours, ARTICLE_SPLIT, name],
    )


@cached_read
def mode_deltas(store: Path) -> pd.DataFrame:
    """Each quantized variant minus its float model: the stored paired difference and interval
    when there is one, else the plain difference (``paired`` false: an older store, the two
    values may come from different windows)."""
    return q(
        store,
        f"""
        SELECT v.appliance, v.arch, v.mode, v.variant_id, m.metric,
               coalesce(d.delta, m.value - f.value) AS delta, d.ci_low, d.ci_high, d.distinguishable,
               d.delta IS NOT NULL AS paired
        FROM metrics m JOIN variants v USING (variant_id)
        JOIN metrics f ON f.variant_id = {FLOAT_OF_V} AND f.split = m.split AND f.metric = m.metric
        LEFT JOIN metric_deltas d ON d.variant_id = m.variant_id AND d.split = m.split AND d.metric = m.metric
        WHERE m.split = ? AND v.mode <> ? AND v.kind = ?
          AND list_contains(?, m.metric)""",
        [Split.TEST.value, Mode.KERAS.value, Kind.MODEL.value, list(QUANT_DELTA_METRICS)],
    )


@cached_read
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


@cached_read
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
