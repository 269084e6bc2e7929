"""Evaluation stage: every variant and baseline of an appliance on the same test windows.

Protocol ``stratified`` (default): a random sample across the whole test span, stratified by
ground-truth status and aggregate activity, weighted so metrics estimate the whole span, with
95 % bootstrap intervals and paired differences from the float model (see pipeline/evaluate/estimate.py).
A variant sees the whole sample or a nested sub-sample by its cost (``sample_level``): the
transformer's per-window cost is ~10x the CNN's and 16x8 kernels another ~20x. A contiguous
stretch (the busiest ``eval_trace_hours``) is also predicted by every variant: it feeds the
trace viewer and the article-style metrics (split ``test_trace``, status with the duration
rules, the article's energy per day). Protocols ``first`` / ``busiest`` score one contiguous
block (``first`` is the article's: the first N windows), resampled by hours for intervals.

The work is split by responsibility: pipeline/evaluate/sample.py (which windows, the levels),
pipeline/evaluate/predict.py (every variant's predictions), pipeline/evaluate/scoring.py (estimates,
trace metrics, paired deltas), pipeline/evaluate/baselines.py (non-learned baselines),
pipeline/evaluate/rows.py (rows, trace and sample files, the store update); this module runs them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from pipeline.core.context import RunContext
from pipeline.core.executors import is_remote
from pipeline.core.hashing import array_sha256, stable_hash
from pipeline.core.hashing import file_sha256 as sha256_of
from pipeline.data.stage import load_split
from pipeline.data.windows import SplitData, Windows
from pipeline.errors import ModelFileError, NotReadyError
from pipeline.evaluate.baselines import score_baselines
from pipeline.evaluate.predict import postprocess, predict_all, variant_path
from pipeline.evaluate.rows import Rows, evaluation_record, window_info, write, write_trace
from pipeline.evaluate.sample import EvalPlan, plan_windows, sample_level, trace_level
from pipeline.evaluate.scoring import (
    Scorer,
    deltas,
    fmt,
    metric_rows,
    pair_rows,
    threshold_status,
    trace_metric_rows,
    trace_metrics,
)
from pipeline.evaluate.shards import predict_remote
from pipeline.settings.constants import AGG_MEAN_W, AGG_STD_W, APPLIANCES, MIDPOINT
from pipeline.settings.stages import settings_key, stage_settings
from store import ids
from store.vocab import Appliance, Mode, Split

EVAL_CODE_VERSION = "e11"  # e11: the transformer's XNNPACK int8 files on the reference sample, files of the full level predict the whole trace; e10: zero-event rates pooled along the off strata chain, Jeffreys prior for unseen disagreements


@dataclass
class ApplianceScoring:
    """What every variant of one appliance is scored against, and the rows gathered so far."""

    ctx: RunContext
    appliance: Appliance
    article: bool
    split: SplitData
    period: float
    plan: EvalPlan
    masks: dict[str, np.ndarray]
    scorer: Scorer
    rows: Rows

    def score_variant(self, v: dict, lv: str, raw: tuple, n_needed: int) -> np.ndarray:
        """Score one variant's predictions on its level of the sample and its trace stretch;
        returns its predictions on the sample's windows (NaN where it did not predict)."""
        vid, (pred_norm, seconds, runtime, xnn) = v["variant_id"], raw
        pred = postprocess(pred_norm, self.appliance, self.article)
        k = int(self.masks[lv].sum())
        full = np.full(len(self.plan.sample), np.nan)
        full[self.masks[lv]] = pred[:k]
        est = self.scorer.score(full, self.plan.levels[lv])
        self.rows.metrics += metric_rows(vid, est, k)
        self.rows.metrics += self.scorer.house_rows(vid, full, self.plan.levels[lv])
        self._score_trace(v, pred[:k] if self.plan.trace_is_sample else pred[k:])
        on = int(np.sum(self.scorer.truth_on[self.masks[lv]] > 0))
        self.rows.evaluations.append(
            evaluation_record(vid, runtime, xnn, v["sha256"], lv, n_needed, seconds, on)
        )
        self.ctx.console.print(
            f"evaluate: {vid}: F1 {fmt(est, 'f1')} MAE {fmt(est, 'mae', 1)} W on {k:,} "
            f"sampled windows ({seconds:.1f} s with {runtime})"
        )
        return full

    def _score_trace(self, v: dict, pred_trace: np.ndarray) -> None:
        vid, starts = v["variant_id"], self.plan.trace_for(trace_level(v["arch"], v["mode"]))
        tm, pred_on, truth_on = trace_metrics(
            self.split, starts, pred_trace, self.appliance, self.period
        )
        self.rows.metrics += trace_metric_rows(vid, tm, len(starts))
        self.rows.traces.append(
            write_trace(
                self.ctx, vid, self.split, starts, pred_trace, pred_on, v["sha256"], truth_on
            )
        )


