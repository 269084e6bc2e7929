"""Which variant to ship on a device: one rule, shared by the dashboard and `pipeline all`.

The rule, per appliance, on one device (host x runtime x threads), with a margin (default 0.02
F1: what a person accepts to lose for a cheaper variant):

1. Variants whose files are byte-identical (same sha256) are one entry.
2. A variant is never recommended when its model is flagged under-trained, its F1 is undefined,
   it has no interval or fewer than 20 'on' windows behind it, it cannot show (paired lower
   bound) that it loses less than the margin to its own float model, its F1 does not beat the
   best baseline's, or it is measurably worse (paired) than the best baseline on MAE or on the
   energy-per-day error. Variants over a budget are left out too.
3. The best is the remaining variant with the highest F1. Every remaining variant whose F1
   minus the best one's, paired on the windows both saw (the smaller of their nested sample
   levels), has a 95 % lower bound above -margin is non-inferior.
4. Of those, the cheapest by the chosen cost and every one whose cost differs from it by less
   than the measurement noise of that difference form the recommended group, shown as one
   answer; the preference (fewer float ops, then the standard mode) names its member. The
   runner-up is the next cheapest beyond noise, or failing that the best that missed, with why.

Everything here is pure: the SQL below fetches the inputs, `classify` (the rule itself, in
store/recommend_rule.py) decides each variant's status, `recommend` sums it up per appliance.
"""

from __future__ import annotations

import math

import pandas as pd

from store.recommend_rule import (
    COSTS,
    DEFAULT_TOLERANCE,
    EXCLUDED,
    STATUS_TEXT,
    Rule,
    classify,
    fmt,
    is_missing,
)
from store.vocab import Kind, Split

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
    "answer_text",
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
WITH f1n AS (
    SELECT variant_id, n_windows FROM metrics WHERE split = 'test' AND metric = 'f1'
), pairs AS (
    SELECT variant_id,
           list({'other_id': other_id, 'metric': metric, 'delta': delta, 'ci_low': ci_low,
                 'ci_high': ci_high, 'n_windows': n_windows, 'on_windows': on_windows}) AS pairs
    FROM paired_deltas WHERE split = 'test' GROUP BY variant_id
)
SELECT t.appliance, t.variant_id, t.arch, t.mode, t.host, t.runtime, t.threads,
       h.machine, h.cpu_model,
       t.f1, t.f1_lo, t.f1_hi, t.mae_w, t.epd_error_pct, t.epd_error_pct_lo, t.epd_error_pct_hi,
       t.latency_ms, l.std_ms AS latency_std_ms, l.runs AS latency_runs, t.ram_mb, t.disk_mb,
       t.float_compute_ops, v.sha256,
       coalesce(t.under_trained, false) AS under_trained,
       d.delta AS f1_delta, d.ci_low AS f1_delta_lo, d.ci_high AS f1_delta_hi,
       f1n.n_windows, e.subset AS level, e.on_windows, p.pairs
FROM tradeoff t
JOIN variants v ON v.variant_id = t.variant_id
LEFT JOIN hosts h ON h.host = t.host
LEFT JOIN latency l ON l.variant_id = t.variant_id AND l.host = t.host AND l.runtime = t.runtime
    AND l.threads = t.threads AND l.batch = 1 AND l.xnnpack AND l.error IS NULL
LEFT JOIN metric_deltas d
    ON d.variant_id = t.variant_id AND d.metric = 'f1' AND d.split = 'test'
LEFT JOIN f1n ON f1n.variant_id = t.variant_id
LEFT JOIN evaluations e ON e.variant_id = t.variant_id AND e.split = 'test'
LEFT JOIN pairs p ON p.variant_id = t.variant_id
WHERE t.host = ? AND t.runtime = ? AND t.threads = ?
ORDER BY t.appliance, t.variant_id
"""

# the best baseline per appliance on F1, on MAE and on the absolute energy-per-day error
BASELINES_SQL = f"""
SELECT appliance,
       arg_max(variant_id, f1) FILTER (WHERE f1 IS NOT NULL) AS baseline_id,
       max(f1) AS baseline_f1,
       arg_min(variant_id, mae) FILTER (WHERE mae IS NOT NULL) AS mae_baseline_id,
       min(mae) AS baseline_mae,
       arg_min(variant_id, abs(epd_error_pct)) FILTER (WHERE epd_error_pct IS NOT NULL)
           AS epd_baseline_id,
       min(abs(epd_error_pct)) AS baseline_abs_epd
