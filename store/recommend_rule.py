"""The recommendation rule itself (store/recommend.py describes it): which status each measured
variant of an appliance gets on one device, and a sentence saying why. Pure: frames in, frames
out."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

COSTS = {
    "latency_ms": ("latency", "ms"),
    "ram_mb": ("RAM", "MB"),
    "disk_mb": ("disk", "MB"),
}
DEFAULT_TOLERANCE = 0.02

STATUS_TEXT = {
    "recommended": "recommended",
    "runner_up": "runner-up",
    "within": "as accurate as the best, costs more",
    "below_bar": "F1 below the best one's interval",
    "over_budget": "over budget",
    "no_cost": "cost not measured on this device",
    "under_trained": "model flagged under-trained",
    "not_above_baseline": "does not beat the best baseline",
    "worse_than_float": "measurably worse than its own float model",
    "no_f1": "F1 undefined",
}


@dataclass(frozen=True)
class Rule:
    """What "best for this device" means: the cost to minimise, budgets, and the fallback tolerance."""

    cost: str = "latency_ms"
    budgets: dict = field(default_factory=dict)  # column -> limit (None = no limit)
    tolerance: float = DEFAULT_TOLERANCE

    def __post_init__(self):
        if self.cost not in COSTS:
            raise ValueError(f"cost must be one of {', '.join(COSTS)}, not {self.cost!r}")

    def text(self) -> str:
        name, unit = COSTS[self.cost]
        limits = [
            f"{COSTS[c][0]} <= {fmt(v)} {COSTS[c][1]}"
            for c, v in self.budgets.items()
            if v is not None and c in COSTS
        ]
        return (
            f"Per appliance: the lowest-{name} variant whose F1 interval reaches the low end of the best "
            f"variant's 95 % interval (best F1 - {self.tolerance:g} when it has none)"
            + (f", within {', '.join(limits)}" if limits else "")
            + "; never an under-trained model, one measurably more than "
            f"{self.tolerance:g} F1 worse than its own float model (paired), or one whose F1 "
            "does not beat the best baseline."
        )


def fmt(v, digits: int = 4) -> str:
    """A number as a person reads it: no exponent, no trailing noise."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    v = float(v)
    if v == 0:
        return "0"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.{max(digits - 1 - int(math.floor(math.log10(abs(v)))), 0)}f}".rstrip("0").rstrip(
        "."
    )


def is_missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA


def _beats_baseline(row, base_f1) -> bool:
    if base_f1 is None or is_missing(base_f1):
        return True
    low = row["f1_lo"] if not is_missing(row["f1_lo"]) else row["f1"]
    return low > base_f1


def classify(candidates: pd.DataFrame, baselines: pd.DataFrame, rule: Rule) -> pd.DataFrame:
    """Every candidate with its status under the rule and a sentence saying why."""
    cols = list(candidates.columns) + [
        "status",
        "why",
        "threshold",
        "threshold_kind",
        "best_id",
        "baseline_id",
        "baseline_f1",
    ]
    if candidates.empty:
        return pd.DataFrame(columns=cols)
    base = {
        r.appliance: (r.baseline_id, r.baseline_f1)
        for r in (baselines if baselines is not None else pd.DataFrame()).itertuples()
    }
    out = []
    for appliance, group in candidates.groupby("appliance", sort=True):
        out.append(_classify_one(group.copy(), base.get(appliance, (None, None)), rule))
    return pd.concat(out, ignore_index=True)[cols]


def _worse_than_float(row, tolerance: float) -> bool:
    """The paired F1 difference from its float model is below -tolerance with 95 % confidence."""
    hi = row.get("f1_delta_hi") if hasattr(row, "get") else None
    return hi is not None and not is_missing(hi) and hi < -tolerance


def _sort_key(df: pd.DataFrame, cost: str) -> pd.DataFrame:
    others = [c for c in COSTS if c != cost]
    return df.assign(_neg_f1=-df["f1"]).sort_values(
        [cost, "_neg_f1", *others, "variant_id"], na_position="last", kind="mergesort"
    )


def _classify_one(g: pd.DataFrame, baseline, rule: Rule) -> pd.DataFrame:
    """One appliance's candidates: exclusions first, then the bar, then the cheapest above it."""
    base_id, base_f1 = baseline
    cost = rule.cost
    g["baseline_id"], g["baseline_f1"] = base_id, base_f1
    g["status"], g["why"] = None, ""
    g["threshold"], g["threshold_kind"], g["best_id"] = math.nan, "", None
    for i, r in g.iterrows():
        status, why = _exclusion(r, g.columns, base_id, base_f1, rule)
        if status is not None:
            g.at[i, "status"], g.at[i, "why"] = status, why
    for i in g.index[g["status"].notna() & (g["why"] == "")]:
        g.at[i, "why"] = STATUS_TEXT[g.at[i, "status"]]
    pool = g[g["status"].isna()]
    if pool.empty:
        # nothing qualifies: the runner-up is the most accurate variant a budget kept out
        rest = g[g["status"].isin(["over_budget", "no_cost"])]
        if not rest.empty:
            top = rest.sort_values(["f1", cost, "variant_id"], ascending=[False, True, True])
            g.loc[top.index[0], "status"] = "runner_up"
        return g
    best, threshold, kind = _bar(pool, cost, rule.tolerance)
    g["threshold"], g["threshold_kind"], g["best_id"] = threshold, kind, best["variant_id"]
    # as accurate as the best = the data cannot tell them apart: the variant's interval reaches
    # the best one's (its upper end, or its F1 without an interval, is at or above the bar). A
    # point estimate alone would let a lucky small sample (a slow variant scored on a nested
    # sub-sample) push every well-measured variant out.
    upper = pool["f1_hi"].where(pool["f1_hi"].notna(), pool["f1"])
    within = _sort_key(pool[upper >= threshold - 1e-12], cost)
    rec = within.iloc[0]
    g.loc[rec.name, "status"] = "recommended"
    g.loc[rec.name, "why"] = _recommended_why(best, threshold, kind, rule)
    _mark_within(g, within, rec, cost)
    _mark_below_bar(g, pool.index.difference(within.index), threshold, kind)
    if len(within) == 1:
        _runner_up_from_misses(g, cost)
    return g


