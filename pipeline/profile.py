"""Profiling stage: latency, RAM by phase, XNNPACK use and isolated per-op latency per variant."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

from pipeline.config import stable_hash
from pipeline.context import RunContext, host_facts, utcnow
from pipeline.errors import NotReadyError
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


def profile_variant(ctx: RunContext, v: dict, host: str):
    from pipeline.opprofile import profile_ops

    path = ctx.artifacts / v["file_path"]
    if not path.exists():
        raise NotReadyError(f"{path}: variant file missing; run `pipeline convert`")
    cfg = ctx.cfg
    lat, mem, ops, totals, tput = [], [], [], [], []
    cores = os.cpu_count() or 1
    cells = [(rt.value, th, True) for rt in cfg.runtimes for th in cfg.threads]
    cells.append((Runtime.LITERT.value, 1, False))  # XNNPACK off, where it may differ
    for runtime, threads, xnn in cells:
        first = runtime == Runtime.LITERT.value and threads == 1 and xnn
        r = measure_in_child(
            path, runtime, threads, xnn, cfg, parallel=cores if first and cores > 1 else 0
        )
        now = utcnow()
        if "throughput" in r:
            t = r["throughput"]
            tput.append(
                (v["variant_id"], host, runtime, t["interpreters"], t["windows_per_s"], now)
            )
        if "error" in r:
            lat.append(
                (
                    v["variant_id"],
                    host,
                    runtime,
                    threads,
                    xnn,
                    1,
                    0,
                    None,
                    None,
                    None,
                    None,
                    None,
                    r["error"],
                    now,
                )
            )
            continue
        L = r["latency"]
        lat.append(
            (
                v["variant_id"],
                host,
                runtime,
                threads,
                xnn,
                1,
                L["runs"],
                L["mean_ms"],
                L["median_ms"],
                L["p90_ms"],
                L["std_ms"],
                L["min_ms"],
                None,
                now,
            )
        )
        if threads == 1:
            base = r["phases"]["baseline"]
            for phase, rss in r["phases"].items():
                mem.append((v["variant_id"], host, runtime, xnn, phase, rss, rss - base))
    if cfg.op_profile:
        rows, whole = profile_ops(path, threads=1, runs=cfg.op_runs)
        for r in rows:
            ops.append(
                (
                    v["variant_id"],
                    host,
                    Runtime.LITERT.value,
                    1,
                    r["node_index"],
                    r["node_name"][:500],
                    r["op_type"],
                    r["latency_ms"],
                    r["share"],
                    r["xnnpack"],
                    r["times_called"],
                    "isolated_op",
                )
            )
        s = sum(r["latency_ms"] or 0 for r in rows)
        totals.append(
            (
                v["variant_id"],
                host,
                Runtime.LITERT.value,
                1,
                s,
                whole,
                s / whole if whole else None,
                PER_OP_TOLERANCE,
            )
        )
    return lat, mem, ops, totals, tput


def _write(con, host_row, ids, host, lat, mem, ops, totals, tput):
    con.execute("INSERT OR REPLACE INTO hosts VALUES (?,?,?,?,?,?)", host_row)
    for table in ("latency", "memory", "op_profile", "op_profile_totals", "throughput_runs"):
        con.execute(
            f"DELETE FROM {table} WHERE host = ? AND variant_id IN (SELECT unnest(?))", [host, ids]
        )
    if lat:
        con.executemany("INSERT INTO latency VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", lat)
    if mem:
        con.executemany("INSERT INTO memory VALUES (?,?,?,?,?,?,?)", mem)
    if ops:
        con.executemany("INSERT INTO op_profile VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", ops)
    if totals:
        con.executemany("INSERT INTO op_profile_totals VALUES (?,?,?,?,?,?,?,?)", totals)
    if tput:
        con.executemany("INSERT INTO throughput_runs VALUES (?,?,?,?,?,?)", tput)


def run_profile(ctx: RunContext) -> None:
    facts = host_facts()
    host = facts["host"]
    host_row = (
        host,
        facts["cpu_model"],
        facts["cores"],
        facts["machine"],
        json.dumps(runtime_versions()),
        "local",
    )
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
                    "v2",
                ]
            )
            item = f"{model_id}@{host}"
            if ctx.is_fresh("profile", item, key):
                ctx.console.print(f"profile: {model_id} unchanged, skipped")
                ctx.record_skips("profile", [item])
                continue
            t0 = time.perf_counter()
            lat, mem, ops, totals, tput = [], [], [], [], []
            for v in records:
                parts = profile_variant(ctx, v, host)
                for acc, part in zip((lat, mem, ops, totals, tput), parts, strict=True):
                    acc.extend(part)
                best = [
                    row
                    for row in parts[0]
                    if row[0] == v["variant_id"] and row[3] == 1 and row[4] and row[12] is None
                ]
                shown = f"{best[0][8]:.3f} ms median (1 thread)" if best else "no latency"
                ctx.console.print(f"profile: {v['variant_id']}: {shown}")
            ids = [v["variant_id"] for v in records]
            ctx.commit(
                "profile",
                item,
                key,
                time.perf_counter() - t0,
                lambda con, a=(host_row, ids, host, lat, mem, ops, totals, tput): _write(con, *a),
            )