def evaluate_appliance(ctx: RunContext, appliance: Appliance, variants: list[dict], article: bool):
    split, row = load_split(ctx, appliance, Split.TEST)
    w = Windows(split, AGG_MEAN_W, AGG_STD_W, APPLIANCES[appliance].max_power_w)
    period = float(row["sample_period_s"])
    plan = plan_windows(ctx, w, appliance, period)
    level = {v["variant_id"]: sample_level(v["arch"], v["mode"]) for v in variants}
    masks = plan.masks()
    tlevel = {v["variant_id"]: trace_level(v["arch"], v["mode"]) for v in variants}
    needs = plan.needs(level, masks, tlevel)
    raw = _predict_once_per_file(ctx, variants, needs, w, row["sha256"])
    mid = plan.sample.starts + MIDPOINT
    truth = split.appliance_w[mid].astype(np.float64)
    truth_on = threshold_status(truth, appliance)
    scorer = Scorer(
        plan, truth, truth_on, appliance, ctx.cfg.eval_bootstrap, ctx.cfg.seed, split.house[mid]
    )
    scoring = ApplianceScoring(ctx, appliance, article, split, period, plan, masks, scorer, Rows())
    on_sample = {
        v["variant_id"]: scoring.score_variant(
            v, level[v["variant_id"]], raw[v["variant_id"]], len(needs[v["variant_id"]])
        )
        for v in variants
    }
    rows = scoring.rows
    rows.deltas = deltas(variants, on_sample, level, plan, scorer)
    base = score_baselines(ctx, appliance, w, plan, scorer, rows)
    window_level = {vid: plan.levels[lv] for vid, lv in level.items()}
    window_level.update(dict.fromkeys(base, plan.levels["full"]))
    rows.pairs = pair_rows({**on_sample, **base}, window_level, scorer)
    rows.window_info = window_info(appliance, split, row, plan, article, ctx)
    return rows


def same_file_groups(variants: list[dict], needs: dict[str, np.ndarray]) -> dict[str, str]:
    """{variant id: the variant whose predictions it shares}: TFLite files with the same sha256
    that need the same windows predict the same numbers (the interpreter is chosen by a fixed
    rule from the file), so each such file is run once."""
    first: dict[tuple, str] = {}
    out = {}
    for v in variants:
        vid = v["variant_id"]
        if v["mode"] == Mode.KERAS.value or not v.get("sha256"):
            out[vid] = vid
            continue
        key = (v["sha256"], needs[vid].tobytes())
        out[vid] = first.setdefault(key, vid)
    return out


# Predictions made in this run, by what determines them: `pipeline all` evaluates an appliance's
# CNN alone first (its answer early), then with every architecture; the second evaluation scores
# the CNN's predictions again without running its files again. Keyed by run, emptied when
# `pipeline all` ends; one float32 per window (a few MB for a whole default run).
_PREDICTIONS: dict[tuple, tuple] = {}


def forget_predictions() -> None:
    _PREDICTIONS.clear()


def prediction_key(ctx, data_sha: str, v: dict, starts: np.ndarray) -> tuple | None:
    """What fixes a variant's raw predictions: the run, the test split's file, the variant's
    file (the interpreter follows from it by a fixed rule), the windows, the Keras batch and
    where it runs; None for a variant without a recorded file hash (predicted afresh)."""
    if not v.get("sha256"):
        return None
    digest = (starts.dtype.str, array_sha256(starts))
    where = (ctx.cfg.eval_batch, is_remote(ctx))
    return (ctx.run_id, data_sha, v["mode"] == Mode.KERAS.value, v["sha256"], digest, where)


