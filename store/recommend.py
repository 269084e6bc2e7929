"""Which variant to ship on a device: one rule, shared by the dashboard and `pipeline all`.

The rule, per appliance, on one device (host x runtime x threads):

1. Candidates are the device's measured model variants. A variant is never recommended when
   its model is flagged under-trained, when its F1 is undefined, when it loses more than the
   tolerance in F1 to its own float model on the same windows (the paired interval of the
   difference lies below -tolerance), or when it does not beat the best baseline of its
   appliance (its F1 interval's low end, or its F1 when it has no interval, must be above that
   baseline's F1). Variants over a budget are left out too.
2. The best is the remaining variant with the highest F1 (a zero-width interval, an error-free
   small sample rather than a certainty, does not set the bar while others can). Its 95 %
   interval sets the bar: every
   remaining variant whose own interval reaches the best one's low end (the two cannot be told
   apart) is "as accurate as the best" (without intervals: F1 at least the best's F1 minus a
   stated tolerance).
3. Of those, the cheapest by the chosen cost (latency, RAM or disk) is recommended; ties go to
   the higher F1, then the other costs, then the variant id. The runner-up is the next one in
   that order, or failing that the best variant that missed the bar or a budget, with why.

Everything here is pure: the SQL below fetches the inputs, `recommend` decides.
"""

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

# Budget presets per device class, as data: the dashboard offers them (and lets a person edit
# the numbers); `pipeline all` picks the one matching the machine it measured on.
DEVICE_CLASSES: dict[str, dict] = {
    "cortex_a": {
        "label": "Raspberry Pi 4 / Cortex-A class (4 cores, 1-4 GB)",
        "machines": ("aarch64", "arm64", "armv7l"),
        "budgets": {"latency_ms": 100.0, "ram_mb": 200.0, "disk_mb": 50.0},
    },
    "small_arm": {
        "label": "Pi Zero 2 / small Cortex-A (512 MB)",
        "machines": (),
        "budgets": {"latency_ms": 500.0, "ram_mb": 64.0, "disk_mb": 16.0},
    },
    "x86_server": {
        "label": "x86 server or desktop",
        "machines": ("x86_64", "amd64"),
        "budgets": {"latency_ms": 20.0, "ram_mb": 2000.0, "disk_mb": 500.0},
    },
}
DEFAULT_CLASS = "cortex_a"

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

CANDIDATES_SQL = """
SELECT t.appliance, t.variant_id, t.arch, t.mode, t.host, t.runtime, t.threads,
       t.f1, t.f1_lo, t.f1_hi, t.latency_ms, t.ram_mb, t.disk_mb,
       coalesce(t.under_trained, false) AS under_trained,
       d.delta AS f1_delta, d.ci_high AS f1_delta_hi
FROM tradeoff t
LEFT JOIN metric_deltas d
    ON d.variant_id = t.variant_id AND d.metric = 'f1' AND d.split = 'test'
WHERE t.host = ? AND t.runtime = ? AND t.threads = ?
ORDER BY t.appliance, t.variant_id
"""

BASELINES_SQL = """
SELECT appliance, arg_max(variant_id, f1) AS baseline_id, max(f1) AS baseline_f1
FROM metrics_wide
WHERE kind = 'baseline' AND split = 'test' AND f1 IS NOT NULL
GROUP BY appliance ORDER BY appliance
"""

DEVICES_SQL = """
SELECT t.host, t.runtime, t.threads, any_value(h.machine) AS machine,
       any_value(h.cpu_model) AS cpu_model, any_value(h.source) AS source,
       count(DISTINCT t.variant_id) AS variants
FROM tradeoff t LEFT JOIN hosts h USING (host)
GROUP BY ALL ORDER BY variants DESC, host, runtime, threads
"""


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


def preset_for_machine(machine: str | None) -> str:
    for key, spec in DEVICE_CLASSES.items():
        if machine and machine.lower() in spec["machines"]:
            return key
    return DEFAULT_CLASS


