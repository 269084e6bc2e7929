"""Scoring predictions: the weighted sample estimates with bootstrap intervals, the article's
metrics on the contiguous trace, and each TFLite variant's paired difference from its float
model; all as rows of the metrics and metric_deltas tables."""

from __future__ import annotations

import numpy as np

from pipeline.data.onoff import duration_samples, status_by_segment
from pipeline.data.windows import SplitData
from pipeline.evaluate.estimate import (
    REASONS,
    Design,
    Estimate,
    _percentiles,
    estimate,
    paired_delta,
    window_features,
)
from pipeline.evaluate.metrics import all_metrics
from pipeline.evaluate.sample import EvalPlan
from pipeline.settings.constants import APPLIANCES, MIDPOINT
from store import ids
from store.vocab import PAIRED_METRICS, SAMPLE_METRICS, TRACE_SPLIT, Appliance, Mode, Split

DELTA_METRICS = PAIRED_METRICS  # each TFLite variant minus its float model


def threshold_status(power: np.ndarray, appliance: Appliance) -> np.ndarray:
    """Sampled windows are isolated: their status, truth's and prediction's alike, is the
    threshold alone (a duration rule needs the neighbours a sampled window does not have)."""
    return (np.asarray(power, float) >= APPLIANCES[appliance].on_threshold_w).astype(np.int8)


def score_sample(pred, truth, truth_on, design: Design, counts, appliance, domain=None) -> Estimate:
    """Weighted estimates over the sample; with ``domain`` (a mask over these windows), of that
    part of the span alone (a domain estimate: the same weights and resamples, the windows
    outside the domain count as zero, so the interval keeps the design's sampling error)."""
    feats = window_features(truth, pred, truth_on, threshold_status(pred, appliance))
    if domain is not None:
        feats = feats * np.asarray(domain, float)[:, None]
    return estimate(feats, design, counts)


def trace_metrics(split: SplitData, starts, pred, appliance: Appliance, period: float):
    """The article's protocol on a contiguous stretch: duration-ruled status, masked metrics,
    energy per day by hourly chunks (kept under the epd_article_* names). Truth and prediction
    get the same status rule on the same stretch (an activation cut by the stretch's edge is
    judged alike in both). Returns (metrics, predicted status, true status)."""
    params = APPLIANCES[appliance]
    mid = starts + MIDPOINT
    truth = split.appliance_w[mid].astype(np.float64)

    def status(power):
        return status_by_segment(
            power,
            split.segment[mid],
            params.on_threshold_w,
            duration_samples(params.min_on_s, period),
            duration_samples(params.min_off_s, period),
        )

    truth_on, pred_on = status(truth), status(np.asarray(pred, np.float64))
    out = all_metrics(truth, pred, truth_on, pred_on, period)
    return out, pred_on, truth_on


class Scorer:
    """Scores predictions made on (part of) the sample, with one set of resamples per level so
    that any two variants scored on the same level are paired window by window."""

    def __init__(self, plan: EvalPlan, truth, truth_on, appliance, B: int, seed: int, houses=None):
        self.plan, self.truth, self.truth_on, self.appliance = plan, truth, truth_on, appliance
        self.B, self.seed = B, seed
        self.houses = houses  # test house of each sample window (None: not known)
        found = [] if houses is None else sorted(int(h) for h in np.unique(houses))
        self._test_houses = found if len(found) > 1 else []
        self._subsets: dict[int, tuple] = {}

    def test_houses(self) -> list[int]:
        """The test houses, when there are several (each then gets its own estimates)."""
        return self._test_houses

    def subset(self, m: int):
        if m not in self._subsets:
            mask, design = self.plan.sample.subset(m)
            self._subsets[m] = (mask, design, design.resample_counts(self.B, self.seed + m))
        return self._subsets[m]

    def score(self, pred_on_sample: np.ndarray, m: int, house: int | None = None) -> Estimate:
        """pred_on_sample: predictions for the sample's windows (NaN where not evaluated);
        ``house``: the estimate for that test house alone."""
        mask, design, counts = self.subset(m)
        domain = None if house is None else self.houses[mask] == house
        return score_sample(
            pred_on_sample[mask],
            self.truth[mask],
            self.truth_on[mask],
            design,
            counts,
            self.appliance,
            domain,
        )

    def house_rows(self, vid: str, pred_on_sample: np.ndarray, m: int) -> list[dict]:
        """When the test span holds several houses: each house's own estimates (split
        ``test@house<N>``), so a reader sees how a model transfers to each unseen house."""
        rows = []
        for h in self.test_houses():
            est = self.score(pred_on_sample, m, house=h)
            n = int((self.houses[self.subset(m)[0]] == h).sum())
            rows += metric_rows(vid, est, n, ids.house_split(h))
        return rows


