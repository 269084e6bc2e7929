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

Everything here is pure: the SQL below fetches the inputs, `classify` (the rule itself, in
store/recommend_rule.py) decides each variant's status, `recommend` sums it up per appliance.
"""

from __future__ import annotations

import math

import pandas as pd

from store.recommend_rule import (
    COSTS,
    DEFAULT_TOLERANCE,
    STATUS_TEXT,
    Rule,
    classify,
    fmt,
    is_missing,
)

__all__ = [
    "BASELINES_SQL",
    "CANDIDATES_SQL",
    "COSTS",
    "DEFAULT_CLASS",
    "DEFAULT_TOLERANCE",
    "DEVICES_SQL",
    "DEVICE_CLASSES",
    "STATUS_TEXT",
    "Rule",
    "classify",
    "devices",
    "fmt",
    "load",
    "preset_for_machine",
    "recommend",
]

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


def preset_for_machine(machine: str | None) -> str:
    for key, spec in DEVICE_CLASSES.items():
        if machine and machine.lower() in spec["machines"]:
            return key
    return DEFAULT_CLASS


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
    rows = [
        _summary_row(appliance, g, rule) for appliance, g in decided.groupby("appliance", sort=True)
    ]
    return pd.DataFrame(rows)


def _summary_row(appliance: str, g: pd.DataFrame, rule: Rule) -> dict:
    """One appliance's classified candidates as its row of the summary."""
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
        row.update({k: r[k] for k in ("variant_id", "arch", "mode", "f1", "f1_lo", "f1_hi", "why")})
        row.update({c: r[c] for c in COSTS})
        row["cost"] = r[rule.cost]
    else:
        row["why"] = "nothing recommended: " + (excluded or "no candidate")
    if base_id is None or is_missing(base_f1):
        row["why"] += "; no baseline in the store, so the baseline check was skipped"
    return row


def load(con, host: str, runtime: str, threads: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rule's inputs for one device from an open DuckDB connection (fully fetched)."""
    candidates = con.execute(CANDIDATES_SQL, [host, runtime, int(threads)]).df()
    baselines = con.execute(BASELINES_SQL).df()
    return candidates, baselines


def devices(con) -> pd.DataFrame:
    return con.execute(DEVICES_SQL).df()