def _isnan(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA


def _beats_baseline(row, base_f1) -> bool:
    if base_f1 is None or _isnan(base_f1):
        return True
    low = row["f1_lo"] if not _isnan(row["f1_lo"]) else row["f1"]
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
    return hi is not None and not _isnan(hi) and hi < -tolerance


def _sort_key(df: pd.DataFrame, cost: str) -> pd.DataFrame:
    others = [c for c in COSTS if c != cost]
    return df.assign(_neg_f1=-df["f1"]).sort_values(
        [cost, "_neg_f1", *others, "variant_id"], na_position="last", kind="mergesort"
    )


def _classify_one(g: pd.DataFrame, baseline, rule: Rule) -> pd.DataFrame:
    base_id, base_f1 = baseline
    cost = rule.cost
    cname, cunit = COSTS[cost]
    g["baseline_id"], g["baseline_f1"] = base_id, base_f1
    g["status"], g["why"] = None, ""
    g["threshold"], g["threshold_kind"], g["best_id"] = math.nan, "", None
    for i, r in g.iterrows():
        if _isnan(r["f1"]):
            g.at[i, "status"] = "no_f1"
        elif bool(r["under_trained"]):
            g.at[i, "status"] = "under_trained"
        elif not _beats_baseline(r, base_f1):
            low = r["f1_lo"] if not _isnan(r["f1_lo"]) else r["f1"]
            word = "interval low end" if not _isnan(r["f1_lo"]) else "F1 (no interval)"
            g.at[i, "status"] = "not_above_baseline"
            g.at[i, "why"] = (
                f"{word} {fmt(low, 3)} not above baseline {base_id} F1 {fmt(base_f1, 3)}"
            )
        elif _worse_than_float(r, rule.tolerance):
            g.at[i, "status"] = "worse_than_float"
            g.at[i, "why"] = (
                f"loses {fmt(-r['f1_delta'], 3)} F1 to its float model on the same windows "
                f"(paired interval ends at {fmt(r['f1_delta_hi'], 3)}, beyond the "
                f"{rule.tolerance:g} tolerance)"
            )
        else:
            over = [
                f"{COSTS[c][0]} {fmt(r[c])} {COSTS[c][1]} over the {fmt(limit)} {COSTS[c][1]} budget"
                for c, limit in rule.budgets.items()
                if limit is not None and c in g and not _isnan(r[c]) and r[c] > limit
            ]
            if over:
                g.at[i, "status"], g.at[i, "why"] = "over_budget", "; ".join(over)
            elif _isnan(r[cost]):
                g.at[i, "status"] = "no_cost"
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
    # an interval of zero width on a sampled F1 means the resamples saw no error to vary, not
    # that the value is certain (a slow variant's small sub-sample can be error-free by luck):
    # such a variant may be recommended but does not set the bar while others can
    width = pool["f1_hi"] - pool["f1_lo"]
    credible = pool[~(width <= 1e-9)]
    setters = credible if not credible.empty else pool
    best = setters.sort_values(["f1", cost, "variant_id"], ascending=[False, True, True]).iloc[0]
    if not _isnan(best["f1_lo"]):
        threshold, kind = float(best["f1_lo"]), "interval"
    else:
        threshold, kind = float(best["f1"]) - rule.tolerance, "tolerance"
    g["threshold"], g["threshold_kind"], g["best_id"] = threshold, kind, best["variant_id"]
    # as accurate as the best = the data cannot tell them apart: the variant's interval reaches
    # the best one's (its upper end, or its F1 without an interval, is at or above the bar). A
    # point estimate alone would let a lucky small sample (a slow variant scored on a nested
    # sub-sample) push every well-measured variant out.
    upper = pool["f1_hi"].where(pool["f1_hi"].notna(), pool["f1"])
    within = _sort_key(pool[upper >= threshold - 1e-12], cost)
    rec = within.iloc[0]
    g.loc[rec.name, "status"] = "recommended"
    g.loc[rec.name, "why"] = (
        f"cheapest by {cname} among variants whose F1 interval reaches {fmt(threshold, 3)} "
        + (
            f"(low end of {best['variant_id']}'s interval)"
            if kind == "interval"
            else f"(best F1 {fmt(best['f1'], 3)} - tolerance {rule.tolerance:g}, no interval)"
        )
    )
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
    for idx in pool.index.difference(within.index):
        g.loc[idx, "status"] = "below_bar"
        top = g.loc[idx, "f1_hi"] if not _isnan(g.loc[idx, "f1_hi"]) else g.loc[idx, "f1"]
        g.loc[idx, "why"] = f"F1 up to {fmt(top, 3)}, below {fmt(threshold, 3)}" + (
            " (the best one's interval)" if kind == "interval" else " (best - tolerance)"
        )
    if len(within) == 1:
        # no second variant reached the bar: the runner-up is the next-best that missed
        order = {"below_bar": 0, "over_budget": 1, "no_cost": 2}
        rest = g[g["status"].isin(order)]
        if not rest.empty:
            rest = rest.assign(_o=rest["status"].map(order), _neg_f1=-rest["f1"]).sort_values(
                ["_o", "_neg_f1", cost, "variant_id"]
            )
            g.loc[rest.index[0], "status"] = "runner_up"
    return g


def recommend(
    candidates: pd.DataFrame,
    baselines: pd.DataFrame,
    rule: Rule,
    decided: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per appliance: the recommended variant, the runner-up and why it lost.

    ``decided`` is classify()'s result for the same inputs, when the caller already has it.
    """
    if decided is None:
        decided = classify(candidates, baselines, rule)
    rows = []
    for appliance, g in decided.groupby("appliance", sort=True):
        counts = g["status"].value_counts()
        excluded = ", ".join(
            f"{counts[s]} {STATUS_TEXT[s]}"
            for s in ("under_trained", "not_above_baseline", "no_f1", "over_budget", "no_cost")
            if s in counts
        )
        rec = g[g["status"] == "recommended"]
        up = g[g["status"] == "runner_up"]
        base_id, base_f1 = g["baseline_id"].iloc[0], g["baseline_f1"].iloc[0]
        row = {
            "appliance": appliance,
            "variant_id": None,
            "arch": None,
            "mode": None,
            "f1": math.nan,
            "f1_lo": math.nan,
            "f1_hi": math.nan,
            "cost": math.nan,
            "latency_ms": math.nan,
            "ram_mb": math.nan,
            "disk_mb": math.nan,
            "why": "",
            "runner_up_id": up["variant_id"].iloc[0] if len(up) else None,
            "runner_up_why": up["why"].iloc[0] if len(up) else "no other candidate",
            "best_id": g["best_id"].iloc[0],
            "threshold": g["threshold"].iloc[0],
            "threshold_kind": g["threshold_kind"].iloc[0],
            "baseline_id": base_id,
            "baseline_f1": base_f1,
            "candidates": len(g),
            "excluded": excluded,
        }
        if len(rec):
            r = rec.iloc[0]
            row.update(
                {k: r[k] for k in ("variant_id", "arch", "mode", "f1", "f1_lo", "f1_hi", "why")}
            )
            row.update({c: r[c] for c in COSTS})
            row["cost"] = r[rule.cost]
        else:
            row["why"] = "nothing recommended: " + (excluded or "no candidate")
        if base_id is None or _isnan(base_f1):
            row["why"] += "; no baseline in the store, so the baseline check was skipped"
        rows.append(row)
    return pd.DataFrame(rows)


def load(con, host: str, runtime: str, threads: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rule's inputs for one device from an open DuckDB connection (fully fetched)."""
    candidates = con.execute(CANDIDATES_SQL, [host, runtime, int(threads)]).df()
    baselines = con.execute(BASELINES_SQL).df()
    return candidates, baselines


def devices(con) -> pd.DataFrame:
    return con.execute(DEVICES_SQL).df()
