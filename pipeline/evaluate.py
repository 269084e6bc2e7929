"""Evaluation stage: every variant and baseline of an appliance on the same test windows.

Protocol ``stratified`` (default): a random sample across the whole test span, stratified by
ground-truth status and aggregate activity, weighted so metrics estimate the whole span, with
95 % bootstrap intervals and paired differences from the float model (see pipeline/estimate.py).
A variant sees the whole sample or a nested sub-sample by its cost (``sample_level``): the
transformer's per-window cost is ~10x the CNN's and 16x8 kernels another ~20x. A contiguous
stretch (the busiest ``eval_trace_hours``) is also predicted by every variant: it feeds the
trace viewer and the article-style metrics (split ``test_trace``, status with the duration
rules, the article's energy per day). Protocols ``first`` / ``busiest`` score one contiguous
block (``first`` is the article's: the first N windows), resampled by hours for intervals.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline import artifacts
from pipeline.config import AGG_MEAN_W, AGG_STD_W, APPLIANCES, MIDPOINT, WINDOW, stable_hash
from pipeline.config import file_sha256 as sha256_of
from pipeline.context import RunContext
from pipeline.data import load_split, split_path
from pipeline.errors import ModelFileError, NotReadyError
from pipeline.estimate import (
    SAMPLE_METRICS,
    Design,
    Estimate,
    Sample,
    block_sample,
    estimate,
    paired_delta,
    stratified_sample,
    window_features,
)
from pipeline.metrics import all_metrics, energy_per_day, epd_error_pct
from pipeline.onoff import duration_samples, status_by_segment
from pipeline.windows import SplitData, Windows
from store import db
from store.vocab import Appliance, Arch, Mode, Split

TRACE_ROW_GROUP = 100_000
EVAL_CODE_VERSION = "e5"
TRACE_SPLIT = "test_trace"
# strata of the sample: the midpoint is on; off but the aggregate rises above the window's base
# load by the appliance's on threshold (look-alikes: where false positives come from); off and
# quiet. Shares of the sample each stratum gets (what one cannot take goes to the others).
STRATA = ("on", "off_lookalike", "off_quiet")
STRATA_SHARES = (0.4, 0.4, 0.2)
DELTA_METRICS = ("f1", "mcc", "precision", "recall", "mae", "sae", "nde", "epd_error_pct")
BASELINES = ("always_off", "mean_power", "aggregate_threshold")


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


def evaluation_runtime(path) -> tuple[str, bool]:
    """The interpreter a file is evaluated with, by a fixed rule (never a timing race):
    LiteRT with XNNPACK when XNNPACK takes the graph as one partition, else TensorFlow's
    interpreter (XNNPACK on where it applies), whose builtin integer kernels are 2-4x faster
    than LiteRT's on these models, unless it cannot load the file (then LiteRT)."""
    from pipeline.convert import interpreter

    ops = interpreter(path, runtime="litert")._get_ops_details()
    partitions = sum(op["op_name"] == "DELEGATE" for op in ops)
    if partitions == 1:
        return "litert", True
    try:  # TensorFlow's kernels lag LiteRT's for some int16 ops (e.g. QUANTIZE to int16)
        interpreter(path, runtime="tf_lite")
    except (RuntimeError, ValueError):
        return "litert", True
    return "tf_lite", True


# -- the windows ---------------------------------------------------------------------------


LEVELS = ("full", "core", "min")


def sample_level(arch: str, mode: str) -> str:
    """Which nested sample a variant is scored on, by a fixed rule of its cost per window:
    the CNN's files run in ~0.1-5 ms (full sample, its 16x8 file included, so that every CNN
    variant is compared on the same windows), the transformer's in ~2-20 ms (core), its 16x8
    file in ~130-450 ms on reference kernels (min)."""
    if arch == Arch.TRANSFORMER.value:
        return "min" if mode == Mode.W8_A16.value else "core"
    return "full"


@dataclass
class EvalPlan:
    """Which windows are evaluated: the sample (and its nested levels) and the trace stretch."""

    protocol: str
    sample: Sample
    levels: dict[str, int]  # level -> windows
    trace: np.ndarray  # contiguous window starts

    @property
    def trace_is_sample(self) -> bool:
        return self.protocol != "stratified"

    def trace_for(self, level: str) -> np.ndarray:
        if self.trace_is_sample:
            return self.trace
        return self.trace[: max(1, min(len(self.trace), self.levels[level]))]


