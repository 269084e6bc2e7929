"""What the recommendation rule (store/recommend_rule.py) compares: paired differences between
entries on the windows both saw, cost differences against their measurement noise, and which of
several byte-identical or equally cheap variants stands for them."""

from __future__ import annotations

import math

import pandas as pd

COSTS = {
    "latency_ms": ("latency", "ms"),
    "ram_mb": ("RAM", "MB"),
    "disk_mb": ("disk", "MB"),
}
MIN_ON_WINDOWS = 20  # an F1 from fewer 'on' windows is mostly luck (see bench/bench_coverage.py)
# Measurement noise of a cost difference. Latency: the 95 % interval of the difference of two
# medians from each run's timed invokes (standard error of a median ~ 1.2533 sd / sqrt(runs)),
# but never under a stated floor for what one run's invokes cannot show: the machine's state
# between runs (caches, clock frequency, other load).
LATENCY_FLOOR_REL = 0.03
RAM_FLOOR_MB = 1.0  # resident-set peaks move by page-cache and allocator noise of about 1 MB
RAM_FLOOR_REL = 0.02
# the converter's standard modes, preferred in a tie in this order; the project's own modes after
STANDARD_MODES = ("convert_only", "w8", "w8_a8", "w8_a16", "f16")


def fmt(v, digits: int = 4) -> str:
    """A number as a person reads it: no exponent, no trailing noise."""
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return "-"
    v = float(v)
    if v == 0:
        return "0"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    text = f"{v:.{max(digits - 1 - int(math.floor(math.log10(abs(v)))), 0)}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def is_missing(v) -> bool:
    if v is None or v is pd.NA:
        return True
    try:
        return isinstance(v, float) and math.isnan(v)
    except TypeError:
        return False


class Pairs:
    """Paired differences (variant minus other) by (variant, other, metric)."""

    def __init__(self, rows: list[dict]):
        self._d = {(r["variant_id"], r["other_id"], r["metric"]): r for r in rows}

    @classmethod
    def from_inputs(cls, candidates: pd.DataFrame, pairs=None) -> Pairs:
        if pairs is not None:
            frame = pairs if isinstance(pairs, pd.DataFrame) else pd.DataFrame(pairs)
            return cls(frame.to_dict("records"))
        rows = []
        if "pairs" in candidates.columns:
            for vid, lst in zip(candidates["variant_id"], candidates["pairs"], strict=True):
                if lst is None or lst is pd.NA or (isinstance(lst, float) and math.isnan(lst)):
                    continue
                rows += [{**p, "variant_id": vid} for p in list(lst)]
        return cls(rows)

    def get(self, a: str, b: str, metric: str) -> dict | None:
        """{'delta', 'lo', 'hi', 'n', 'n_on'} of a minus b, or None when not stored."""
        r = self._d.get((a, b, metric))
        if r is None:
            r = self._d.get((b, a, metric))
            if r is None:
                return None
            return _as_pair(r, sign=-1)
        return _as_pair(r, sign=1)


def _num(v):
    return math.nan if is_missing(v) else float(v)


def _as_pair(r: dict, sign: int) -> dict:
    lo = _num(r.get("ci_low", r.get("lo")))
    hi = _num(r.get("ci_high", r.get("hi")))
    if sign < 0:
        lo, hi = -hi, -lo
    return {
        "delta": sign * _num(r.get("delta")),
        "lo": lo,
        "hi": hi,
        "n": r.get("n_windows", r.get("n")),
        "n_on": r.get("on_windows", r.get("n_on")),
    }


def preference_key(r, cost: str) -> tuple:
    """Which of several equal entries stands for them: fewer float ops, then the standard
    mode (in STANDARD_MODES order), then the lower cost, then the name."""
    ops = r.get("float_compute_ops")
    mode = r.get("mode")
    rank = STANDARD_MODES.index(mode) if mode in STANDARD_MODES else len(STANDARD_MODES)
    c = r.get(cost)
    return (
        math.inf if is_missing(ops) else float(ops),
        rank,
        math.inf if is_missing(c) else float(c),
        str(r.get("variant_id")),
    )


def merge_identical_files(g: pd.DataFrame) -> pd.DataFrame:
    """Variants whose files are byte-identical (same sha256) are one entry: the preferred one
    stays in the running (``same_as`` lists the others), the others get status same_file."""
    g["same_as"] = ""
    if "sha256" not in g.columns:
        return g
    for sha, dup in g[g["sha256"].notna()].groupby("sha256"):
        if len(dup) < 2:
            continue
        keep = min(dup.index, key=lambda i: preference_key(g.loc[i], "disk_mb"))
        names = sorted(dup["variant_id"])
        g.at[keep, "same_as"] = " = ".join(names)
        for i in dup.index:
            if i != keep:
                g.at[i, "status"] = "same_file"
                g.at[i, "why"] = (
                    f"byte-identical to {g.at[keep, 'variant_id']} (sha256 {str(sha)[:12]}): "
                    "one entry"
                )
    return g


def cost_noise(a, b, cost: str) -> float:
    """Half-width of the 95 % interval of the cost difference between rows a and b."""
    va, vb = float(a[cost]), float(b[cost])
    if cost == "latency_ms":
        se2 = 0.0
        for r in (a, b):
            sd, runs = r.get("latency_std_ms"), r.get("latency_runs")
            if not is_missing(sd) and not is_missing(runs) and runs > 1:
                se2 += (1.2533 * float(sd)) ** 2 / float(runs)
        return max(1.96 * math.sqrt(se2), LATENCY_FLOOR_REL * max(va, vb))
    if cost == "ram_mb":
        return max(RAM_FLOOR_MB, RAM_FLOOR_REL * max(va, vb))
    return 0.0  # a file's size is exact


def tie_group(order: pd.DataFrame, cost: str) -> list:
    """Indices of the cheapest entry of ``order`` (sorted by cost) and every entry whose cost
    differs from it by no more than the noise of that difference."""
    first = order.iloc[0]
    return [
        i
        for i, r in order.iterrows()
        if i == first.name or float(r[cost]) - float(first[cost]) <= cost_noise(r, first, cost)
    ]