FROM metrics_wide
WHERE kind = '{Kind.BASELINE}' AND split = '{Split.TEST}'
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
    """One row per appliance: the recommended group, the runner-up and why it lost.

    ``decided`` is classify()'s result for the same inputs, when the caller already has it.
    """
    if decided is None:
        decided = classify(candidates, baselines, rule)
    base = {}
    if baselines is not None and not baselines.empty:
        base = {r["appliance"]: r for r in baselines.to_dict("records")}
    rows = [
        _summary_row(appliance, g, rule, base.get(appliance, {}))
        for appliance, g in decided.groupby("appliance", sort=True)
    ]
    return pd.DataFrame(rows)


def power_flags(r, base: dict) -> str:
    """Where a variant's MAE or energy-per-day error is worse than the best baseline's (point
    estimates; the rule itself asks for a paired, measurable difference)."""
    flags = []
    mae, bmae = r.get("mae_w"), base.get("baseline_mae")
    if not is_missing(mae) and not is_missing(bmae) and mae > bmae:
        flags.append(
            f"MAE {fmt(mae, 3)} W worse than {base.get('mae_baseline_id')} ({fmt(bmae, 3)} W)"
        )
    epd, bepd = r.get("epd_error_pct"), base.get("baseline_abs_epd")
    if not is_missing(epd) and not is_missing(bepd) and abs(epd) > bepd:
        flags.append(
            f"energy/day error {fmt(epd, 3)} % worse than {base.get('epd_baseline_id')} "
            f"(|{fmt(bepd, 3)}| %)"
        )
    return "; ".join(flags)


def candidate_counts(g: pd.DataFrame) -> str:
    """Every candidate's sample, those on the same windows together: 'kettle: 9 cnn at n=10,000
    (full, 2,310 on); 1 at n=60 (min, 20 on): kettle.transformer.w8_a16'."""
    g = g.assign(
        _n=g.get("n_windows", pd.Series(index=g.index, dtype=float)),
        _lv=g.get("level", pd.Series(index=g.index, dtype=object)),
        _on=g.get("on_windows", pd.Series(index=g.index, dtype=float)),
    )
    parts = []
    for (n, level, on), same in g.groupby(["_n", "_lv", "_on"], dropna=False, sort=False):
        size = "n=-" if is_missing(n) else f"n={int(n):,}"
        extra = [str(level)] if isinstance(level, str) else []
        extra += [] if is_missing(on) else [f"{int(on):,} on"]
        ids = sorted(same["variant_id"])
        who = ", ".join(ids) if len(ids) <= 2 else f"{len(ids)} variants ({ids[0]}, ...)"
        parts.append(f"{size}" + (f" ({', '.join(extra)})" if extra else "") + f": {who}")
    return f"{g['appliance'].iloc[0]}: " + "; ".join(parts) if len(g) else ""


SUMMARY_FIELDS = (
    "variant_id", "arch", "mode", "f1", "f1_lo", "f1_hi", "why", "group", "same_as",
    "f1_delta", "f1_delta_lo", "f1_delta_hi", "mae_w", "epd_error_pct", "epd_error_pct_lo",
    "epd_error_pct_hi", "n_windows", "level", "on_windows", "host", "machine",
)  # fmt: skip


def identical_files(g: pd.DataFrame) -> str:
    """The appliance's byte-identical files, each set counted as one entry: 'a = b; c = d'."""
    if "same_as" not in g:
        return ""
    return "; ".join(s for s in g["same_as"] if isinstance(s, str) and s)