def window_rise(w: Windows, starts: np.ndarray, chunk: int = 50_000) -> np.ndarray:
    """Aggregate at each window's midpoint minus the window's minimum (its base load), in W."""
    view = np.lib.stride_tricks.sliding_window_view(w.split.aggregate_w, WINDOW)
    out = np.empty(len(starts))
    for lo in range(0, len(starts), chunk):
        s = starts[lo : lo + chunk]
        out[lo : lo + chunk] = w.split.aggregate_w[s + MIDPOINT] - view[s].min(axis=1)
    return out


def _strata_labels(w: Windows, starts: np.ndarray, threshold_w: float) -> np.ndarray:
    on = w.split.status[starts + MIDPOINT] > 0.5
    lookalike = window_rise(w, starts) >= threshold_w
    return np.where(on, 0, np.where(lookalike, 1, 2)).astype(np.int8)


def plan_windows(ctx: RunContext, w: Windows, appliance: Appliance, period: float) -> EvalPlan:
    cfg = ctx.cfg
    if len(w.starts) == 0:
        raise NotReadyError(f"the test split of {appliance.value} has no complete window")
    trace_n = max(1, int(cfg.eval_trace_hours * 3600 / period))
    if cfg.eval_protocol == "stratified":
        labels = _strata_labels(w, w.starts, APPLIANCES[appliance].on_threshold_w)
        sample = stratified_sample(
            w.starts,
            labels,
            list(STRATA),
            list(STRATA_SHARES),
            cfg.eval_windows or len(w.starts),
            cfg.seed,
        )
        trace = w.busiest(trace_n)
    else:
        block = (
            w.first(cfg.eval_windows)
            if cfg.eval_protocol == "first"
            else w.busiest(cfg.eval_windows)
        )
        sample = block_sample(block, max(1, int(3600 / period)))
        # a block is scored whole by every variant (its first m windows would stand for the
        # block no better than any other m), and it is its own trace
        n = len(sample)
        return EvalPlan(cfg.eval_protocol, sample, dict.fromkeys(LEVELS, n), block)
    n = len(sample)
    levels = {
        "full": n,
        "core": min(n, cfg.eval_core_windows),
        "min": min(n, cfg.eval_min_windows, cfg.eval_core_windows),
    }
    return EvalPlan(cfg.eval_protocol, sample, levels, trace)


# -- predictions -----------------------------------------------------------------------------


