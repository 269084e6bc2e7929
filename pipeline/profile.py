"""Profiling stage: latency, RAM by phase, XNNPACK use and isolated per-op latency per variant."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from pipeline.config import file_sha256, stable_hash
from pipeline.context import RunContext, host_facts, utcnow
from pipeline.errors import ModelFileError, NotReadyError
from store import db
from store.vocab import Runtime

CHILD = Path(__file__).with_name("measure_child.py")
PER_OP_TOLERANCE = 0.4  # sum of isolated op times vs whole model on a shared 2-core VM


def measure_in_child(
    model: Path,
    runtime: str,
    threads: int,
    xnnpack: bool,
    cfg,
    timeout: float = 600,
    parallel: int = 0,
    more_threads: list[int] | None = None,
) -> dict:
    req = {
        "model": str(model),
        "runtime": runtime,
        "threads": threads,
        "xnnpack": xnnpack,
        "min_seconds": cfg.latency_min_seconds,
        "min_runs": cfg.latency_min_runs,
        "warmup": 3,
        "parallel": parallel,
        "more_threads": more_threads or [],
    }
    try:
        res = subprocess.run(
            [sys.executable, str(CHILD), json.dumps(req)],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"measurement exceeded {timeout:.0f} s"}
    marker = res.stdout.rfind("@@RESULT@@")
    if marker < 0:
        tail = (res.stderr or res.stdout).strip().splitlines()[-1:] or ["no output"]
        return {"error": f"child exited {res.returncode}: {tail[0][:500]}"}
    return json.loads(res.stdout[marker + len("@@RESULT@@") :])


def runtime_versions() -> dict:
    out = {}
    for name in ("ai-edge-litert", "tensorflow-cpu"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[name] = metadata.version(name)
    return out


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


def profile_variant(ctx: RunContext, v: dict, host: str) -> Measurements:

    path = ctx.artifacts / v["file_path"]
    if not path.exists():
        raise NotReadyError(f"{path}: variant file missing; run `pipeline convert`")
    cfg = ctx.cfg
    m = Measurements()
    cores = os.cpu_count() or 1
    vid = v["variant_id"]
    sha = file_sha256(path)
    if sha != v["sha256"]:
        raise ModelFileError(
            f"{path}: sha256 differs from the store's record; run `pipeline convert`"
        )
    # LiteRT: one fresh child per thread count (clean memory figures), XNNPACK off once.
    for threads in cfg.threads:
        first = threads == 1
        r = measure_in_child(
            path,
            Runtime.LITERT.value,
            threads,
            True,
            cfg,
            parallel=cores if first and cores > 1 else 0,
        )
        m.add_child_result(
            vid, host, Runtime.LITERT.value, threads, True, r, memory=first, file_sha256=sha
        )
    r = measure_in_child(path, Runtime.LITERT.value, 1, False, cfg)
    m.add_child_result(vid, host, Runtime.LITERT.value, 1, False, r, file_sha256=sha)
    # TensorFlow's interpreter: its builtin int8/int16 kernels differ from LiteRT's; on models
    # XNNPACK runs whole the two are the same, so only the others are measured (one child,
    # every thread count: importing TensorFlow costs seconds and its RSS says nothing).
    builtin_heavy = v["mode"] in ("w8", "w8_a16") or v["xnnpack_partitions"] != 1
    if Runtime.TF_LITE in cfg.runtimes and builtin_heavy:
        r = measure_in_child(
            path,
            Runtime.TF_LITE.value,
            cfg.threads[0],
            True,
            cfg,
            more_threads=list(cfg.threads[1:]),
        )
        m.add_child_result(
            vid, host, Runtime.TF_LITE.value, cfg.threads[0], True, r, memory=False, file_sha256=sha
        )
        for n, stats in r.get("more_threads", {}).items():
            m.add_child_result(
                vid,
                host,
                Runtime.TF_LITE.value,
                int(n),
                True,
                {"latency": stats},
                memory=False,
                file_sha256=sha,
            )
    return m


def profile_variant_ops(ctx: RunContext, v: dict, host: str, m: Measurements) -> None:
    """Isolated per-op latency, in this process. Never run two of these at once: the other
    thread's Python work holds the GIL for up to a switch interval (5 ms) around each µs op."""
    from pipeline.opprofile import profile_ops

    modes = ctx.cfg.op_profile_modes
    if ctx.cfg.op_profile and (modes is None or v["mode"] in [m.value for m in modes]):
        rows, whole = profile_ops(ctx.artifacts / v["file_path"], threads=1, runs=ctx.cfg.op_runs)
        m.add_ops(
            v["variant_id"],
            host,
            Runtime.LITERT.value,
            1,
            rows,
            whole,
            "isolated_op",
            PER_OP_TOLERANCE,
        )


def run_profile(ctx: RunContext) -> None:
    facts = host_facts()
    host = facts["host"]
    host_row = {
        "host": host,
        "cpu_model": facts["cpu_model"],
        "cores": facts["cores"],
        "machine": facts["machine"],
        "runtime_versions": json.dumps(runtime_versions()),
        "source": "local",
    }
    cfg = ctx.cfg
    for appliance in ctx.appliances:
        for arch in ctx.archs:
            model_id = f"{appliance.value}.{arch.value}"
            variants = (
                ctx.read(
                    "SELECT * FROM variants WHERE model_id = ? AND status = 'ok' AND mode <> 'keras' ORDER BY variant_id",
                    [model_id],
                )
                if ctx.store.exists()
                else None
            )
            if variants is None or variants.empty:
                raise NotReadyError(
                    f"no TFLite variants of {model_id}: run `pipeline convert` first"
                )
            records = variants.to_dict("records")
            key = stable_hash(
                [
                    host,
                    sorted((v["variant_id"], v["sha256"]) for v in records),
                    [r.value for r in cfg.runtimes],
                    list(cfg.threads),
                    cfg.latency_min_seconds,
                    cfg.latency_min_runs,
                    cfg.op_profile,
                    cfg.op_runs,
                    None
                    if cfg.op_profile_modes is None
                    else [m.value for m in cfg.op_profile_modes],
                    cfg.profile_workers,
                    "v4",
                ]
            )
            item = f"{model_id}@{host}"
            if ctx.skip_if_current("profile", item, key, label=model_id):
                continue
            t0 = time.perf_counter()
            everything = Measurements()
            # profile_workers > 1 (smoke only) overlaps the child-process measurements: quicker,
            # noisier; the per-op profiles always run one at a time
            with ThreadPoolExecutor(max_workers=cfg.profile_workers) as pool:
                results = list(pool.map(lambda v: profile_variant(ctx, v, host), records))
            for v, m in zip(records, results, strict=True):
                profile_variant_ops(ctx, v, host, m)
                everything.extend(m)
                ms = m.single_thread_median_ms()
                shown = f"{ms:.3f} ms median (1 thread)" if ms is not None else "no latency"
                ctx.console.print(f"profile: {v['variant_id']}: {shown}")
            ids = [v["variant_id"] for v in records]
            ctx.commit(
                "profile",
                item,
                key,
                time.perf_counter() - t0,
                lambda con, m=everything, ids=ids: m.write(con, host_row, ids),
            )