def _summary_row(appliance: str, g: pd.DataFrame, rule: Rule, base: dict) -> dict:
    """One appliance's classified candidates as its row of the summary."""
    counts = g["kept_out"].value_counts() if "kept_out" in g else g["status"].value_counts()
    excluded = "; ".join(
        f"{counts[s]} variant{'' if counts[s] == 1 else 's'}: {STATUS_TEXT[s]}"
        for s in EXCLUDED
        if s in counts
    )
    rec = g[g["status"] == "recommended"]
    up = g[g["status"] == "runner_up"]
    base_id, base_f1 = g["baseline_id"].iloc[0], g["baseline_f1"].iloc[0]
    row = dict.fromkeys(SUMMARY_FIELDS)
    row.update({c: math.nan for c in ("f1", "f1_lo", "f1_hi", "cost", *COSTS)})
    row.update(
        {
            "appliance": appliance,
            "why": "",
            "margin": rule.margin,
            "runner_up_id": up["variant_id"].iloc[0] if len(up) else None,
            "runner_up_why": up["why"].iloc[0] if len(up) else "no other candidate",
            "best_id": g["best_id"].iloc[0],
            "threshold": g["threshold"].iloc[0],
            "threshold_kind": g["threshold_kind"].iloc[0],
            "baseline_id": base_id,
            "baseline_f1": base_f1,
            "candidates": len(g),
            "candidates_n": candidate_counts(g),
            "excluded": excluded,
            "identical": identical_files(g),
            "power_flag": "",
        }
    )
    if len(rec):
        r = rec.iloc[0]
        row.update({k: r.get(k) for k in SUMMARY_FIELDS})
        row.update({c: r[c] for c in COSTS})
        row["cost"] = r[rule.cost]
        row["power_flag"] = power_flags(r, base)
    else:
        row["why"] = "nothing recommended: " + (excluded or "every candidate kept out")
        if len(up):
            u = up.iloc[0]
            row["why"] += f"; closest: {u['variant_id']} ({u['why']})"
            row["power_flag"] = power_flags(u, base)
    if base_id is None or is_missing(base_f1):
        row["why"] += "; no baseline in the store, so the baseline check was skipped"
    return row


def _interval(v, lo, hi, digits: int = 3) -> str:
    if is_missing(lo):
        return f"{fmt(v, digits)} (no interval)"
    return f"{fmt(v, digits)} [{fmt(lo, digits)}, {fmt(hi, digits)}]"


def _identical_part(r: dict) -> str:
    """Byte-identical files other than the recommended one's own (said beside its name)."""
    own = r.get("same_as") or ""
    others = [s for s in (r.get("identical") or "").split("; ") if s and s != own]
    return f"byte-identical files, one entry each: {'; '.join(others)}" if others else ""


def answer_text(r: dict, device_note: str = "") -> str:
    """One appliance's answer as a sentence a stakeholder reads (the Overview's cards): what to
    ship (its group within noise and identical files), F1 with interval and n, the paired loss
    to float, the energy error with its flag, and the costs with the host they come from."""
    identical = _identical_part(r)
    if not isinstance(r.get("variant_id"), str):
        return f"{r['appliance']}: {r.get('why', '')}" + (f"; {identical}" if identical else ".")
    ship = f"{r['appliance']}: ship {r['variant_id']}"
    if r.get("same_as"):
        ship += f" (one file: {r['same_as']})"
    group = r.get("group") or ""
    others = [g for g in group.split(", ") if g and g != r["variant_id"]]
    if others:
        ship += f" or any of {', '.join(others)} (equal within measurement noise)"
    n = r.get("n_windows")
    parts = [
        f"F1 {_interval(r['f1'], r['f1_lo'], r['f1_hi'])}"
        + ("" if is_missing(n) else f" on {int(n):,} windows ({r.get('level') or '-'})")
    ]
    if not is_missing(r.get("f1_delta")):
        parts.append(
            f"{_interval(r['f1_delta'], r.get('f1_delta_lo'), r.get('f1_delta_hi'))} F1 vs its "
            "float model (paired)"
        )
    if not is_missing(r.get("epd_error_pct")):
        flag = r.get("power_flag") or ""
        parts.append(
            f"energy-per-day error {'+' if r['epd_error_pct'] > 0 else ''}"
            f"{fmt(r['epd_error_pct'], 3)} %" + (f", WORSE than a baseline: {flag}" if flag else "")
        )
    costs = f"{fmt(r['latency_ms'])} ms, {fmt(r['ram_mb'])} MB RAM, {fmt(r['disk_mb'])} MB disk"
    machine = r.get("machine") if isinstance(r.get("machine"), str) else "machine not recorded"
    parts.append(f"{costs} measured on {r.get('host')} ({machine}){device_note}")
    if identical:
        parts.append(identical)
    return f"{ship}. " + "; ".join(parts) + f" (margin {fmt(r.get('margin'))} F1)."


def load(con, host: str, runtime: str, threads: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rule's inputs for one device from an open DuckDB connection (fully fetched)."""
    candidates = con.execute(CANDIDATES_SQL, [host, runtime, int(threads)]).df()
    baselines = con.execute(BASELINES_SQL).df()
    return candidates, baselines


def devices(con) -> pd.DataFrame:
    return con.execute(DEVICES_SQL).df()