def _exclusion(r, columns, base_id, base_f1, rule: Rule) -> tuple[str | None, str]:
    """Why the candidate can never be recommended, as (status, sentence; "" for the status's
    own text), or (None, "") when it is in the running."""
    if is_missing(r["f1"]):
        return "no_f1", ""
    if bool(r["under_trained"]):
        return "under_trained", ""
    if not _beats_baseline(r, base_f1):
        low = r["f1_lo"] if not is_missing(r["f1_lo"]) else r["f1"]
        word = "interval low end" if not is_missing(r["f1_lo"]) else "F1 (no interval)"
        return (
            "not_above_baseline",
            f"{word} {fmt(low, 3)} not above baseline {base_id} F1 {fmt(base_f1, 3)}",
        )
    if _worse_than_float(r, rule.tolerance):
        return (
            "worse_than_float",
            f"loses {fmt(-r['f1_delta'], 3)} F1 to its float model on the same windows "
            f"(paired interval ends at {fmt(r['f1_delta_hi'], 3)}, beyond the "
            f"{rule.tolerance:g} tolerance)",
        )
    over = [
        f"{COSTS[c][0]} {fmt(r[c])} {COSTS[c][1]} over the {fmt(limit)} {COSTS[c][1]} budget"
        for c, limit in rule.budgets.items()
        if limit is not None and c in columns and not is_missing(r[c]) and r[c] > limit
    ]
    if over:
        return "over_budget", "; ".join(over)
    if is_missing(r[rule.cost]):
        return "no_cost", ""
    return None, ""


def _bar(pool: pd.DataFrame, cost: str, tolerance: float):
    """The best remaining variant, and the bar it sets: (best row, threshold, kind)."""
    # an interval of zero width on a sampled F1 means the resamples saw no error to vary, not
    # that the value is certain (a slow variant's small sub-sample can be error-free by luck):
    # such a variant may be recommended but does not set the bar while others can
    width = pool["f1_hi"] - pool["f1_lo"]
    credible = pool[~(width <= 1e-9)]
    setters = credible if not credible.empty else pool
    best = setters.sort_values(["f1", cost, "variant_id"], ascending=[False, True, True]).iloc[0]
    if not is_missing(best["f1_lo"]):
        return best, float(best["f1_lo"]), "interval"
    return best, float(best["f1"]) - tolerance, "tolerance"


def _recommended_why(best, threshold: float, kind: str, rule: Rule) -> str:
    return (
        f"cheapest by {COSTS[rule.cost][0]} among variants whose F1 interval reaches {fmt(threshold, 3)} "
        + (
            f"(low end of {best['variant_id']}'s interval)"
            if kind == "interval"
            else f"(best F1 {fmt(best['f1'], 3)} - tolerance {rule.tolerance:g}, no interval)"
        )
    )


def _mark_within(g: pd.DataFrame, within: pd.DataFrame, rec, cost: str) -> None:
    """The others that reach the bar: the next in cost order is the runner-up."""
    cname, cunit = COSTS[cost]
    for j, (idx, r) in enumerate(within.iloc[1:].iterrows()):
        g.loc[idx, "status"] = "runner_up" if j == 0 else "within"
        if r[cost] > rec[cost]:
            g.loc[idx, "why"] = (
                f"as accurate, but costs {fmt(r[cost] - rec[cost])} {cunit} more {cname} "
                f"({fmt(r[cost])} vs {fmt(rec[cost])} {cunit})"
            )
        else:
            g.loc[idx, "why"] = (
                f"same {cname} ({fmt(r[cost])} {cunit}); lost the tie on F1 "
                f"({fmt(r['f1'], 3)} vs {fmt(rec['f1'], 3)}), then other costs, then name"
            )


def _mark_below_bar(g: pd.DataFrame, below, threshold: float, kind: str) -> None:
    for idx in below:
        g.loc[idx, "status"] = "below_bar"
        top = g.loc[idx, "f1_hi"] if not is_missing(g.loc[idx, "f1_hi"]) else g.loc[idx, "f1"]
        g.loc[idx, "why"] = f"F1 up to {fmt(top, 3)}, below {fmt(threshold, 3)}" + (
            " (the best one's interval)" if kind == "interval" else " (best - tolerance)"
        )


def _runner_up_from_misses(g: pd.DataFrame, cost: str) -> None:
    """No second variant reached the bar: the runner-up is the next-best that missed."""
    order = {"below_bar": 0, "over_budget": 1, "no_cost": 2}
    rest = g[g["status"].isin(order)]
    if not rest.empty:
        rest = rest.assign(_o=rest["status"].map(order), _neg_f1=-rest["f1"]).sort_values(
            ["_o", "_neg_f1", cost, "variant_id"]
        )
        g.loc[rest.index[0], "status"] = "runner_up"