def predict_all(ctx: RunContext, variants: list[dict], needs: dict[str, np.ndarray], w: Windows):
    """Raw outputs of every variant on the starts it needs: {id: (outputs, seconds, runtime, xnn)}.

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
            x = w.inputs(needs[v["variant_id"]])
            pred = model.predict(x, batch_size=ctx.cfg.eval_batch, verbose=0).reshape(-1)
            out[v["variant_id"]] = (pred, time.perf_counter() - t0, "keras", False)
    tflite = [v for v in variants if v["mode"] != Mode.KERAS.value]
    runtimes = {v["variant_id"]: evaluation_runtime(_variant_path(ctx, v)) for v in tflite}
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
        pred = run_tflite(_variant_path(ctx, v), x, threads=1, runtime=rt)
        return v["variant_id"], lo, pred, time.perf_counter() - t0

    parts: dict[str, list] = {v["variant_id"]: [] for v in tflite}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for vid, lo, pred, seconds in pool.map(run, tasks):
            parts[vid].append((lo, pred, seconds))
    for vid, chunks in parts.items():
        chunks.sort(key=lambda c: c[0])
        preds = [c[1] for c in chunks] or [np.zeros(0, np.float32)]
        out[vid] = (np.concatenate(preds), sum(c[2] for c in chunks), *runtimes[vid])
    return out


def baseline_predictions(
    name: str, w: Windows, starts: np.ndarray, appliance: Appliance, train_power: dict
) -> np.ndarray:
    """Non-learned predictions (W) at the windows' midpoints.

    always_off: 0 W. mean_power: the training split's mean appliance power. aggregate_threshold:
    the aggregate's rise above the window's minimum (its base load); when the rise reaches the
    appliance's on threshold, the appliance is said to draw min(rise, its mean on-power).
    """
    if name == "always_off":
        return np.zeros(len(starts))
    if name == "mean_power":
        return np.full(len(starts), train_power["mean"])
    rise = window_rise(w, starts)
    on = rise >= APPLIANCES[appliance].on_threshold_w
    return np.where(on, np.minimum(rise, train_power["mean_on"]), 0.0)


def training_power(ctx: RunContext, appliance: Appliance) -> dict:
    """Mean appliance power of the training split (all samples, and 'on' samples only)."""
    path = split_path(ctx, appliance, Split.TRAIN)  # the file the store records
    t = pq.read_table(path, columns=["appliance_w", "status"])
    p = t.column("appliance_w").to_numpy().astype(np.float64)
    on = t.column("status").to_numpy() > 0.5
    return {
        "mean": float(p.mean()) if len(p) else 0.0,
        "mean_on": float(p[on].mean()) if on.any() else float(p.max(initial=0.0)),
    }


# -- scoring ---------------------------------------------------------------------------------


def _pred_status(pred: np.ndarray, appliance: Appliance) -> np.ndarray:
    """Sampled windows are isolated: their status is the threshold alone (no duration rule)."""
    return (pred >= APPLIANCES[appliance].on_threshold_w).astype(np.int8)


def score_sample(pred, truth, truth_on, design: Design, counts, appliance) -> Estimate:
    feats = window_features(truth, pred, truth_on, _pred_status(pred, appliance))
    return estimate(feats, design, counts)


def trace_metrics(split: SplitData, starts, pred, appliance: Appliance, period: float) -> dict:
    """The article's protocol on a contiguous stretch: duration-ruled status, masked metrics,
    energy per day by hourly chunks (kept under the epd_article_* names)."""
    params = APPLIANCES[appliance]
    mid = starts + MIDPOINT
    truth = split.appliance_w[mid].astype(np.float64)
    truth_on = split.status[mid]
    pred_on = status_by_segment(
        pred,
        split.segment[mid],
        params.on_threshold_w,
        duration_samples(params.min_on_s, period),
        duration_samples(params.min_off_s, period),
    )
    out = all_metrics(truth, pred, truth_on, pred_on, period)
    for k in ("epd_true_wh", "epd_pred_wh", "epd_error_pct"):
        out.pop(k)
    ta = energy_per_day(truth * truth_on, period)
    pa_ = energy_per_day(pred * pred_on, period)
    out["epd_article_true_wh"] = ta
    out["epd_article_pred_wh"] = pa_
    out["epd_article_error_pct"] = epd_error_pct(ta[0], pa_[0])
    return out, pred_on


# -- the stage -------------------------------------------------------------------------------


@dataclass
class Rows:
    metrics: list
    deltas: list
    evaluations: list
    traces: list
    baselines: list
    window_info: dict


def _metric_rows(vid: str, est: Estimate, n: int) -> list[dict]:
    rows = []
    for m in SAMPLE_METRICS:
        value = est.value[m]
        ok = np.isfinite(value)
        rows.append(
            {
                "variant_id": vid,
                "split": Split.TEST.value,
                "metric": m,
                "value": float(value) if ok else None,
                "reason": None if ok else _reason(m),
                "ci_low": _num(est.low.get(m)),
                "ci_high": _num(est.high.get(m)),
                "n_windows": n,
            }
        )
    return rows


def _reason(metric: str) -> str:
    from pipeline.estimate import REASONS

    return REASONS.get(metric, "undefined on the windows of the test span")


def _num(x):
    return float(x) if x is not None and np.isfinite(x) else None


def _write_trace(ctx, vid, split, starts, pred, pred_on, sha) -> dict:
    mid = starts + MIDPOINT
    table = pa.table(
        {
            "time": pa.array(split.unix[mid].astype("datetime64[s]")),
            "aggregate_w": split.aggregate_w[mid].astype(np.float32),
            "truth_w": split.appliance_w[mid].astype(np.float32),
            "pred_w": np.asarray(pred, np.float32),
            "truth_on": split.status[mid].astype(np.int8),
            "pred_on": np.asarray(pred_on, np.int8),
        }
    )
    # a new content-addressed file: a published trace is never rewritten
    path, _ = artifacts.write_artifact(
        ctx.artifacts / "traces",
        vid,
        ".parquet",
        lambda p: pq.write_table(table, p, row_group_size=TRACE_ROW_GROUP),
    )
    return {
        "variant_id": vid,
        "appliance": split_appliance(vid),
        "split": Split.TEST.value,
        "path": ctx.rel(path),
        "rows": len(starts),
        "file_sha256": sha,
    }


def split_appliance(vid: str) -> str:
    return vid.split(".")[0]


class Scorer:
    """Scores predictions made on (part of) the sample, with one set of resamples per level so
    that any two variants scored on the same level are paired window by window."""

    def __init__(self, plan: EvalPlan, truth, truth_on, appliance, B: int, seed: int):
        self.plan, self.truth, self.truth_on, self.appliance = plan, truth, truth_on, appliance
        self.B, self.seed = B, seed
        self._subsets: dict[int, tuple] = {}

    def subset(self, m: int):
        if m not in self._subsets:
            mask, design = self.plan.sample.subset(m)
            self._subsets[m] = (mask, design, design.resample_counts(self.B, self.seed + m))
        return self._subsets[m]

    def score(self, pred_on_sample: np.ndarray, m: int) -> Estimate:
        """pred_on_sample: predictions for the sample's windows (NaN where not evaluated)."""
        mask, design, counts = self.subset(m)
        return score_sample(
            pred_on_sample[mask],
            self.truth[mask],
            self.truth_on[mask],
            design,
            counts,
            self.appliance,
        )


