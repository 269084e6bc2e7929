"""Power and energy beside every accuracy verdict: a model whose MAE or energy-per-day error is
worse than a baseline's (always off, the mean power, the threshold rule) is flagged wherever the
dashboard shows its accuracy, whatever its F1. The words are the recommendation's own
(store/recommend.py power_flags: point estimates against each appliance's best baseline on that
measure), so the Overview's answer, the leaderboard, Tradeoff, Variant and Compare agree."""

from __future__ import annotations

import pandas as pd

from store.recommend import power_flags
from store.vocab import Kind

FLAG_HEADER = "MAE or energy worse than a baseline"


def by_appliance(best: pd.DataFrame | None) -> dict:
    """queries.best_baselines as {appliance: row}."""
    if best is None or best.empty:
        return {}
    return {r["appliance"]: r for r in best.to_dict("records")}


def flag(row: dict, best: dict) -> str:
    """The flag of one variant (empty: not worse, a baseline itself, or nothing to compare).
    ``row`` carries appliance, kind (optional), mae_w (or mae) and epd_error_pct."""
    if row.get("kind") == Kind.BASELINE or row.get("appliance") not in best:
        return ""
    if "mae_w" not in row and "mae" in row:
        row = {**row, "mae_w": row["mae"]}
    return power_flags(row, best[row["appliance"]])


def flags(df: pd.DataFrame, best: pd.DataFrame | None) -> list[str]:
    """One flag per row of ``df``."""
    table = by_appliance(best)
    return [flag(r, table) for r in df.to_dict("records")]
