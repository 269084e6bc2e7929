"""The recommendation rule itself (store/recommend.py describes it): which status each measured
variant of an appliance gets on one device, and a sentence saying why. Pure: frames in, frames
out. The paired comparisons and cost noise it reads are in store/recommend_pairs.py."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from store.recommend_pairs import (
    COSTS,
    MIN_ON_WINDOWS,
    Pairs,
    fmt,
    is_missing,
    merge_identical_files,
    preference_key,
    tie_group,
)

__all__ = ["COSTS", "DEFAULT_TOLERANCE", "STATUS_TEXT", "Rule", "classify", "fmt", "is_missing"]

DEFAULT_TOLERANCE = 0.02  # the margin: F1 a stakeholder accepts to lose for a cheaper variant

STATUS_TEXT = {
    "recommended": "recommended",
    "tie": "equal to the recommended within measurement noise",
    "runner_up": "runner-up",
    "within": "as accurate as the best within the margin, costs more",
    "same_file": "byte-identical to another variant (one entry)",
    "below_bar": "may be more than the margin below the best",
    "over_budget": "over budget",
    "no_cost": "cost not measured on this device",
    "under_trained": "model flagged under-trained",
    "not_above_baseline": "does not beat the best baseline",
    "power_worse": "MAE or energy error worse than a baseline",
    "worse_than_float": "may lose more than the margin to its own float model",
    "too_few_windows": "no interval or too few 'on' windows to judge",
    "no_f1": "F1 undefined",
}
# statuses that keep a variant out whatever the budgets (listed in the summary's "excluded")
EXCLUDED = (
    "under_trained",
    "not_above_baseline",
    "power_worse",
    "worse_than_float",
    "too_few_windows",
    "no_f1",
    "over_budget",
    "no_cost",
)


@dataclass(frozen=True)
class Rule:
    """What "best for this device" means: the cost to minimise, budgets, and the margin (the
    F1 a person accepts to lose, paired, for a cheaper variant; named ``tolerance``)."""

    cost: str = "latency_ms"
    budgets: dict = field(default_factory=dict)  # column -> limit (None = no limit)
    tolerance: float = DEFAULT_TOLERANCE
    min_on_windows: int = MIN_ON_WINDOWS

    def __post_init__(self):
        if self.cost not in COSTS:
            raise ValueError(f"cost must be one of {', '.join(COSTS)}, not {self.cost!r}")

    @property
    def margin(self) -> float:
        return float(self.tolerance)

    def text(self) -> str:
        name, unit = COSTS[self.cost]
        limits = [
            f"{COSTS[c][0]} <= {fmt(v)} {COSTS[c][1]}"
            for c, v in self.budgets.items()
            if v is not None and c in COSTS
        ]
        return (
            f"Per appliance, margin {self.margin:g} F1: the lowest-{name} variant"
            + (f" within {', '.join(limits)}" if limits else "")
            + " whose F1, compared with the best variant's on the windows both saw, is at most "
            f"{self.margin:g} lower (95 % paired lower bound above -{self.margin:g}); it must "
            f"lose less than {self.margin:g} F1 to its own float model (paired), beat the best "
            "baseline's F1 and not be measurably worse than the best baselines' MAE and energy "
            f"error, and have an interval from at least {self.min_on_windows} 'on' windows; "
            "never an under-trained model. Byte-identical files are one entry; costs within "
            "measurement noise are ties, settled by fewer float ops, then the standard mode."
        )


def classify(
    candidates: pd.DataFrame, baselines: pd.DataFrame, rule: Rule, pairs=None
) -> pd.DataFrame:
    """Every candidate with its status under the rule and a sentence saying why. ``pairs``:
    paired differences (paired_deltas rows); default: the candidates' ``pairs`` column."""
    cols = list(candidates.columns) + [
        "status",
        "why",
        "threshold",
        "threshold_kind",
        "best_id",
        "baseline_id",
        "baseline_f1",
        "group",
        "same_as",
        "kept_out",
    ]
    if candidates.empty:
        return pd.DataFrame(columns=cols)
    lookup = Pairs.from_inputs(candidates, pairs)
    base = {}
    if baselines is not None and not baselines.empty:
        base = {r["appliance"]: r for r in baselines.to_dict("records")}
    out = [
        _classify_one(g.copy(), base.get(appliance, {}), rule, lookup)
        for appliance, g in candidates.groupby("appliance", sort=True)
    ]
    return pd.concat(out, ignore_index=True)[cols]


