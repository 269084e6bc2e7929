#!/usr/bin/env python3
"""Print what the dashboard's reads and the recommendation answer for a store, one line each
(for before/after checks: run it with two code trees, or on two stores, and diff the output).

    python tools/dashboard_answers.py STORE [--no-measurements]

--no-measurements leaves out the answers that carry latency, memory or op timings (which differ
from one run of the pipeline to the next by nature)."""

from __future__ import annotations

import argparse
import hashlib

import pandas as pd


def digest(value) -> str:
    if isinstance(value, pd.DataFrame):
        text = value.to_csv(index=False, float_format="%.9g")
    elif isinstance(value, tuple | list):
        return "[" + ", ".join(digest(v) for v in value) + "]"
    else:
        text = repr(value)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("store")
    p.add_argument("--no-measurements", action="store_true")
    args = p.parse_args()
    from dashboard import queries
    from store import recommend

    store = args.store
    devices = queries.devices(store)
    device = tuple(devices.iloc[0][["host", "runtime", "threads"]]) if len(devices) else None
    vids = list(queries.variant_ids(store)) if hasattr(queries, "variant_ids") else []
    vid = next((v for v in vids if v.endswith(".w8_a8")), vids[0] if vids else None)
    calls = {
        "appliances": lambda: queries.appliances(store),
        "baselines": lambda: queries.baselines(store),
        "reference_points": lambda: queries.reference_points(store, "f1"),
        "article_comparison": lambda: queries.article_comparison(store, "mae_masked"),
        "mode_deltas": lambda: queries.mode_deltas(store),
        "layer_error_summary": lambda: queries.layer_error_summary(store),
        "suspect_threshold": lambda: queries.suspect_threshold(store),
        "variant": lambda: queries.variant(store, vid),
        "metrics_vs_float": lambda: queries.metrics_vs_float(store, vid),
        "layer_stats": lambda: queries.layer_stats(store, vid),
        "census": lambda: queries.census(store, vid),
        "history": lambda: queries.history(store, vid.rsplit(".", 1)[0]),
        "schema": lambda: queries.schema(store),
        "sql": lambda: queries.run_user_sql(
            store, "SELECT appliance, mode, f1 FROM metrics_wide ORDER BY ALL"
        ),
    }
    measured = {
        "devices": lambda: devices,
        "tradeoff": lambda: queries.tradeoff(store, None, device),
        "leaderboard": lambda: queries.leaderboard(store, device),
        "op_profile": lambda: queries.op_profile(store, vid),
        "memory": lambda: queries.memory(store, vid),
    }

    def decide():
        cands, bases = queries.recommendation_inputs(store, *device)
        rule = recommend.Rule()
        decided = recommend.classify(cands, bases, rule)
        return recommend.recommend(cands, bases, rule, decided), decided

    if not args.no_measurements:
        calls |= measured | {"recommendation": decide}
    for name, fn in calls.items():
        try:
            print(f"{name:22s} {digest(fn())}")
        except Exception as exc:  # an answer that fails is an answer too
            print(f"{name:22s} error {type(exc).__name__}: {exc}"[:200])


if __name__ == "__main__":
    main()
