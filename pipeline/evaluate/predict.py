"""Predictions of every variant on the windows it is scored on, and their post-processing."""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from pipeline.core.context import RunContext
from pipeline.data.windows import Windows
from pipeline.errors import ModelFileError
from pipeline.settings.constants import APPLIANCES
from store.vocab import Appliance, Mode


def postprocess(pred_norm: np.ndarray, appliance: Appliance, article_threshold: bool) -> np.ndarray:
    """De-normalise (x P_m); negatives -> 0, or (article's quantized protocol) below threshold -> 0."""
    params = APPLIANCES[appliance]
    watts = pred_norm.astype(np.float64) * params.max_power_w
    floor = params.on_threshold_w if article_threshold else 0.0
    return np.where(watts < floor if article_threshold else watts <= 0, 0.0, watts)


def variant_path(ctx: RunContext, variant: dict):
    path = ctx.artifacts / variant["file_path"]
    if not path.exists():
        raise ModelFileError(f"{path}: variant file missing; run `pipeline convert`")
    return path


def evaluation_runtime(path) -> tuple[str, bool]:
    """The interpreter a file is evaluated with, by a fixed rule (never a timing race):
    LiteRT with XNNPACK when XNNPACK takes the graph as one partition, else TensorFlow's
    interpreter (XNNPACK on where it applies), whose builtin integer kernels are 2-4x faster
    than LiteRT's on these models, unless it cannot load the file (then LiteRT)."""
    from pipeline.core.tflite_runtime import interpreter

    ops = interpreter(path, runtime="litert")._get_ops_details()
    partitions = sum(op["op_name"] == "DELEGATE" for op in ops)
    if partitions == 1:
        return "litert", True
    try:  # TensorFlow's kernels lag LiteRT's for some int16 ops (e.g. QUANTIZE to int16)
        interpreter(path, runtime="tf_lite")
    except (RuntimeError, ValueError):
        return "litert", True
    return "tf_lite", True


def _predict_keras(ctx: RunContext, v: dict, starts: np.ndarray, w: Windows) -> tuple:
    from pipeline.train.models import load_keras_model

    t0 = time.perf_counter()
    model = load_keras_model(variant_path(ctx, v))
    x = w.inputs(starts)
    pred = model.predict(x, batch_size=ctx.cfg.eval_batch, verbose=0).reshape(-1)
    return pred, time.perf_counter() - t0, "keras", False


def _predict_tflite(ctx: RunContext, tflite: list[dict], needs: dict, w: Windows) -> dict:
    """Each file's windows cut into chunks, all (file, chunk) pairs run on a thread pool."""
    from pipeline.core.tflite_runtime import run_tflite

    runtimes = {v["variant_id"]: evaluation_runtime(variant_path(ctx, v)) for v in tflite}
    workers = os.cpu_count() or 1
    tasks = []
    for v in tflite:
        starts = needs[v["variant_id"]]
        bounds = np.linspace(0, len(starts), workers * 2 + 1).astype(int)
        tasks += [(v, lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:], strict=True) if hi > lo]

    def run(task):
        v, lo, hi = task
        t0 = time.perf_counter()
        x = w.inputs(needs[v["variant_id"]][lo:hi])
        rt = runtimes[v["variant_id"]][0]
        pred = run_tflite(variant_path(ctx, v), x, threads=1, runtime=rt)
        return v["variant_id"], lo, pred, time.perf_counter() - t0

    parts: dict[str, list] = {v["variant_id"]: [] for v in tflite}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for vid, lo, pred, seconds in pool.map(run, tasks):
            parts[vid].append((lo, pred, seconds))
    return joined(parts, runtimes)


def joined(parts: dict[str, list], runtimes: dict) -> dict:
    """Each variant's chunks ``(first window, outputs, seconds)``, in window order, as one
    ``(outputs, seconds, runtime, xnn)``."""
    out = {}
    for vid, chunks in parts.items():
        chunks.sort(key=lambda c: c[0])
        preds = [c[1] for c in chunks] or [np.zeros(0, np.float32)]
        out[vid] = (np.concatenate(preds), sum(c[2] for c in chunks), *runtimes[vid])
    return out


def predict_all(ctx: RunContext, variants: list[dict], needs: dict[str, np.ndarray], w: Windows):
    """Raw outputs of every variant on the starts it needs: {id: (outputs, seconds, runtime, xnn)}.

    The Keras model predicts in batches. TFLite files are static batch 1, so each file's windows
    are cut into chunks and all (file, chunk) pairs run on a pool with one single-threaded
    interpreter each (invoke releases the GIL): a slow int16 model no longer holds up the rest.
    """
    out = {}
    for v in variants:
        if v["mode"] == Mode.KERAS.value:
            out[v["variant_id"]] = _predict_keras(ctx, v, needs[v["variant_id"]], w)
    tflite = [v for v in variants if v["mode"] != Mode.KERAS.value]
    out.update(_predict_tflite(ctx, tflite, needs, w))
    return out
