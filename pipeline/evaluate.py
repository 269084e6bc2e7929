"""Evaluation stage: every variant of an appliance on the same test windows; metrics + traces."""

from __future__ import annotations

import hashlib
import os
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.config import AGG_MEAN_W, AGG_STD_W, APPLIANCES, MIDPOINT, stable_hash
from pipeline.context import RunContext
from pipeline.data import load_split
from pipeline.errors import ModelFileError, NotReadyError
from pipeline.metrics import all_metrics
from pipeline.status import duration_samples, status_by_segment
from pipeline.windows import Windows
from store.vocab import Appliance, Mode, Split

TRACE_ROW_GROUP = 100_000


def postprocess(pred_norm: np.ndarray, appliance: Appliance, article_threshold: bool) -> np.ndarray:
    """De-normalise (x P_m); negatives -> 0, or (article's quantized protocol) below threshold -> 0."""
    params = APPLIANCES[appliance]
    watts = pred_norm.astype(np.float64) * params.max_power_w
    floor = params.on_threshold_w if article_threshold else 0.0
    return np.where(watts < floor if article_threshold else watts <= 0, 0.0, watts)


def _variant_path(ctx: RunContext, variant: dict):
    path = ctx.artifacts / variant["file_path"]
    if not path.exists():
        raise ModelFileError(f"{path}: variant file missing; run `pipeline convert`")
    return path


def fastest_runtime(path, window: np.ndarray, tries: int = 3) -> str:
    """LiteRT or TensorFlow's interpreter, whichever invokes this file faster: their builtin
    int8/int16 kernels differ by 2-4x in either direction depending on the model."""
    from pipeline.convert import interpreter

    best, best_t = "litert", float("inf")
    for runtime in ("litert", "tf_lite"):
        it = interpreter(path, runtime=runtime)
        inp = it.get_input_details()[0]
        x = window.reshape(inp["shape"]).astype(np.float32)
        if inp["dtype"] != np.float32:
            x = np.zeros(inp["shape"], inp["dtype"])
        it.set_tensor(inp["index"], x)
        it.invoke()
        t0 = time.perf_counter()
        for _ in range(tries):
            it.invoke()
        if (t := time.perf_counter() - t0) < best_t:
            best, best_t = runtime, t
    return best


def predict_all(
    ctx: RunContext, variants: list[dict], windows: np.ndarray
) -> dict[str, tuple[np.ndarray, float, str]]:
    """Raw outputs of every variant: (outputs, seconds of work, runtime).

    The Keras model predicts in batches. TFLite files are static batch 1, so each file's windows
    are cut into chunks and all (file, chunk) pairs run on a pool with one single-threaded
    interpreter each (invoke releases the GIL): a slow int16 model no longer holds up the rest.
    """
    from pipeline.convert import load_keras_model, run_tflite

    out = {}
    for v in variants:
        if v["mode"] == Mode.KERAS.value:
            t0 = time.perf_counter()
            model = load_keras_model(_variant_path(ctx, v))
            pred = model.predict(windows, batch_size=ctx.cfg.eval_batch, verbose=0).reshape(-1)
            out[v["variant_id"]] = (pred, time.perf_counter() - t0, "keras")
    tflite = [v for v in variants if v["mode"] != Mode.KERAS.value]
    runtimes = {}
    for v in tflite:
        path = _variant_path(ctx, v)
        runtime = ctx.cfg.eval_runtime
        runtimes[v["variant_id"]] = (
            fastest_runtime(path, windows[:1]) if runtime == "fastest" else runtime
        )
    workers = os.cpu_count() or 1
    bounds = np.linspace(0, len(windows), workers + 1).astype(int)
    tasks = [
        (v, lo, hi)
        for v in tflite
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)
        if hi > lo
    ]

    def run(task):
        v, lo, hi = task
        t0 = time.perf_counter()
        pred = run_tflite(
            _variant_path(ctx, v), windows[lo:hi], threads=1, runtime=runtimes[v["variant_id"]]
        )
        return v["variant_id"], lo, pred, time.perf_counter() - t0

    parts: dict[str, list] = {v["variant_id"]: [] for v in tflite}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for vid, lo, pred, seconds in pool.map(run, tasks):
            parts[vid].append((lo, pred, seconds))
    for vid, chunks in parts.items():
        chunks.sort(key=lambda c: c[0])
        out[vid] = (
            np.concatenate([c[1] for c in chunks]),
            sum(c[2] for c in chunks),
            runtimes[vid],
        )
    return out


