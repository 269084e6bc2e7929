"""A variant's metrics as a person reads them: ordered by importance, labelled from the metric
registry (store/vocab.py) with units, counts as whole numbers, and "differs from float" only
beyond a stated practical margin."""

from __future__ import annotations

import pandas as pd

from store.recommend_rule import is_missing
from store.vocab import METRICS, Metric

# the stakeholder's questions first: detection, then power, then energy, then the rest
IMPORTANCE: tuple[str, ...] = (
    "f1",
    "mcc",
    "mae",
    "epd_error_pct",
    "epd_article_error_pct",
    "mae_masked",
    "sae",
    "nde",
    "acc",
    "precision",
    "recall",
    "sae_masked",
    "nde_masked",
    "epd_true_wh",
    "epd_pred_wh",
    "epd_article_true_wh",
    "epd_article_pred_wh",
    "tp",
    "fn",
    "fp",
    "tn",
)
# a change smaller than this is no practical difference, whatever its interval says
PRACTICAL_MARGIN: dict[str, float] = {
    "f1": 0.02,
    "mcc": 0.02,
    "acc": 0.01,
    "precision": 0.02,
    "recall": 0.02,
    "sae": 0.05,
    "nde": 0.05,
    "sae_masked": 0.05,
    "nde_masked": 0.05,
    "epd_error_pct": 5.0,
    "epd_article_error_pct": 5.0,
}
RELATIVE_MARGIN = {"mae": 0.05, "mae_masked": 0.05}  # share of the float model's value
MARGIN_TEXT = (
    "“differs from float” needs both: the paired 95 % interval of the difference excludes 0, "
    "and the difference exceeds the practical margin (F1, MCC, precision, recall 0.02; "
    "accuracy 0.01; SAE, NDE 0.05; energy error 5 percentage points; MAE 5 % of the float "
    "model's). Counts and energies are shown, not judged."
)


def _info(metric: str):
    try:
        return METRICS[Metric(metric)]
    except ValueError:
        return None


def label(metric: str) -> str:
    info = _info(metric)
    return info.label if info else metric


def unit(metric: str) -> str:
    info = _info(metric)
    return info.unit if info else ""


def digits(metric: str) -> int:
    """Decimals a metric is read with: counts whole, watts and energies 1, ratios 3."""
    u = unit(metric)
    return 0 if u == "windows" else 1 if u in ("W", "Wh", "%") else 3


def number(v, metric: str, signed: bool = False) -> str:
    if is_missing(v):
        return "–"
    d = digits(metric)
    return f"{v:{'+' if signed else ''},.{d}f}"


def with_interval(v, lo, hi, metric: str, signed: bool = False) -> str:
    """'0.888 [0.877, 0.901]'; no interval shown when it is missing or of zero width."""
    text = number(v, metric, signed)
    if is_missing(v) or is_missing(lo) or is_missing(hi) or lo == hi:
        return text
    return f"{text} [{number(lo, metric, signed)}, {number(hi, metric, signed)}]"


def margin(metric: str, float_value) -> float | None:
    if metric in PRACTICAL_MARGIN:
        return PRACTICAL_MARGIN[metric]
    if metric in RELATIVE_MARGIN and not is_missing(float_value):
        return RELATIVE_MARGIN[metric] * abs(float(float_value))
    return None


def verdict(row) -> str:
    """'differs from float' only when the paired interval excludes 0 and the change exceeds the
    metric's practical margin."""
    delta, m = row.get("delta"), margin(row.get("metric"), row.get("float_value"))
    if is_missing(delta) or m is None:
        return ""
    lo, hi = row.get("delta_lo"), row.get("delta_hi")
    beyond = abs(delta) > m
    shown = number(m, row.get("metric"))
    if is_missing(lo) or is_missing(hi):
        return f"{'beyond' if beyond else 'within'} the {shown} margin (no interval)"
    if lo <= 0 <= hi:
        return "not distinguishable from float"
    if not beyond:
        return f"same in practice (within the {shown} margin)"
    return f"differs from float (beyond the {shown} margin)"


def _rank(metric: str) -> int:
    return IMPORTANCE.index(metric) if metric in IMPORTANCE else len(IMPORTANCE)


def metric_table(metrics: pd.DataFrame | None) -> pd.DataFrame | None:
    """The metrics frame (metrics_vs_float) as display rows, most important first."""
    if metrics is None or metrics.empty:
        return metrics
    rows = []
    for r in sorted(metrics.to_dict("records"), key=lambda r: (_rank(r["metric"]), r["metric"])):
        m = r["metric"]
        rows.append(
            {
                "metric": label(m),
                "name": m,
                "unit": unit(m),
                "value": with_interval(r["value"], r["ci_low"], r["ci_high"], m),
                "float_value": number(r.get("float_value"), m),
                "delta": with_interval(
                    r.get("delta"), r.get("delta_lo"), r.get("delta_hi"), m, True
                ),
                "verdict": verdict(r),
                "n_windows": None if is_missing(r.get("n_windows")) else int(r["n_windows"]),
                "reason": r.get("reason") if isinstance(r.get("reason"), str) else "",
            }
        )
    return pd.DataFrame(rows)