def num(x):
    return float(x) if x is not None and np.isfinite(x) else None


def _reason(metric: str) -> str:
    return REASONS.get(metric, "undefined on the windows of the test span")


def fmt(est: Estimate, m: str, nd: int = 3) -> str:
    """A metric and its interval, for the console."""
    v, lo, hi = est.value[m], est.low[m], est.high[m]
    if not np.isfinite(v):
        return "n/a"
    if np.isfinite(lo):
        return f"{v:.{nd}f} [{lo:.{nd}f}, {hi:.{nd}f}]"
    return f"{v:.{nd}f}"


def metric_rows(vid: str, est: Estimate, n: int, split: str = Split.TEST.value) -> list[dict]:
    rows = []
    for m in SAMPLE_METRICS:
        value = est.value[m]
        ok = np.isfinite(value)
        rows.append(
            {
                "variant_id": vid,
                "split": split,
                "metric": m,
                "value": float(value) if ok else None,
                "reason": None if ok else _reason(m),
                "ci_low": num(est.low.get(m)),
                "ci_high": num(est.high.get(m)),
                "n_windows": n,
            }
        )
    return rows


def trace_metric_rows(vid: str, tm: dict, n: int) -> list[dict]:
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


def _delta_rows(vid: str, ref: str, a: Estimate, b: Estimate, n: int) -> list[dict]:
    rows = []
    for metric in DELTA_METRICS:
        d, lo, hi = paired_delta(a, b, metric)
        rows.append(
            {
                "variant_id": vid,
                "reference_id": ref,
                "split": Split.TEST.value,
                "metric": metric,
                "delta": num(d),
                "ci_low": num(lo),
                "ci_high": num(hi),
                "n_windows": n,
                "distinguishable": (
                    None if num(lo) is None or num(hi) is None else bool(lo > 0 or hi < 0)
                ),
            }
        )
    return rows


PAIR_METRICS = ("f1", "mae", "abs_epd_error_pct")


def _pair_values(est: Estimate, metric: str):
    """(point value, resampled values or None) of a metric compared between any two entries."""
    if metric == "abs_epd_error_pct":
        b = est.boot.get("epd_error_pct")
        return abs(est.value["epd_error_pct"]), None if b is None else np.abs(b)
    return est.value[metric], est.boot.get(metric)


def pair_rows(on_sample: dict, window_level: dict, scorer: Scorer) -> list[dict]:
    """Every ordered pair of an appliance's entries (variants and baselines): the paired
    difference of F1, MAE and the absolute energy-per-day error, on the windows both saw (the
    smaller of their nested levels), with the same resamples for both. The recommendation
    compares variants, and each variant with the baselines, by these."""
    cache: dict[tuple, Estimate] = {}

    def est(vid: str, m: int) -> Estimate:
        if (vid, m) not in cache:
            cache[(vid, m)] = scorer.score(on_sample[vid], m)
        return cache[(vid, m)]

    rows, ids = [], sorted(on_sample)
    for i, a in enumerate(ids):
        for b in ids[i + 1 :]:
            m = min(window_level[a], window_level[b])
            mask = scorer.subset(m)[0]
            n, n_on = int(mask.sum()), int(np.sum(scorer.truth_on[mask] > 0))
            for metric in PAIR_METRICS:
                d, lo, hi = _pair(est(a, m), est(b, m), metric)
                # both directions: b - a is the negated difference, its interval flipped
                for x, y, sign in ((a, b, 1.0), (b, a, -1.0)):
                    ends = (lo, hi) if sign > 0 else (-hi, -lo)
                    rows.append(
                        {
                            "variant_id": x,
                            "other_id": y,
                            "split": Split.TEST.value,
                            "metric": metric,
                            "delta": num(sign * d),
                            "ci_low": num(ends[0]),
                            "ci_high": num(ends[1]),
                            "n_windows": n,
                            "on_windows": n_on,
                        }
                    )
    return rows


def _pair(a: Estimate, b: Estimate, metric: str) -> tuple[float, float, float]:
    """a - b of a pair metric with its paired interval."""
    if metric != "abs_epd_error_pct":
        return paired_delta(a, b, metric)
    va, ba = _pair_values(a, metric)
    vb, bb = _pair_values(b, metric)
    lo, hi = (np.nan, np.nan) if ba is None or bb is None else _percentiles(ba - bb)
    return va - vb, lo, hi


def deltas(variants, on_sample, level, plan: EvalPlan, scorer: Scorer) -> list[dict]:
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
        rows += _delta_rows(vid, ref, a, b, n)
    return rows