def evaluate_appliance(
    ctx: RunContext, appliance: Appliance, variants: list[dict], article_threshold: bool
):
    split, row = load_split(ctx, appliance, Split.TEST)
    params = APPLIANCES[appliance]
    w = Windows(split, AGG_MEAN_W, AGG_STD_W, params.max_power_w)
    starts = (
        w.busiest(ctx.cfg.eval_windows)
        if ctx.cfg.eval_select == "busiest"
        else w.evenly(ctx.cfg.eval_windows)
    )
    if len(starts) == 0:
        raise NotReadyError(f"the test split of {appliance.value} has no complete window")
    mid = starts + MIDPOINT
    period = float(row["sample_period_s"])
    truth = split.appliance_w[mid].astype(np.float64)
    truth_on = split.status[mid].astype(np.int8)
    seg = split.segment[mid]
    inputs = w.inputs(starts)
    window_info = {
        "appliance": appliance.value,
        "split": Split.TEST.value,
        "first_time": np.datetime64(int(split.unix[mid[0]]), "s").astype(object),
        "last_time": np.datetime64(int(split.unix[mid[-1]]), "s").astype(object),
        "n_windows": int(len(starts)),
        "windows_hash": hashlib.sha256(starts.astype(np.int64).tobytes()).hexdigest()[:16],
        "postprocess": ("article_threshold" if article_threshold else "clip_negative")
        + f"; TFLite run with {ctx.cfg.eval_runtime}"
        + f"; {ctx.cfg.eval_select} {len(starts)} windows",
    }
    metric_rows, trace_rows = [], []
    raw = predict_all(ctx, variants, inputs)
    for v in variants:
        pred_norm, seconds, runtime = raw[v["variant_id"]]
        pred = postprocess(pred_norm, appliance, article_threshold)
        pred_on = status_by_segment(
            pred,
            seg,
            params.on_threshold_w,
            duration_samples(params.min_on_s, period),
            duration_samples(params.min_off_s, period),
        )
        for name, (value, reason) in all_metrics(truth, pred, truth_on, pred_on, period).items():
            metric_rows.append(
                (
                    v["variant_id"],
                    Split.TEST.value,
                    name,
                    None if not np.isfinite(value) else float(value),
                    reason,
                )
            )
        path = ctx.path("traces", f"{v['variant_id']}.parquet")
        table = pa.table(
            {
                "time": pa.array(split.unix[mid].astype("datetime64[s]")),
                "aggregate_w": split.aggregate_w[mid].astype(np.float32),
                "truth_w": truth.astype(np.float32),
                "pred_w": pred.astype(np.float32),
                "truth_on": truth_on,
                "pred_on": pred_on.astype(np.int8),
            }
        )
        tmp = path.with_suffix(".tmp")
        pq.write_table(table, tmp, row_group_size=TRACE_ROW_GROUP)
        tmp.replace(path)
        trace_rows.append(
            (v["variant_id"], appliance.value, Split.TEST.value, ctx.rel(path), len(starts))
        )
        f1 = next(m[3] for m in metric_rows if m[0] == v["variant_id"] and m[2] == "f1")
        ctx.console.print(
            f"evaluate: {v['variant_id']}: F1 {f1 if f1 is None else round(f1, 4)} "
            f"on {len(starts):,} windows ({seconds:.1f} s with {runtime})"
        )
    return window_info, metric_rows, trace_rows


def _write(con, window_info, variant_ids, metric_rows, trace_rows):
    con.execute(
        "DELETE FROM eval_windows WHERE appliance = ? AND split = ?",
        [window_info["appliance"], window_info["split"]],
    )
    con.execute(
        f"INSERT INTO eval_windows ({', '.join(window_info)}) VALUES ({', '.join('?' * len(window_info))})",
        list(window_info.values()),
    )
    for table in ("metrics", "traces"):
        con.execute(f"DELETE FROM {table} WHERE variant_id IN (SELECT unnest(?))", [variant_ids])
    con.executemany("INSERT INTO metrics VALUES (?,?,?,?,?)", metric_rows)
    con.executemany("INSERT INTO traces VALUES (?,?,?,?,?)", trace_rows)


def run_evaluate(ctx: RunContext) -> None:
    from pipeline.convert import quiet_tf

    quiet_tf()
    article = bool(ctx.options.get("article_postprocess", False))
    for appliance in ctx.appliances:
        variants = (
            ctx.read(
                "SELECT * FROM variants WHERE appliance = ? AND status = 'ok' AND arch IN (SELECT unnest(?)) ORDER BY variant_id",
                [appliance.value, [a.value for a in ctx.archs]],
            )
            if ctx.store.exists()
            else None
        )
        if variants is None or variants.empty:
            raise NotReadyError(
                f"no variants of {appliance.value} in the store: run `pipeline convert` first"
            )
        test_sha = ctx.read(
            "SELECT sha256 FROM datasets WHERE dataset_id = ?", [f"{appliance.value}.test"]
        )
        records = variants.to_dict("records")
        key = stable_hash(
            [
                test_sha.iloc[0, 0] if len(test_sha) else None,
                sorted((v["variant_id"], v["sha256"]) for v in records),
                ctx.cfg.eval_windows,
                ctx.cfg.eval_select,
                ctx.cfg.eval_runtime,
                article,
                "v1",
            ]
        )
        item = f"{appliance.value}:{','.join(a.value for a in ctx.archs)}"
        if ctx.skip_if_current("evaluate", item, key, label=appliance.value):
            continue
        t0 = time.perf_counter()
        info, metric_rows, trace_rows = evaluate_appliance(ctx, appliance, records, article)
        ids = [v["variant_id"] for v in records]
        ctx.commit(
            "evaluate",
            item,
            key,
            time.perf_counter() - t0,
            lambda con, a=(info, ids, metric_rows, trace_rows): _write(con, *a),
        )
