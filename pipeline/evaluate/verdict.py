"""The end-of-run power and energy verdict: every float model whose MAE or energy-per-day error is
worse than its appliance's best baseline on the same test windows, whatever its F1.

A model can find an appliance's activations (high F1) and still claim power while it is off; in a
house it never saw that false power can exceed what predicting 0 W everywhere gets wrong. The
summary of `pipeline all` says so in one line per such model.
"""

from __future__ import annotations

import math

import pandas as pd

from store import recommend
from store.vocab import Kind, Mode, Split

VERDICT_SQL = f"""
    SELECT appliance, arch, mode, kind, variant_id, f1, mae, epd_error_pct
    FROM metrics_wide
    WHERE split = '{Split.TEST}' AND (kind = '{Kind.BASELINE}' OR mode = '{Mode.KERAS}')
    ORDER BY appliance, arch
"""


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _best_baselines(rows: pd.DataFrame) -> dict:
    """The best baseline of one appliance on each measure, as store/recommend.py's rule reads
    it (lowest MAE; lowest |energy error|)."""
    base = rows[rows["kind"] == Kind.BASELINE]
    out = {}
    mae = base.dropna(subset=["mae"])
    if not mae.empty:
        b = mae.loc[mae["mae"].idxmin()]
        out.update(baseline_mae=float(b["mae"]), mae_baseline_id=b["variant_id"])
    epd = base.dropna(subset=["epd_error_pct"])
    if not epd.empty:
        b = epd.loc[epd["epd_error_pct"].abs().idxmin()]
        out.update(baseline_abs_epd=abs(float(b["epd_error_pct"])), epd_baseline_id=b["variant_id"])
    return out


def power_flags(metrics: pd.DataFrame) -> list[dict]:
    """One row per float model worse than its appliance's best baseline on MAE or on |energy
    error| (appliance, variant, f1, what it lost on and to which baseline), in the words and by
    the test of the recommendation (store/recommend.py power_flags), so the summary, the
    Overview and every dashboard flag agree."""
    out = []
    for appliance, rows in metrics.groupby("appliance", sort=True):
        base = _best_baselines(rows)
        if not base:
            continue
        for m in rows[rows["kind"] == "model"].to_dict("records"):
            worse = recommend.power_flags({**m, "mae_w": m["mae"]}, base)
            if worse:
                out.append(
                    {
                        "appliance": appliance,
                        "variant_id": m["variant_id"],
                        "f1": m["f1"],
                        "worse": worse,
                    }
                )
    return out


def verdict_lines(metrics: pd.DataFrame) -> list[str]:
    """The summary's lines: one per flagged model, or one saying none is flagged."""
    flags = power_flags(metrics)
    if metrics.empty:
        return []
    if not flags:
        return [
            "power and energy: every float model beats its appliance's best baseline "
            "on MAE and energy per day"
        ]
    return [
        f"power and energy: WORSE THAN A BASELINE: {f['variant_id']} (F1 "
        f"{'-' if _missing(f['f1']) else format(f['f1'], '.3f')}): {f['worse']}"
        for f in flags
    ]
