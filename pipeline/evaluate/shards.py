"""Predictions as shards of windows, run by a remote executor (`--executor ray`).

A variant's windows are cut into shards; each shard is a job that reads the test split from the
artifacts folder (once per worker process), runs the variant's file on its windows, batch 1 and
one thread as locally, and returns the predictions (4 bytes a window). The driver puts the shards
back in order and scores the whole sample as it does locally: the estimator's weighted sums,
bootstrap resamples and paired differences need every window's prediction (a resample draws
single windows, so per-shard partial sums could give the point estimates but not the
intervals). TFLite's batch-1 output for a window does not depend on which shard it is in, so
the metrics are those of a local run, whatever the shard count. The Keras model predicts its
windows in one job (batched, as locally).
"""

from __future__ import annotations

import math
import time
from functools import lru_cache
from pathlib import Path

import numpy as np

from pipeline.core.context import RunContext
from pipeline.core.executors import Job, Resources, executor_of
from pipeline.evaluate.predict import joined
from store.vocab import Mode, Split

MIN_SHARD_WINDOWS = 256  # a shard costs a task and an interpreter: no smaller than this
SHARDS_PER_CPU = 2  # a variant is cut into at most this many shards per CPU of the cluster
BASE_MEMORY_MB = 300  # a worker's interpreter, runtime and numpy, before the data


@lru_cache(maxsize=2)
def _windows(split_path: str, sha256: str, appliance: str):
    """The test split's windows in this worker process (read once, checked against the store's
    sha256)."""
    from pipeline.core.hashing import file_sha256
    from pipeline.data.windows import SplitData, Windows
    from pipeline.errors import DataError
    from pipeline.settings.constants import AGG_MEAN_W, AGG_STD_W, APPLIANCES
    from store.vocab import Appliance

    if file_sha256(Path(split_path)) != sha256:
        raise DataError(f"{split_path}: sha256 differs from the store's record")
    split = SplitData.read(Path(split_path))
    return Windows(split, AGG_MEAN_W, AGG_STD_W, APPLIANCES[Appliance(appliance)].max_power_w)


def _shard_job(split: tuple, file: str, mode: str, runtime: str, starts, batch: int):
    """One shard: (predictions, seconds). ``split`` is (path, sha256, appliance)."""
    from pipeline.core.quiet import quiet_tf

    quiet_tf()
    w = _windows(*split)
    t0 = time.perf_counter()
    x = w.inputs(starts)
    if mode == Mode.KERAS.value:
        from pipeline.train.models import load_keras_model

        pred = load_keras_model(Path(file)).predict(x, batch_size=batch, verbose=0).reshape(-1)
    else:
        from pipeline.core.tflite_runtime import run_tflite

        pred = run_tflite(Path(file), x, threads=1, runtime=runtime)
    return pred, time.perf_counter() - t0


def shard_bounds(n: int, cpus: float) -> np.ndarray:
    """Where a variant of ``n`` windows is cut: at most SHARDS_PER_CPU shards per CPU, none
    under MIN_SHARD_WINDOWS (one shard for a small variant)."""
    shards = max(1, min(math.ceil(n / MIN_SHARD_WINDOWS), int(SHARDS_PER_CPU * max(1, cpus))))
    return np.linspace(0, n, shards + 1).astype(int)


def _memory_mb(split_rows: int, windows: int) -> int:
    """RAM a shard needs: the split's arrays (~40 bytes a sample), its windows as inputs
    (599 float32 each), the runtime."""
    return int(BASE_MEMORY_MB + (split_rows * 40 + windows * 599 * 4) / 1e6)


def predict_remote(ctx: RunContext, variants: list[dict], needs: dict, w) -> dict:
    """predict_all's result ({id: (outputs, seconds, runtime, xnn)}) from shard jobs."""
    from pipeline.data.stage import split_record
    from pipeline.evaluate.predict import evaluation_runtime, variant_path
    from store.vocab import Appliance

    executor = executor_of(ctx)
    jobs, runtimes, splits = [], {}, {}
    for v in variants:
        vid, starts = v["variant_id"], needs[v["variant_id"]]
        if v["appliance"] not in splits:
            row = split_record(ctx, Appliance(v["appliance"]), Split.TEST)
            path = str(ctx.artifacts / row["artifact_path"])
            splits[v["appliance"]] = (path, row["sha256"], v["appliance"])
        split = splits[v["appliance"]]
        path = variant_path(ctx, v)
        keras = v["mode"] == Mode.KERAS.value
        runtimes[vid] = ("keras", False) if keras else evaluation_runtime(path)
        bounds = np.array([0, len(starts)]) if keras else shard_bounds(len(starts), executor.cpus())
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
            need = Resources(cpus=1, memory_mb=_memory_mb(len(w.split), hi - lo))
            args = (
                split,
                str(path),
                v["mode"],
                runtimes[vid][0],
                starts[lo:hi],
                ctx.cfg.eval_batch,
            )
            jobs.append(Job(_shard_job, args, (vid, lo), need))
    parts: dict[str, list] = {v["variant_id"]: [] for v in variants}
    for (vid, lo), (pred, seconds) in executor.run(jobs):
        parts[vid].append((lo, pred, seconds))
    return joined(parts, runtimes)
