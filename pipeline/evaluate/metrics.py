"""NILM metrics as pure NumPy functions.

Notation: t = ground-truth power (W), p = predicted power (W), s_t, s_p = 0/1 statuses, N samples,
period = sampling period in seconds. Sources: the article "Inspecting Neural Network Models for
the Edge" (equations 2-7) and its reference code (nilm_metric.py), which computes MAE, SAE and
NDE on status-masked powers although the equations show unmasked ones; both are given here.

Undefined values are NaN with a reason, never a fake 0: each function returns (value, reason).
"""

from __future__ import annotations

import math

import numpy as np

Result = tuple[float, str | None]
NAN = float("nan")


def confusion(s_true: np.ndarray, s_pred: np.ndarray) -> dict[str, int]:
    """TP, TN, FP, FN: counts of (s_t, s_p) = (1,1), (0,0), (0,1), (1,0)."""
    st, sp = np.asarray(s_true) > 0.5, np.asarray(s_pred) > 0.5
    return {
        "tp": int(np.sum(st & sp)),
        "tn": int(np.sum(~st & ~sp)),
        "fp": int(np.sum(~st & sp)),
        "fn": int(np.sum(st & ~sp)),
    }


def accuracy(c: dict[str, int]) -> Result:
    """ACC = (TP + TN) / N."""
    n = sum(c.values())
    return ((c["tp"] + c["tn"]) / n, None) if n else (NAN, "no samples")


def precision(c: dict[str, int]) -> Result:
    """Precision = TP / (TP + FP); undefined when nothing was predicted on."""
    d = c["tp"] + c["fp"]
    return (c["tp"] / d, None) if d else (NAN, "no predicted activations (TP + FP = 0)")


def recall(c: dict[str, int]) -> Result:
    """Recall = TP / (TP + FN); undefined when the ground truth has no activation."""
    d = c["tp"] + c["fn"]
    return (c["tp"] / d, None) if d else (NAN, "no activations in ground truth (TP + FN = 0)")


def f1(c: dict[str, int]) -> Result:
    """F1 = 2 TP / (2 TP + FP + FN) (= 2PR / (P + R)); undefined without any on sample."""
    d = 2 * c["tp"] + c["fp"] + c["fn"]
    return (2 * c["tp"] / d, None) if d else (NAN, "no activations in ground truth or prediction")


def mcc(c: dict[str, int]) -> Result:
    """MCC = (TP TN - FP FN) / sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN)).

    Undefined when the ground truth is all one class; 0 when only the prediction is constant
    (it carries no information about the truth), as scikit-learn reports it.
    """
    tp, tn, fp, fn = (float(c[k]) for k in ("tp", "tn", "fp", "fn"))
    if tp + fn == 0 or tn + fp == 0:
        return NAN, "the ground truth is all one class (the appliance always or never on)"
    d = (tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)
    if d == 0:
        return 0.0, None
    return (tp * tn - fp * fn) / math.sqrt(d), None


def mae(t: np.ndarray, p: np.ndarray) -> Result:
    """MAE = (1/N) sum |p - t| (W), the article's equation 2."""
    t, p = np.asarray(t, float), np.asarray(p, float)
    return (float(np.mean(np.abs(p - t))), None) if len(t) else (NAN, "no samples")


def mae_masked(t, p, s_t, s_p) -> Result:
    """Article code: MAE = (1/N) sum |t s_t - p s_p| (both powers masked by their status)."""
    return mae(np.asarray(t) * s_t, np.asarray(p) * s_p)


def sae(t: np.ndarray, p: np.ndarray, period_s: float) -> Result:
    """SAE = |r_hat - r| / r with r = sum(t) period/3600 Wh, r_hat likewise from p (equation 3)."""
    r = float(np.sum(t)) * period_s / 3600
    r_hat = float(np.sum(p)) * period_s / 3600
    return (abs(r_hat - r) / r, None) if r > 0 else (NAN, "no ground-truth energy (r = 0)")


def sae_masked(t, p, s_t, s_p, period_s: float) -> Result:
    """Article code: SAE on status-masked powers t s_t and p s_p."""
    return sae(np.asarray(t) * s_t, np.asarray(p) * s_p, period_s)


def nde(t: np.ndarray, p: np.ndarray) -> Result:
    """NDE = sum (t - p)^2 / sum t^2 (equation 5)."""
    t, p = np.asarray(t, float), np.asarray(p, float)
    d = float(np.sum(t**2))
    return (
        (float(np.sum((t - p) ** 2)) / d, None)
        if d > 0
        else (NAN, "no ground-truth power (sum t^2 = 0)")
    )


def nde_masked(t, p, s_t, s_p) -> Result:
    """Article code: NDE = sum (t s_t - p s_p)^2 / sum t^2 (masked numerator, plain denominator)."""
    t, p = np.asarray(t, float), np.asarray(p, float)
    d = float(np.sum(t**2))
    if d <= 0:
        return NAN, "no ground-truth power (sum t^2 = 0)"
    return float(np.sum((t * s_t - p * s_p) ** 2)) / d, None


def energy_per_day(power_w: np.ndarray, period_s: float) -> Result:
    """EpD (Wh/day), article code: consecutive 1-hour chunks of 3600/period samples starting at
    0, chunk, ... while start < N - chunk (the last hour is dropped); each chunk's energy is its
    mean power (Wh); EpD = sum of chunk energies / (N / chunk / 24) days."""
    x = np.asarray(power_w, float)
    chunk = int(3600 // period_s)
    n = len(x)
    starts = np.arange(0, max(n - chunk, 0), chunk)
    if chunk <= 0 or len(starts) == 0:
        return NAN, "less than two hours of samples"
    energy = sum(float(np.mean(x[s : s + chunk])) for s in starts)
    return energy / (n / chunk / 24), None


def epd_error_pct(epd_true: float, epd_pred: float) -> Result:
    """EpD error (%) = 100 (EpD_pred - EpD_true) / EpD_true, signed."""
    if not np.isfinite(epd_true) or not np.isfinite(epd_pred):
        return NAN, "energy per day undefined"
    if epd_true == 0:
        return NAN, "no ground-truth energy per day"
    return 100.0 * (epd_pred - epd_true) / epd_true, None


def all_metrics(t, p, s_t, s_p, period_s: float) -> dict[str, Result]:
    """Every metric of a contiguous trace (the registry's ``traced`` ones), keyed by its
    vocabulary name; energy per day by the article's hourly chunks (``epd_article_*``)."""
    t, p = np.asarray(t, float), np.asarray(p, float)
    s_t, s_p = np.asarray(s_t, float), np.asarray(s_p, float)
    c = confusion(s_t, s_p)
    epd_t = energy_per_day(t * s_t, period_s)
    epd_p = energy_per_day(p * s_p, period_s)
    out: dict[str, Result] = {k: (float(v), None) for k, v in c.items()}
    out.update(
        acc=accuracy(c),
        precision=precision(c),
        recall=recall(c),
        f1=f1(c),
        mcc=mcc(c),
        mae=mae(t, p),
        sae=sae(t, p, period_s),
        nde=nde(t, p),
        mae_masked=mae_masked(t, p, s_t, s_p),
        sae_masked=sae_masked(t, p, s_t, s_p, period_s),
        nde_masked=nde_masked(t, p, s_t, s_p),
        epd_article_true_wh=epd_t,
        epd_article_pred_wh=epd_p,
        epd_article_error_pct=epd_error_pct(epd_t[0], epd_p[0]),
    )
    return out