def evaluate_appliance(ctx: RunContext, appliance: Appliance, variants: list[dict], article: bool):
    split, row = load_split(ctx, appliance, Split.TEST)
    params = APPLIANCES[appliance]
    w = Windows(split, AGG_MEAN_W, AGG_STD_W, params.max_power_w)
    period = float(row["sample_period_s"])
    plan = plan_windows(ctx, w, appliance, period)
    level = {v["variant_id"]: sample_level(v["arch"], v["mode"]) for v in variants}
    masks = {lv: plan.sample.subset(m)[0] for lv, m in plan.levels.items()}
    needs = {
        vid: plan.sample.starts[masks[lv]]
        if plan.trace_is_sample
        else np.concatenate([plan.sample.starts[masks[lv]], plan.trace_for(lv)])
        for vid, lv in level.items()
    }
    raw = predict_all(ctx, variants, needs, w)
    mid = plan.sample.starts + MIDPOINT
    truth, truth_on = split.appliance_w[mid].astype(np.float64), split.status[mid]
    scorer = Scorer(plan, truth, truth_on, appliance, ctx.cfg.eval_bootstrap, ctx.cfg.seed)
    rows = Rows([], [], [], [], [], {})
    on_sample: dict[str, np.ndarray] = {}
    for v in variants:
        vid, lv = v["variant_id"], level[v["variant_id"]]
        pred_norm, seconds, runtime, xnn = raw[vid]
        pred = postprocess(pred_norm, appliance, article)
        k = int(masks[lv].sum())
        full = np.full(len(plan.sample), np.nan)
        full[masks[lv]] = pred[:k]
        on_sample[vid] = full
        est = scorer.score(full, plan.levels[lv])
        rows.metrics += _metric_rows(vid, est, k)
        trace_starts = plan.trace_for(lv)
        pred_trace = pred[:k] if plan.trace_is_sample else pred[k:]
        tm, pred_on = trace_metrics(split, trace_starts, pred_trace, appliance, period)
        rows.metrics += _trace_metric_rows(vid, tm, len(trace_starts))
        rows.traces.append(
            _write_trace(ctx, vid, split, trace_starts, pred_trace, pred_on, v["sha256"])
        )
        rows.evaluations.append(
            {
                "variant_id": vid,
                "split": Split.TEST.value,
                "runtime": runtime,
                "xnnpack": xnn,
                "file_sha256": v["sha256"],
                "subset": lv,
                "n_windows": len(needs[vid]),
                "seconds": seconds,
            }
        )
        ctx.console.print(
            f"evaluate: {vid}: F1 {_fmt(est, 'f1')} MAE {_fmt(est, 'mae', 1)} W on {k:,} "
            f"sampled windows ({seconds:.1f} s with {runtime})"
        )
    rows.deltas = _deltas(variants, on_sample, level, plan, scorer)
    _score_baselines(ctx, appliance, w, plan, scorer, rows)
    rows.window_info = _window_info(appliance, split, row, plan, article, ctx)
    return rows


