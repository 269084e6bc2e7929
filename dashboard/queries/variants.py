"""One variant (files, kernels, metrics against its float model, latency, profiles) and several
side by side."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from dashboard.queries.common import q
from dashboard.store_reads import cached_read, reading
from store import db, ids

FLOAT_OF_V = ids.float_variant_sql("v.model_id")  # the float model of variant v, in SQL


@cached_read
def variant_ids(store: Path) -> list[str]:
    return q(store, "SELECT variant_id FROM variants WHERE status = 'ok' ORDER BY 1")[
        "variant_id"
    ].tolist()


@cached_read
def variant_options(store: Path) -> pd.DataFrame:
    return q(
        store,
        "SELECT variant_id, appliance, arch, mode, kind FROM variants WHERE status = 'ok' "
        "ORDER BY kind DESC, appliance, arch, mode",
    )


@cached_read
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


@cached_read
def per_house(store: Path, vid: str) -> pd.DataFrame:
    """One row per test house (when the test span holds several): F1, MCC and MAE with
    intervals, from the split test@house<N>."""
    long = q(
        store,
        "SELECT split, metric, value, ci_low, ci_high, n_windows FROM metrics "
        "WHERE variant_id = ? AND split LIKE ? AND metric IN ('f1', 'mcc', 'mae') "
        "ORDER BY split",
        [vid, ids.HOUSE_SPLIT_LIKE],
    )
    if long.empty:
        return long
    rows = []
    for split, g in long.groupby("split", sort=True):
        row = {"house": ids.house_of_split(split), "n_windows": g["n_windows"].max()}
        for _, m in g.iterrows():
            row |= {m.metric: m.value, f"{m.metric}_lo": m.ci_low, f"{m.metric}_hi": m.ci_high}
        rows.append(row)
    return pd.DataFrame(rows)


@cached_read
def metrics_vs_float(store: Path, vid: str) -> pd.DataFrame:
    """Each test metric with its interval, the float model's value and the paired difference.

    Without a stored paired interval (older stores) the difference is the plain one and
    delta_lo/delta_hi are NULL.
    """
    return q(
        store,
        f"""
        SELECT m.metric, m.value, m.ci_low, m.ci_high, m.n_windows, m.reason,
               f.value AS float_value,
               coalesce(d.delta, CASE WHEN v.mode <> 'keras' THEN m.value - f.value END) AS delta,
               d.ci_low AS delta_lo, d.ci_high AS delta_hi, d.distinguishable
        FROM metrics m JOIN variants v USING (variant_id)
        LEFT JOIN metrics f ON f.variant_id = {FLOAT_OF_V} AND f.split = m.split AND f.metric = m.metric
        LEFT JOIN metric_deltas d ON d.variant_id = m.variant_id AND d.split = m.split AND d.metric = m.metric
        WHERE m.variant_id = ? AND m.split = 'test' ORDER BY m.metric""",
        [vid],
    )


@cached_read
def kernels(store: Path, vid: str) -> dict:
    """Which kernels a variant runs on: evaluation interpreter, XNNPACK partitions, profiled ops."""
    with reading(store) as con:
        ev = con.execute(
            "SELECT * FROM evaluations "  # on_windows where the store has it
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
        scored = con.execute(
            "SELECT n_windows FROM metrics WHERE variant_id = ? AND split = 'test' "
            "AND metric = 'f1'",
            [vid],
        ).fetchall()
    if len(ev) and scored and scored[0][0] is not None:
        # the windows the metrics are computed on (the evaluation's own statement), not every
        # window the interpreter ran on
        ev = ev.assign(n_windows_run=ev["n_windows"], n_windows=int(scored[0][0]))
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


@cached_read
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
               v.xnnpack_partitions, md.under_trained,
               d.delta AS f1_delta, d.ci_low AS f1_delta_lo, d.ci_high AS f1_delta_hi
        FROM metrics_wide w JOIN variants v USING (variant_id)
        LEFT JOIN models md ON md.model_id = v.model_id
        LEFT JOIN metric_deltas d ON d.variant_id = w.variant_id AND d.split = 'test' AND d.metric = 'f1'
        LEFT JOIN latency l ON l.variant_id = w.variant_id AND l.host = ? AND l.runtime = ?
             AND l.threads = ? AND l.batch = 1 AND l.xnnpack AND l.error IS NULL
        LEFT JOIN memory_peak mp ON mp.variant_id = w.variant_id AND mp.host = ? AND mp.runtime = ? AND mp.xnnpack
        WHERE w.split = 'test' AND list_contains(?, w.variant_id)""",
        [host, runtime, threads, host, runtime, ids],
    )


@cached_read
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


@cached_read
def op_profile(store: Path, vid: str) -> pd.DataFrame:
    return q(
        store,
        "SELECT * FROM op_profile WHERE variant_id = ? AND threads = 1 ORDER BY host, node_index",
        [vid],
    )


@cached_read
def op_totals(store: Path, vid: str) -> pd.DataFrame:
    return q(store, "SELECT * FROM op_profile_totals WHERE variant_id = ?", [vid])


@cached_read
def layer_stats(store: Path, vid: str) -> pd.DataFrame:
    return q(
        store, "SELECT * FROM quant_layer_stats WHERE variant_id = ? ORDER BY layer_index", [vid]
    )


@cached_read
def memory(store: Path, vid: str) -> pd.DataFrame:
    return q(
        store, "SELECT * FROM memory WHERE variant_id = ? ORDER BY xnnpack DESC, runtime", [vid]
    )


@cached_read
def census(store: Path, vid: str) -> pd.DataFrame:
    return q(
        store,
        "SELECT op_type, input_dtypes, output_dtypes, count FROM op_census WHERE variant_id = ? ORDER BY op_type",
        [vid],
    )


@cached_read
def history(store: Path, model_id: str) -> pd.DataFrame:
    return q(store, "SELECT * FROM training_history WHERE model_id = ? ORDER BY epoch", [model_id])


@cached_read
def latency(store: Path, vid: str) -> pd.DataFrame:
    return q(
        store,
        "SELECT l.host, h.machine, l.runtime, l.threads, l.xnnpack, l.batch, l.runs, l.median_ms, "
        "l.p90_ms, l.error FROM latency l LEFT JOIN hosts h USING (host) WHERE l.variant_id = ? "
        "ORDER BY l.host, l.runtime, l.threads, l.xnnpack, l.batch",
        [vid],
    )
