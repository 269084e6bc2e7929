"""Non-learned baselines, scored on the same sample as the models (variants of kind 'baseline')."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq

from pipeline.core.context import RunContext
from pipeline.data.stage import split_path
from pipeline.data.strata import window_rise
from pipeline.data.windows import Windows
from pipeline.evaluate.rows import Rows, evaluation_record
from pipeline.evaluate.sample import EvalPlan
from pipeline.evaluate.scoring import Scorer, fmt, metric_rows
from pipeline.settings.constants import APPLIANCES
from store import ids
from store.vocab import BASELINE_ARCH, Appliance, Baseline, Kind, Split

BASELINES = tuple(b.value for b in Baseline)


def baseline_predictions(
    name: str, w: Windows, starts: np.ndarray, appliance: Appliance, train_power: dict
) -> np.ndarray:
    """Non-learned predictions (W) at the windows' midpoints.

    always_off: 0 W. mean_power: the training split's mean appliance power. aggregate_threshold:
    the aggregate's rise above the window's minimum (its base load); when the rise reaches the
    appliance's on threshold, the appliance is said to draw min(rise, its mean on-power).
    """
    if name == Baseline.ALWAYS_OFF:
        return np.zeros(len(starts))
    if name == Baseline.MEAN_POWER:
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


def _baseline_variant(appliance: Appliance, vid: str, name: str, power: dict) -> dict:
    return {
        "variant_id": vid,
        "model_id": ids.baseline_model_id(appliance),
        "appliance": appliance.value,
        "arch": BASELINE_ARCH,
        "mode": name,
        "status": "ok",
        "kind": Kind.BASELINE.value,
        "converter_settings": json.dumps({"training_power_w": power}),
    }


def score_baselines(ctx, appliance, w, plan: EvalPlan, scorer: Scorer, rows: Rows) -> dict:
    """Every baseline on the full sample: its metrics, evaluation and variants rows; returns
    each baseline's predictions on the sample's windows."""
    power = training_power(ctx, appliance)
    n = plan.levels["full"]
    preds = {}
    for name in BASELINES:
        vid = ids.variant_id(ids.baseline_model_id(appliance), name)
        pred = baseline_predictions(name, w, plan.sample.starts, appliance, power)
        preds[vid] = pred
        est = scorer.score(pred, n)
        rows.metrics += metric_rows(vid, est, n)
        rows.metrics += scorer.house_rows(vid, pred, n)
        rows.evaluations.append(
            evaluation_record(
                vid, BASELINE_ARCH, False, None, "full", n, 0.0, int(np.sum(scorer.truth_on > 0))
            )
        )
        rows.baselines.append(_baseline_variant(appliance, vid, name, power))
        ctx.console.print(f"evaluate: {vid}: F1 {fmt(est, 'f1')} MAE {fmt(est, 'mae', 1)} W")
    return preds
