"""Measurements made elsewhere, into the store: the C++ `benchmark_model` tool's output
(pipeline/exchange/benchmark_output.py) and an edge kit's results (pipeline/exchange/edge_kit_results.py).

Reading and checking a file touches nothing; the store is written only once it is known good,
and every write replaces the host's earlier numbers for the same variants.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

from pipeline.core.context import utcnow
from pipeline.errors import DataError
from pipeline.exchange.benchmark_output import (
    BenchmarkResult,
    load_benchmark,
    parse_benchmark_output,
)
from pipeline.exchange.edge_kit_results import EdgeKitResults, load_edge_kit
from pipeline.exchange.ingest_fields import MAX_THREADS, as_host
from pipeline.measure.measurements import Measurements
from store.db import StoreError

__all__ = [
    "MAX_THREADS",
    "BenchmarkResult",
    "EdgeKitResults",
    "check_edge_kit_variants",
    "check_host",
    "check_variant",
    "ingest_benchmark",
    "ingest_edge_kit",
    "load_benchmark",
    "load_edge_kit",
    "parse_benchmark_output",
    "store_benchmark",
    "store_edge_kit",
]


def check_variant(store: Path, path: Path, variant_id: str) -> None:
    from store import db

    sql = "SELECT count(*) FROM variants WHERE variant_id = ?"
    known = db.query_rows(store, sql, [variant_id])[0][0]
    if not known:
        raise DataError(
            f'{path}: variant {variant_id!r} is not in the store (see `pipeline sql "SELECT variant_id FROM variants"`)'
        )


def check_host(path: Path, host: str) -> str:
    """The --host name given with a file, or DataError naming the file and what is wrong."""
    return as_host(host, f"{path}: --host")


OP_FIELDS = ("node_index", "node_name", "op_type", "latency_ms", "share", "xnnpack", "times_called")


def benchmark_rows(
    res: BenchmarkResult, variant_id: str, host: str, threads: int
) -> dict[str, list[dict]]:
    """The latency, op_profile and op_profile_totals rows of one benchmark_model output."""
    key = {"variant_id": variant_id, "host": host, "runtime": "benchmark_model", "threads": threads}
    ops = [{**key, **{k: o[k] for k in OP_FIELDS}, "source": "benchmark_model"} for o in res.ops]
    return {
        "latency": _benchmark_latency(res.timings_us, key),
        "op_profile": ops,
        "op_profile_totals": _benchmark_totals(res, key),
    }


def _benchmark_latency(t: dict[str, float], key: dict) -> list[dict]:
    if "avg" not in t:
        return []
    avg_ms = t["avg"] / 1000
    return [
        {
            **key,
            "xnnpack": True,
            "batch": 1,
            "runs": int(t.get("count", 0)),
            "mean_ms": avg_ms,
            # benchmark_model prints no median (only avg/min/max/std); the tradeoff view and
            # every page rank by median, so the average stands in for it, as the tool's own
            # summary does, unless the output names a median
            "median_ms": t["median"] / 1000 if "median" in t else avg_ms,
            "std_ms": t["std"] / 1000 if "std" in t else None,
            "min_ms": t["min"] / 1000 if "min" in t else None,
            "measured_at": utcnow(),
        }
    ]


def _benchmark_totals(res: BenchmarkResult, key: dict) -> list[dict]:
    """Sum of the op latencies against the whole-model latency (the profiler's overhead)."""
    t = res.timings_us
    if not (res.ops and t.get("avg")):
        return []
    s = sum(o["latency_ms"] for o in res.ops)
    return [
        {**key, "sum_ops_ms": s, "whole_model_ms": t["avg"] / 1000, "ratio": s / (t["avg"] / 1000)}
    ]


@contextlib.contextmanager
def _writing(store: Path) -> Iterator:
    """A write of the store; a store DuckDB refuses becomes a StoreError saying so."""
    import duckdb

    from store import db

    try:
        with db.write_store(store) as con:
            yield con
    except duckdb.Error as exc:
        raise StoreError(
            f"{store}: cannot store the measurements ({str(exc).splitlines()[0]})"
        ) from exc


def store_benchmark(
    store: Path,
    res: BenchmarkResult,
    variant_id: str,
    host: str,
    threads: int,
    also: Callable | None = None,
) -> None:
    """Replace this host's benchmark_model numbers for the variant, by column name;
    ``also(con)`` writes in the same publish (the command's run row)."""
    from store import db

    rows = benchmark_rows(res, variant_id, host, threads)
    with _writing(store) as con:
        if also is not None:
            also(con)
        con.execute("DELETE FROM hosts WHERE host = ? AND source = 'benchmark_model'", [host])
        if not con.execute("SELECT 1 FROM hosts WHERE host = ?", [host]).fetchall():
            db.insert_records(con, "hosts", [{"host": host, "source": "benchmark_model"}])
        for table in rows:
            con.execute(
                f"DELETE FROM {table} WHERE variant_id = ? AND host = ? AND runtime = 'benchmark_model' AND threads = ?",
                [variant_id, host, threads],
            )
        for table, records in rows.items():
            db.insert_records(con, table, records)


def ingest_benchmark(
    store: Path, path: Path, variant_id: str, host: str, threads: int
) -> tuple[int, float | None]:
    """Load, check and store one benchmark_model output (the CLI does the same in steps)."""
    res = load_benchmark(path)
    check_host(path, host)
    check_variant(store, path, variant_id)
    store_benchmark(store, res, variant_id, host, threads)
    t = res.timings_us
    return len(res.ops), (t["avg"] / 1000 if "avg" in t else None)


def check_edge_kit_variants(store: Path, kit: EdgeKitResults) -> None:
    """Every result names a variant of this store, measured on the file the store holds."""
    from store import db

    known = dict(db.query_rows(store, "SELECT variant_id, sha256 FROM variants"))
    for i, r in enumerate(kit.results):
        vid = r["variant_id"]
        if vid not in known:
            raise DataError(f"{kit.path}: results[{i}].variant_id: {vid!r} is not in the store")
        if r["sha256"] != known[vid]:
            raise DataError(
                f"{kit.path}: results[{i}]: {vid} was measured on a file whose sha256 differs from the store's; re-export the kit"
            )


def store_edge_kit(store: Path, kit: EdgeKitResults, also: Callable | None = None) -> int:
    """Replace the device's measurements of the kit's variants; returns the latency rows.
    ``also(con)`` writes in the same publish (the command's run row)."""
    m = Measurements()
    for r in kit.results:
        vid, threads, xnn = r["variant_id"], r["threads"], r["xnnpack"]
        m.add_child_result(
            vid, kit.host, "litert", threads, xnn, r, memory="phases" in r, file_sha256=r["sha256"]
        )
        if r.get("ops"):
            m.add_ops(
                vid, kit.host, "litert", threads, r["ops"], r.get("whole_model_ms"), "edge_kit"
            )
    ids = sorted({row["variant_id"] for row in m.latency})
    with _writing(store) as con:
        if also is not None:
            also(con)
        m.write(con, kit.host_row, ids)
    return len(m.latency)


def ingest_edge_kit(store: Path, path: Path, host: str | None = None) -> int:
    """Load, check and store an edge kit's results (the CLI does the same in steps)."""
    kit = load_edge_kit(path, host)
    check_edge_kit_variants(store, kit)
    return store_edge_kit(store, kit)