def _classify_one(g: pd.DataFrame, base: dict, rule: Rule, pairs: Pairs) -> pd.DataFrame:
    """One appliance: identical files merged, exclusions, the best, the non-inferior set, the
    cheapest group within noise."""
    g["baseline_id"], g["baseline_f1"] = base.get("baseline_id"), base.get("baseline_f1")
    g["status"], g["why"], g["group"] = None, "", ""
    g["threshold"], g["threshold_kind"], g["best_id"] = math.nan, "", None
    g = merge_identical_files(g)
    for i, r in g[g["status"].isna()].iterrows():
        status, why = _exclusion(r, base, rule, pairs)
        if status is not None:
            g.at[i, "status"], g.at[i, "why"] = status, why or STATUS_TEXT[status]
    g["kept_out"] = g["status"]  # before a runner-up is named among them
    pool = g[g["status"].isna()]
    if pool.empty:
        _runner_up_when_nothing_qualifies(g)
        return g
    best = pool.sort_values(["f1", rule.cost, "variant_id"], ascending=[False, True, True]).iloc[0]
    g["best_id"], g["threshold"], g["threshold_kind"] = best["variant_id"], -rule.margin, "paired"
    within = []
    for i, r in pool.iterrows():
        ok, why = _non_inferior(r, best, rule, pairs)
        if ok:
            within.append(i)
        else:
            g.at[i, "status"], g.at[i, "why"] = "below_bar", why
    _decide_within(g, g.loc[within], best, rule, pairs)
    return g


def _exclusion(r, base: dict, rule: Rule, pairs: Pairs) -> tuple[str | None, str]:
    """Why the candidate can never be recommended, as (status, sentence; "" for the status's
    own text), or (None, "") when it is in the running."""
    if is_missing(r["f1"]):
        return "no_f1", ""
    if bool(r["under_trained"]):
        return "under_trained", ""
    on, n = r.get("on_windows"), r.get("n_windows")
    if is_missing(r.get("f1_lo")) or (not is_missing(on) and on < rule.min_on_windows):
        seen = "" if is_missing(n) else f"{int(n):,} windows"
        seen += "" if is_missing(on) else f"{', ' if seen else ''}{int(on)} 'on'"
        what = "no F1 interval" if is_missing(r.get("f1_lo")) else "too few 'on' windows"
        return "too_few_windows", (
            f"{what}{f' ({seen})' if seen else ''}: needs an interval from at least "
            f"{rule.min_on_windows} 'on' windows to qualify or set the bar"
        )
    for check in (_baseline_f1, _baseline_power, _float_loss, _budgets):
        status, why = check(r, base, rule, pairs)
        if status is not None:
            return status, why
    return None, ""


def beats_baseline(
    variant_id: str, f1_lo, baseline_id: str, baseline_f1, pairs: Pairs
) -> tuple[bool, dict | None]:
    """The one definition of "beats the baseline" (the recommendation's and the benchmarks'):
    the paired F1 difference from the baseline, on the windows both saw, has its interval above
    0; where no paired difference is stored, the variant's F1 interval lies above the baseline's
    F1. Returns the verdict and the paired difference it rests on (None without one)."""
    d = pairs.get(variant_id, baseline_id, "f1")
    if d is not None and not is_missing(d["lo"]):
        return bool(d["lo"] > 0), d
    return bool(not is_missing(f1_lo) and f1_lo > baseline_f1), None


def _baseline_f1(r, base: dict, rule: Rule, pairs: Pairs):
    base_id, base_f1 = base.get("baseline_id"), base.get("baseline_f1")
    if base_id is None or is_missing(base_f1):
        return None, ""
    beats, d = beats_baseline(r["variant_id"], r["f1_lo"], base_id, base_f1, pairs)
    if beats:
        return None, ""
    if d is not None:
        return "not_above_baseline", (
            f"F1 not above baseline {base_id}'s on the same windows (paired difference "
            f"{fmt(d['delta'], 3)} [{fmt(d['lo'], 3)}, {fmt(d['hi'], 3)}])"
        )
    return "not_above_baseline", (
        f"interval low end {fmt(r['f1_lo'], 3)} not above baseline {base_id} F1 {fmt(base_f1, 3)}"
    )


def _baseline_power(r, base: dict, rule: Rule, pairs: Pairs):
    """Worse than the best baseline on MAE or on the energy-per-day error: the paired interval
    of the difference lies above 0 (or, without one, the value is worse)."""
    worse = []
    for metric, id_col, val_col, own, label in (
        ("mae", "mae_baseline_id", "baseline_mae", "mae_w", "MAE"),
        ("abs_epd_error_pct", "epd_baseline_id", "baseline_abs_epd", "epd_error_pct", "energy"),
    ):
        bid, bval = base.get(id_col), base.get(val_col)
        if bid is None or is_missing(bval):
            continue
        d = pairs.get(r["variant_id"], bid, metric)
        mine = r.get(own)
        mine = abs(mine) if metric != "mae" and not is_missing(mine) else mine
        if d is not None and not is_missing(d["lo"]):
            bad = d["lo"] > 0
        else:
            bad = not is_missing(mine) and mine > bval
        if bad:
            unit = " W" if metric == "mae" else " % (absolute error)"
            worse.append(f"{label} {fmt(mine, 3)}{unit} worse than {bid}'s {fmt(bval, 3)}")
    return ("power_worse", "; ".join(worse)) if worse else (None, "")


