"""Profiling stage: latency, RAM by phase, XNNPACK use and isolated per-op latency per variant."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path

from pipeline.convert.modes import spec_of
from pipeline.core.context import RunContext, host_facts
from pipeline.core.hashing import file_sha256, stable_hash
from pipeline.errors import ModelFileError, NotReadyError
from pipeline.measure import measure_child
from pipeline.measure.measurements import Measurements
from pipeline.settings.stages import settings_key, stage_settings
from store import ids
from store.vocab import Runtime

CHILD = Path(measure_child.__file__)  # run as a script in a fresh process
PER_OP_TOLERANCE = 0.4  # sum of isolated op times vs whole model on a shared 2-core VM
# part of every model's cache key: bump when the measurement of an unchanged file changes
PROFILE_CODE_VERSION = "v5"  # v5: a byte-identical file measured once for all its variant ids


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


def _variant_file(ctx: RunContext, v: dict) -> tuple[Path, str]:
    """The variant's file and its sha256, which must be the store's."""
    path = ctx.artifacts / v["file_path"]
    if not path.exists():
        raise NotReadyError(f"{path}: variant file missing; run `pipeline convert`")
    sha = file_sha256(path)
    if sha != v["sha256"]:
        raise ModelFileError(
            f"{path}: sha256 differs from the store's record; run `pipeline convert`"
        )
    return path, sha


def _measure_litert(ctx, m: Measurements, vid, host, path: Path, sha: str) -> None:
    """LiteRT: one fresh child per thread count (clean memory figures), XNNPACK off once."""
    cfg = ctx.cfg
    cores = os.cpu_count() or 1
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


def _measure_tf_lite(ctx, m: Measurements, vid, host, path: Path, sha: str) -> None:
    """TensorFlow's interpreter in one child, every thread count (importing TensorFlow costs
    seconds and its RSS says nothing)."""
    cfg = ctx.cfg
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


def profile_variant(ctx: RunContext, v: dict, host: str) -> Measurements:
    """One variant's latency, memory and throughput, each measured in a fresh child process."""
    path, sha = _variant_file(ctx, v)
    m = Measurements()
    _measure_litert(ctx, m, v["variant_id"], host, path, sha)
    # TensorFlow's interpreter: its builtin int8/int16 kernels differ from LiteRT's; on models
    # XNNPACK runs whole the two are the same, so only the others are measured.
    spec = spec_of(v["mode"])
    builtin_heavy = (spec is not None and spec.builtin_kernels) or v["xnnpack_partitions"] != 1
    if Runtime.TF_LITE in ctx.cfg.runtimes and builtin_heavy:
        _measure_tf_lite(ctx, m, v["variant_id"], host, path, sha)
    return m


def profile_variant_ops(ctx: RunContext, v: dict, host: str, m: Measurements) -> None:
    """Isolated per-op latency, in this process. Never run two of these at once: the other
    thread's Python work holds the GIL for up to a switch interval (5 ms) around each µs op."""
    from pipeline.measure.op_profile import profile_ops

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


def _host_row(facts: dict) -> dict:
    return {
        "host": facts["host"],
        "cpu_model": facts["cpu_model"],
        "cores": facts["cores"],
        "machine": facts["machine"],
        "runtime_versions": json.dumps(runtime_versions()),
        "source": "local",
    }


def _variants_of(ctx: RunContext, model_id: str) -> list[dict]:
    """The model's TFLite variants; none when it was converted to its Keras model only (a
    TFLite conversion that failed is not that: convert is asked for again)."""
    variants = (
        ctx.read("SELECT * FROM variants WHERE model_id = ? ORDER BY variant_id", [model_id])
        if ctx.store.exists()
        else None
    )
    if variants is not None and not variants.empty:
        tflite = variants[variants["mode"] != "keras"]
        ok = tflite[tflite["status"] == "ok"]
        if tflite.empty or not ok.empty:  # Keras only, or files to measure
            return ok.to_dict("records")
    raise NotReadyError(f"no TFLite variants of {model_id}: run `pipeline convert` first")


def _cache_key(ctx: RunContext, host: str, records: list[dict]) -> str:
    return profile_key(stage_settings("profile", ctx.cfg, ctx.options), host, records)


def profile_key(settings, host: str, records: list[dict]) -> str:
    """The cache key of one model's measurements on one host: its variants' files, the
    ProfileSettings and the code's version."""
    return stable_hash(
        [
            host,
            sorted((v["variant_id"], v["sha256"]) for v in records),
            *settings_key(settings),
            PROFILE_CODE_VERSION,
        ]
    )


def profile_model(ctx: RunContext, records: list[dict], host: str) -> Measurements:
    """Every variant of one model: child-process measurements, then per-op profiles."""
    everything = Measurements()
    # a byte-identical file (e.g. w8_a8 = w8_a8_fallback) is measured once and its rows carry
    # every variant id it stands for, so two names of one file never differ by noise
    first: dict[str, dict] = {}
    for v in records:
        first.setdefault(v["sha256"], v)
    distinct = list(first.values())
    # profile_workers > 1 (smoke only) overlaps the child-process measurements: quicker,
    # noisier; the per-op profiles always run one at a time
    with ThreadPoolExecutor(max_workers=ctx.cfg.profile_workers) as pool:
        results = list(pool.map(lambda v: profile_variant(ctx, v, host), distinct))
    measured = {}
    for v, m in zip(distinct, results, strict=True):
        profile_variant_ops(ctx, v, host, m)
        measured[v["sha256"]] = (v["variant_id"], m)
    for v in records:
        lead, m = measured[v["sha256"]]
        if lead != v["variant_id"]:
            m = m.as_variant(v["variant_id"])
            ctx.console.print(f"profile: {v['variant_id']}: the same file as {lead}, measured once")
        everything.extend(m)
        ms = m.single_thread_median_ms()
        shown = f"{ms:.3f} ms median (1 thread)" if ms is not None else "no latency"
        ctx.console.print(f"profile: {v['variant_id']}: {shown}")
    return everything


def models_to_measure(ctx: RunContext, host: str, on: str = ""):
    """(cache item, key, variant records) of every selected model not measured on ``host`` with
    its current files and settings (the others are reported as skipped)."""
    for appliance in ctx.appliances:
        for arch in ctx.archs:
            model_id = ids.model_id(appliance, arch)
            records = _variants_of(ctx, model_id)
            if not records:  # converted to its Keras model only (convert.modes = ["keras"])
                ctx.console.print(f"profile: {model_id}: no TFLite file to measure (Keras only)")
                continue
            key = _cache_key(ctx, host, records)
            item = ids.profile_item(model_id, host)
            if not ctx.skip_if_current("profile", item, key, label=model_id + on):
                yield item, key, records


def run_profile(ctx: RunContext) -> None:
    host_row = _host_row(host_facts())
    host = host_row["host"]
    for item, key, records in models_to_measure(ctx, host):
        t0 = time.perf_counter()
        everything = profile_model(ctx, records, host)
        vids = [v["variant_id"] for v in records]
        ctx.commit(
            "profile",
            item,
            key,
            time.perf_counter() - t0,
            lambda con, m=everything, vids=vids: m.write(con, host_row, vids),
        )
