"""The one builder of hand-made store rows, for the tests' small store (tests/handmade_store.py)
and the benchmarks' large one (bench/bench_dashboard.py): each table's row with its defaults, so
that a column added to the schema is given a default here, once.

A row function takes what varies as arguments and anything else as keyword overrides;
``publish`` writes the rows into a new store in one atomic swap.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from store import db

NOW = pd.Timestamp("2026-01-01 12:00:00")
N_WINDOWS = 5000  # windows of the test sample a default row was scored on

BASELINE_MODES = ("always_off", "mean_power", "aggregate_threshold")


def model_row(mid: str, appliance: str, arch: str, **over) -> dict:
    return {
        "model_id": mid,
        "appliance": appliance,
        "arch": arch,
        "profile": "smoke",
        "parameters": 123456,
        "train_config": json.dumps({"batch": 256}),
        "loss_variant": "soft_bce",
        "strategy": "default",
        "replicas": 1,
        "epochs_run": 3,
        "best_epoch": 3,
        "best_val_loss": 0.1,
        "train_seconds": 10.0,
        "artifact_path": f"models/{mid}.keras",
        "sha256": "x",
        "created_at": NOW,
        "under_trained": False,
        "still_improving": False,
        "stop_reason": "epochs",
    } | over


def variant_row(vid: str, mid: str, appliance: str, arch: str, mode: str, **over) -> dict:
    """A model variant (kind 'model'); a file's path, size and sha256 come as overrides."""
    return {
        "variant_id": vid,
        "model_id": mid,
        "appliance": appliance,
        "arch": arch,
        "mode": mode,
        "status": "ok",
        "converter_settings": json.dumps({"mode": mode}),
        "file_path": None,
        "file_bytes": None,
        "sha256": None,
        "xnnpack_partitions": None if mode == "keras" else (0 if mode == "w8" else 1),
        "n_ops": 12,
        "float_compute_ops": 0 if mode.startswith("w8_a8") else 8,
        "kind": "model",
    } | over


def baseline_row(appliance: str, mode: str) -> dict:
    """A non-learned baseline: a rule with no model and no file."""
    return {
        "variant_id": f"{appliance}.baseline.{mode}",
        "model_id": f"{appliance}.baseline",
        "appliance": appliance,
        "arch": "baseline",
        "mode": mode,
        "status": "ok",
        "converter_settings": None,
        "file_path": None,
        "file_bytes": None,
        "sha256": None,
        "xnnpack_partitions": None,
        "n_ops": None,
        "float_compute_ops": None,
        "kind": "baseline",
    }


def metric_row(vid: str, metric: str, value, ci_low=None, ci_high=None, **over) -> dict:
    return {
        "variant_id": vid,
        "split": "test",
        "metric": metric,
        "value": value,
        "ci_low": ci_low,
        "ci_high": ci_high,
        "n_windows": N_WINDOWS,
    } | over


def delta_row(vid: str, reference_id: str, metric: str, delta: float, half: float, **over):
    """A variant's metric minus its float model's, with a paired interval of +-``half``."""
    return {
        "variant_id": vid,
        "reference_id": reference_id,
        "split": "test",
        "metric": metric,
        "delta": delta,
        "ci_low": delta - half,
        "ci_high": delta + half,
        "n_windows": N_WINDOWS,
        "distinguishable": not (delta - half <= 0 <= delta + half),
    } | over


def evaluation_row(vid: str, **over) -> dict:
    return {
        "variant_id": vid,
        "split": "test",
        "runtime": "litert",
        "xnnpack": True,
        "file_sha256": None,
        "subset": "full",
        "n_windows": N_WINDOWS,
        "on_windows": None,
        "seconds": 1.0,
    } | over


def latency_row(vid: str, host: str, runtime: str, threads: int, ms: float, **over) -> dict:
    return {
        "variant_id": vid,
        "host": host,
        "runtime": runtime,
        "threads": threads,
        "xnnpack": True,
        "batch": 1,
        "runs": 50,
        "mean_ms": ms,
        "median_ms": ms,
        "p90_ms": ms * 1.1,
        "measured_at": NOW,
        "file_sha256": None,
    } | over


def memory_row(vid: str, host: str, runtime: str, delta_mb: float, **over) -> dict:
    """Peak memory: ``delta_mb`` over a 40 MB process."""
    return {
        "variant_id": vid,
        "host": host,
        "runtime": runtime,
        "xnnpack": True,
        "phase": "peak",
        "rss_mb": delta_mb + 40,
        "delta_mb": delta_mb,
    } | over


def op_row(vid: str, n: int, op_type: str, latency_ms: float, xnnpack: bool, **over) -> dict:
    """One isolated op's latency on the local host (litert, 1 thread)."""
    return {
        "variant_id": vid,
        "host": "devbox",
        "runtime": "litert",
        "threads": 1,
        "node_index": n,
        "node_name": f"n{n}",
        "op_type": op_type,
        "latency_ms": latency_ms,
        "share": 0.25,
        "xnnpack": xnnpack,
        "times_called": 1,
        "source": "isolated_op",
    } | over


def trace_row(vid: str, appliance: str, path: str, rows: int, **over) -> dict:
    return {
        "variant_id": vid,
        "appliance": appliance,
        "split": "test_trace",
        "path": path,
        "rows": rows,
        "file_sha256": None,
    } | over


def layer_stat_row(vid: str, i: int, op_name: str, rmse_scale: float, suspect: bool) -> dict:
    return {
        "variant_id": vid,
        "layer_index": i,
        "op_name": op_name,
        "tensor_idx": i,
        "tensor_name": f"t{i}",
        "num_elements": 100,
        "rmse_scale": rmse_scale,
        "suspect": suspect,
    }


def run_row(config: dict, host: str, **over) -> dict:
    return {
        "run_id": "r1",
        "command": "all",
        "profile": "smoke",
        "config": json.dumps(config),
        "config_hash": "abc",
        "host": host,
        "started_at": NOW,
        "finished_at": NOW,
        "status": "finished",
    } | over


def host_row(host: str, machine: str, source: str, **over) -> dict:
    return {
        "host": host,
        "cpu_model": None,
        "cores": None,
        "machine": machine,
        "source": source,
    } | over


def publish(path: Path, rows: dict[str, list[dict]]) -> Path:
    """A new store at ``path`` holding ``rows`` (table -> records, inserted in that order)."""
    with db.write_store(Path(path)) as con:
        for table, records in rows.items():
            db.insert_records(con, table, records)
    return Path(path)
