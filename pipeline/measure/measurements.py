"""Measurement rows of the profiling stage (and of results ingested from elsewhere)."""

from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.core.context import utcnow
from store import db


@dataclass
class Measurements:
    """Rows (dicts keyed by column) for the latency, memory, op_profile, op_profile_totals and
    throughput_runs tables; ``file_sha256`` is the measured file's, when known."""

    latency: list[dict] = field(default_factory=list)
    memory: list[dict] = field(default_factory=list)
    ops: list[dict] = field(default_factory=list)
    totals: list[dict] = field(default_factory=list)
    throughput: list[dict] = field(default_factory=list)

    TABLES = (
        ("latency", "latency"),
        ("memory", "memory"),
        ("ops", "op_profile"),
        ("totals", "op_profile_totals"),
        ("throughput", "throughput_runs"),
    )

    def extend(self, other: Measurements) -> None:
        for name, _ in self.TABLES:
            getattr(self, name).extend(getattr(other, name))

    def as_variant(self, vid: str) -> Measurements:
        """These rows under another variant's id (a byte-identical file measured once)."""
        out = Measurements()
        for name, _ in self.TABLES:
            getattr(out, name).extend({**r, "variant_id": vid} for r in getattr(self, name))
        return out

    def add_child_result(
        self, vid, host, runtime, threads, xnnpack, r: dict, memory: bool = True, file_sha256=None
    ) -> None:
        """One measuring-child result (see measure_child.py): latency, memory phases, throughput."""
        now = utcnow()
        key = {"variant_id": vid, "host": host, "runtime": runtime}
        if "throughput" in r:
            t = r["throughput"]
            self.throughput.append(
                {
                    **key,
                    "interpreters": t["interpreters"],
                    "windows_per_s": t["windows_per_s"],
                    "measured_at": now,
                }
            )
        stats = dict.fromkeys(("mean_ms", "median_ms", "p90_ms", "std_ms", "min_ms"))
        row = {**key, "threads": threads, "xnnpack": xnnpack, "batch": 1, "runs": 0}
        if "error" in r:
            self.latency.append(
                {
                    **row,
                    **stats,
                    "error": r["error"],
                    "measured_at": now,
                    "file_sha256": file_sha256,
                }
            )
            return
        L = r["latency"]
        stats = {k: L[k] for k in stats}
        self.latency.append(
            {
                **row,
                "runs": L["runs"],
                **stats,
                "error": None,
                "measured_at": now,
                "file_sha256": file_sha256,
            }
        )
        if memory:
            base = r["phases"]["baseline"]
            self.memory += [
                {**key, "xnnpack": xnnpack, "phase": ph, "rss_mb": rss, "delta_mb": rss - base}
                for ph, rss in r["phases"].items()
            ]

    def add_ops(
        self, vid, host, runtime, threads, rows: list[dict], whole_ms, source, tolerance=None
    ) -> None:
        """Per-node rows (see opprofile.profile_ops) and their sum beside the whole-model time."""
        key = {"variant_id": vid, "host": host, "runtime": runtime, "threads": threads}
        for o in rows:
            self.ops.append(
                {
                    **key,
                    "node_index": o["node_index"],
                    "node_name": (o["node_name"] or "")[:500],
                    "op_type": o["op_type"],
                    "latency_ms": o["latency_ms"],
                    "share": o["share"],
                    "xnnpack": o["xnnpack"],
                    "times_called": o["times_called"],
                    "source": source,
                }
            )
        total = sum(o["latency_ms"] or 0 for o in rows)
        self.totals.append(
            {
                **key,
                "sum_ops_ms": total,
                "whole_model_ms": whole_ms,
                "ratio": total / whole_ms if whole_ms else None,
                "tolerance": tolerance,
            }
        )

    def single_thread_median_ms(self) -> float | None:
        """Median latency at 1 thread with XNNPACK, if it was measured."""
        best = [
            r for r in self.latency if r["threads"] == 1 and r["xnnpack"] and r["error"] is None
        ]
        return best[0]["median_ms"] if best else None

    def write(self, con, host_row: dict, variant_ids: list[str]) -> None:
        """Replace this host's measurements of these variants."""
        host = host_row["host"]
        con.execute("DELETE FROM hosts WHERE host = ?", [host])
        db.insert_records(con, "hosts", [host_row])
        for _, table in self.TABLES:
            con.execute(
                f"DELETE FROM {table} WHERE host = ? AND variant_id IN (SELECT unnest(?))",
                [host, variant_ids],
            )
        for name, table in self.TABLES:
            db.insert_records(con, table, getattr(self, name))