def _predict_once_per_file(
    ctx: RunContext, variants: list[dict], needs: dict, w: Windows, data_sha: str
):
    leader = same_file_groups(variants, needs)
    keys = {
        v["variant_id"]: prediction_key(ctx, data_sha, v, needs[v["variant_id"]]) for v in variants
    }
    raw = {vid: _PREDICTIONS[k] for vid, k in keys.items() if k in _PREDICTIONS}
    for vid in raw:
        ctx.console.print(f"evaluate: {vid}: predicted earlier in this run; its predictions reused")
    todo = [
        v
        for v in variants
        if leader[v["variant_id"]] == v["variant_id"] and v["variant_id"] not in raw
    ]
    # a remote executor (Ray) predicts shards of windows as tasks (pipeline/evaluate/shards.py)
    predict = predict_remote if is_remote(ctx) else predict_all
    fresh = _predict_unique(predict, ctx, todo, needs, w) if todo else {}
    for vid, out in fresh.items():
        if keys[vid] is not None:
            _PREDICTIONS[keys[vid]] = out
    raw.update(fresh)
    for vid, lead in leader.items():
        if lead != vid and vid not in raw:
            ctx.console.print(f"evaluate: {vid}: the same file as {lead}; its predictions reused")
            raw[vid] = raw[lead]
    return raw


def _predict_unique(predict, ctx: RunContext, variants: list[dict], needs: dict, w: Windows):
    """``predict`` on each window once: a variant's sample and its trace stretch share windows
    (~10 % of a CNN file's in the default run); the outputs are laid out as ``needs`` asks."""
    unique = {
        v["variant_id"]: np.unique(needs[v["variant_id"]], return_inverse=True) for v in variants
    }
    out = predict(ctx, variants, {vid: u for vid, (u, _) in unique.items()}, w)
    return {vid: (pred[unique[vid][1]], *rest) for vid, (pred, *rest) in out.items()}


def _check_files(ctx: RunContext, records: list[dict]) -> None:
    """The file evaluated must be the one the store describes (and that profile measures)."""
    for v in records:
        path = variant_path(ctx, v)
        if v.get("sha256") and sha256_of(path) != v["sha256"]:
            raise ModelFileError(
                f"{path}: sha256 differs from the store's record; run `pipeline convert --force`"
            )


def _variants_of(ctx: RunContext, appliance: Appliance) -> list[dict]:
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
    return variants.to_dict("records")


def _cache_key(ctx: RunContext, appliance: Appliance, records: list[dict]) -> str:
    data_sha = ctx.read(
        "SELECT dataset_id, sha256 FROM datasets WHERE appliance = ? ORDER BY dataset_id",
        [appliance.value],
    )
    settings = stage_settings("evaluate", ctx.cfg, ctx.options)
    return evaluate_key(settings, data_sha[["dataset_id", "sha256"]].values.tolist(), records)


def evaluate_key(settings, datasets: list, records: list[dict]) -> str:
    """The cache key of one appliance's evaluation: its splits' files, its variants' files,
    the EvaluateSettings and the code's version."""
    return stable_hash(
        [
            datasets,
            sorted((v["variant_id"], v["sha256"]) for v in records),
            *settings_key(settings),
            EVAL_CODE_VERSION,
        ]
    )


def run_evaluate(ctx: RunContext) -> None:
    from pipeline.core.quiet import quiet_tf

    quiet_tf()
    article = ctx.options.article_postprocess
    for appliance in ctx.appliances:
        records = _variants_of(ctx, appliance)
        key = _cache_key(ctx, appliance, records)
        item = ids.evaluate_item(appliance, ctx.archs)
        if ctx.skip_if_current("evaluate", item, key, label=appliance.value):
            continue
        _check_files(ctx, records)
        t0 = time.perf_counter()
        rows = evaluate_appliance(ctx, appliance, records, article)
        vids = [v["variant_id"] for v in records]
        ctx.commit(
            "evaluate",
            item,
            key,
            time.perf_counter() - t0,
            lambda con, r=rows, vids=vids: write(con, r, vids),
        )