def _fmt(est: Estimate, m: str, nd: int = 3) -> str:
    v, lo, hi = est.value[m], est.low[m], est.high[m]
    if not np.isfinite(v):
        return "n/a"
    if np.isfinite(lo):
        return f"{v:.{nd}f} [{lo:.{nd}f}, {hi:.{nd}f}]"
    return f"{v:.{nd}f}"


def _trace_metric_rows(vid: str, tm: dict, n: int) -> list[dict]:
    return [
        {
            "variant_id": vid,
            "split": TRACE_SPLIT,
            "metric": name,
            "value": float(value) if np.isfinite(value) else None,
            "reason": reason,
            "ci_low": None,
            "ci_high": None,
            "n_windows": n,
        }
        for name, (value, reason) in tm.items()
    ]


def _deltas(variants, on_sample, level, plan: EvalPlan, scorer: Scorer) -> list[dict]:
    """Each TFLite variant minus its Keras float model, paired on the windows both saw (the
    smaller of their two nested samples), with the same resamples for both."""
    keras = {v["model_id"]: v["variant_id"] for v in variants if v["mode"] == Mode.KERAS.value}
    rows = []
    for v in variants:
        vid, ref = v["variant_id"], keras.get(v["model_id"])
        if v["mode"] == Mode.KERAS.value or ref is None:
            continue
        m = min(plan.levels[level[vid]], plan.levels[level[ref]])
        a, b = scorer.score(on_sample[vid], m), scorer.score(on_sample[ref], m)
        n = int(scorer.subset(m)[0].sum())
        for metric in DELTA_METRICS:
            d, lo, hi = paired_delta(a, b, metric)
            rows.append(
                {
                    "variant_id": vid,
                    "reference_id": ref,
                    "split": Split.TEST.value,
                    "metric": metric,
                    "delta": _num(d),
                    "ci_low": _num(lo),
                    "ci_high": _num(hi),
                    "n_windows": n,
                    "distinguishable": (
                        None if _num(lo) is None or _num(hi) is None else bool(lo > 0 or hi < 0)
                    ),
                }
            )
    return rows


def _score_baselines(ctx, appliance, w, plan: EvalPlan, scorer: Scorer, rows: Rows) -> None:
    power = training_power(ctx, appliance)
    n = plan.levels["full"]
    for name in BASELINES:
        vid = f"{appliance.value}.baseline.{name}"
        pred = baseline_predictions(name, w, plan.sample.starts, appliance, power)
        est = scorer.score(pred, n)
        rows.metrics += _metric_rows(vid, est, n)
        rows.evaluations.append(
            {
                "variant_id": vid,
                "split": Split.TEST.value,
                "runtime": "baseline",
                "xnnpack": False,
                "file_sha256": None,
                "subset": "full",
                "n_windows": n,
                "seconds": 0.0,
            }
        )
        rows.baselines.append(
            {
                "variant_id": vid,
                "model_id": f"{appliance.value}.baseline",
                "appliance": appliance.value,
                "arch": "baseline",
                "mode": name,
                "status": "ok",
                "kind": "baseline",
                "converter_settings": json.dumps({"training_power_w": power}),
            }
        )
        ctx.console.print(f"evaluate: {vid}: F1 {_fmt(est, 'f1')} MAE {_fmt(est, 'mae', 1)} W")


def _window_info(appliance, split, row, plan: EvalPlan, article: bool, ctx) -> dict:
    sample = plan.sample
    mid = sample.starts + MIDPOINT
    tmid = plan.trace + MIDPOINT
    _, design = sample.subset(None)
    level_of = np.full(len(sample), "full", dtype=object)
    for lv in ("core", "min"):  # nested: the smaller level overwrites
        level_of[sample.subset(plan.levels[lv])[0]] = lv
    table = pa.table(
        {
            "start": sample.starts,
            "midpoint_time": pa.array(split.unix[mid].astype("datetime64[s]")),
            "stratum": [sample.strata[h]["name"] for h in sample.stratum],
            "weight": design.weight,
            "smallest_level": level_of.astype(str),
        }
    )
    sample_path, _ = artifacts.write_artifact(
        ctx.artifacts / "eval",
        f"{appliance.value}.sample",
        ".parquet",
        lambda p: pq.write_table(table, p),
    )
    return {
        "appliance": appliance.value,
        "split": Split.TEST.value,
        "first_time": _ts(split.unix[mid].min()) if len(mid) else None,
        "last_time": _ts(split.unix[mid].max()) if len(mid) else None,
        "n_windows": int(len(sample)),
        "windows_hash": hashlib.sha256(sample.starts.tobytes()).hexdigest()[:16],
        "postprocess": "article_threshold" if article else "clip_negative",
        "protocol": plan.protocol,
        "population_windows": int(sample.population.sum()),
        "core_windows": int(plan.levels["core"]),
        "strata": json.dumps({"strata": sample.strata, "levels": plan.levels}),
        "sample_path": ctx.rel(sample_path),
        "test_houses": str(row["houses"]),
        "trace_first_time": _ts(split.unix[tmid[0]]),
        "trace_last_time": _ts(split.unix[tmid[-1]]),
        "seed": ctx.cfg.seed,
    }