def _float_loss(r, base: dict, rule: Rule, pairs: Pairs):
    """It must show, paired, that it loses less than the margin to its own float model."""
    lo = r.get("f1_delta_lo")
    if is_missing(r.get("f1_delta")) and is_missing(lo):
        return None, ""  # the float model itself, or no float model in the store
    if not is_missing(lo) and lo > -rule.margin:
        return None, ""
    tail = "no paired interval" if is_missing(lo) else f"paired lower bound {fmt(lo, 3)}"
    return "worse_than_float", (
        f"F1 {fmt(r['f1_delta'], 3)} vs its float model on the same windows ({tail}): "
        f"cannot show a loss under the {rule.margin:g} margin"
    )


def _budgets(r, base: dict, rule: Rule, pairs: Pairs):
    over = [
        f"{COSTS[c][0]} {fmt(r[c])} {COSTS[c][1]} over the {fmt(limit)} {COSTS[c][1]} budget"
        for c, limit in rule.budgets.items()
        if limit is not None and c in r.index and not is_missing(r[c]) and r[c] > limit
    ]
    if over:
        return "over_budget", "; ".join(over)
    if is_missing(r[rule.cost]):
        return "no_cost", ""
    return None, ""


def _non_inferior(r, best, rule: Rule, pairs: Pairs) -> tuple[bool, str]:
    """Its F1 minus the best one's, paired on the windows both saw, has a 95 % lower bound
    above -margin (the best itself qualifies)."""
    if r["variant_id"] == best["variant_id"]:
        return True, ""
    d = pairs.get(r["variant_id"], best["variant_id"], "f1")
    if d is None or is_missing(d["lo"]):
        return False, f"no paired F1 interval with the best ({best['variant_id']})"
    ok = d["lo"] > -rule.margin
    on = "" if is_missing(d.get("n")) else f" on {int(d['n']):,} shared windows"
    return ok, (
        f"F1 {fmt(d['delta'], 3)} vs the best ({best['variant_id']}){on}, paired lower bound "
        f"{fmt(d['lo'], 3)} {'above' if ok else 'not above'} -{rule.margin:g}"
    )


def _decide_within(g: pd.DataFrame, within: pd.DataFrame, best, rule: Rule, pairs: Pairs) -> None:
    """The cheapest non-inferior entry and those equal to it within noise form the recommended
    group; its preferred member is recommended; the next cheapest beyond noise is runner-up."""
    cost = rule.cost
    order = within.sort_values([cost, "variant_id"], kind="mergesort")
    group = tie_group(order, cost)
    rec_idx = min(group, key=lambda i: preference_key(g.loc[i], cost))
    members = [g.at[i, "variant_id"] for i in sorted(group, key=lambda i: g.at[i, "variant_id"])]
    label = ", ".join(members)
    for i in group:
        g.at[i, "group"] = label
    g.at[rec_idx, "status"] = "recommended"
    g.at[rec_idx, "why"] = (
        f"cheapest by {COSTS[cost][0]} of the variants within {rule.margin:g} F1 of the best "
        f"({best['variant_id']}, F1 {fmt(best['f1'], 3)}), paired"
        + (
            f"; any of {label}: equal within measurement noise (preferred: fewer float ops, then "
            "the standard mode)"
            if len(group) > 1
            else ""
        )
    )
    rec = g.loc[rec_idx]
    for i in group:
        if i != rec_idx:
            g.at[i, "status"] = "tie"
            g.at[i, "why"] = (
                f"{COSTS[cost][0]} equal to {rec['variant_id']}'s within measurement noise; "
                "the preference (fewer float ops, then the standard mode) chose the other"
            )
    rest = [i for i in order.index if i not in group]
    for j, i in enumerate(rest):
        r = g.loc[i]
        g.at[i, "status"] = "runner_up" if j == 0 else "within"
        g.at[i, "why"] = (
            f"within the margin, but costs {fmt(r[cost] - rec[cost])} {COSTS[cost][1]} more "
            f"{COSTS[cost][0]} ({fmt(r[cost])} vs {fmt(rec[cost])}), beyond measurement noise"
        )
    if not rest:
        _runner_up_from_misses(g, cost)


def _runner_up_from_misses(g: pd.DataFrame, cost: str) -> None:
    """No other entry qualified: the runner-up is the next-best that missed, with why."""
    order = {"below_bar": 0, "over_budget": 1, "no_cost": 2, "power_worse": 3}
    rest = g[g["status"].isin(order)]
    if not rest.empty:
        rest = rest.assign(_o=rest["status"].map(order), _neg_f1=-rest["f1"]).sort_values(
            ["_o", "_neg_f1", cost, "variant_id"]
        )
        g.loc[rest.index[0], "status"] = "runner_up"


def _runner_up_when_nothing_qualifies(g: pd.DataFrame) -> None:
    """Nothing qualifies: the runner-up is the most accurate entry a budget or a power check
    kept out (its sentence says which)."""
    rest = g[g["status"].isin(["over_budget", "no_cost", "power_worse"])]
    if not rest.empty:
        top = rest.sort_values(["f1", "variant_id"], ascending=[False, True])
        g.loc[top.index[0], "status"] = "runner_up"