def _ts(unix):
    return np.datetime64(int(unix), "s").astype(object)


def _write(con, rows: Rows, variant_ids: list[str]) -> None:
    info = rows.window_info
    con.execute(
        "DELETE FROM eval_windows WHERE appliance = ? AND split = ?",
        [info["appliance"], info["split"]],
    )
    db.insert_records(con, "eval_windows", [info])
    ids = variant_ids + [b["variant_id"] for b in rows.baselines]
    for table in ("metrics", "metric_deltas", "evaluations", "traces"):
        con.execute(f"DELETE FROM {table} WHERE variant_id IN (SELECT unnest(?))", [ids])
    con.execute(
        "DELETE FROM variants WHERE kind = 'baseline' AND appliance = ?", [info["appliance"]]
    )
    db.insert_records(con, "variants", rows.baselines)
    db.insert_records(con, "metrics", rows.metrics)
    db.insert_records(con, "metric_deltas", rows.deltas)
    db.insert_records(con, "evaluations", rows.evaluations)
    db.insert_records(con, "traces", rows.traces)


def _check_files(ctx: RunContext, records: list[dict]) -> None:
    """The file evaluated must be the one the store describes (and that profile measures)."""
    for v in records:
        path = _variant_path(ctx, v)
        if v.get("sha256") and sha256_of(path) != v["sha256"]:
            raise ModelFileError(
                f"{path}: sha256 differs from the store's record; run `pipeline convert --force`"
            )


def run_evaluate(ctx: RunContext) -> None:
    from pipeline.convert import quiet_tf

    quiet_tf()
    article = bool(ctx.options.get("article_postprocess", False))
    cfg = ctx.cfg
    for appliance in ctx.appliances:
        variants = (
            ctx.read(
                "SELECT * FROM variants WHERE appliance = ? AND status = 'ok' AND kind = 'model' "
                "AND arch IN (SELECT unnest(?)) ORDER BY variant_id",
                [appliance.value, [a.value for a in ctx.archs]],
            )
            if ctx.store.exists()
            else None
        )
        if variants is None or variants.empty:
            raise NotReadyError(
                f"no variants of {appliance.value} in the store: run `pipeline convert` first"
            )
        data_sha = ctx.read(
            "SELECT dataset_id, sha256 FROM datasets WHERE appliance = ? ORDER BY dataset_id",
            [appliance.value],
        )
        records = variants.to_dict("records")
        key = stable_hash(
            [
                data_sha.values.tolist(),
                sorted((v["variant_id"], v["sha256"]) for v in records),
                cfg.eval_protocol,
                cfg.eval_windows,
                cfg.eval_core_windows,
                cfg.eval_min_windows,
                cfg.eval_trace_hours,
                cfg.eval_bootstrap,
                cfg.seed,
                article,
                EVAL_CODE_VERSION,
            ]
        )
        item = f"{appliance.value}:{','.join(a.value for a in ctx.archs)}"
        if ctx.skip_if_current("evaluate", item, key, label=appliance.value):
            continue
        _check_files(ctx, records)
        t0 = time.perf_counter()
        rows = evaluate_appliance(ctx, appliance, records, article)
        ids = [v["variant_id"] for v in records]
        ctx.commit(
            "evaluate",
            item,
            key,
            time.perf_counter() - t0,
            lambda con, r=rows, ids=ids: _write(con, r, ids),
        )
