"""6. End to end: stage times of `pipeline all --profile demo` against the 30-minute budget,
what the evaluation's intervals look like, and what training bought per minute.

Runs the real command on a fresh store under bench/results (pass --reuse to read the times of
the last run in that store instead, or --store PATH to read another store), then prints each
stage's share of the budget, the float models' F1 with its 95 % interval against the best
baseline, and per model: steps, training windows/s, best validation loss, F1 per minute.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from _common import RESULTS, ROOT, save

BUDGET_S = 30 * 60


def main() -> None:
    store = RESULTS / "e2e_demo.duckdb"
    if "--store" in sys.argv:
        store = Path(sys.argv[sys.argv.index("--store") + 1])
    wall = rerun = None
    if "--reuse" not in sys.argv and "--store" not in sys.argv:
        wall, rerun = run_twice(store)
    stages, last_wall = latest_full_run(store)
    if wall is None:
        wall = last_wall
    total = sum(stages.values())
    for name, s in stages.items():
        print(f"{name:9s} {s:7.0f} s  {s / BUDGET_S:6.1%} of the 30-minute budget")
    print(
        f"total     {total:7.0f} s  {total / BUDGET_S:6.1%} of the budget"
        + (f"; re-run with nothing changed {rerun:.1f} s" if rerun else "")
    )
    accuracy = accuracy_report(store)
    training = training_report(store)
    save(
        "end_to_end",
        {
            "stages_s": stages,
            "total_s": total,
            "wall_s": wall,
            "rerun_s": rerun,
            "budget_s": BUDGET_S,
            "accuracy": accuracy,
            "training": training,
        },
    )


def run_twice(store: Path) -> tuple[float, float]:
    """`pipeline all --profile demo` on the store, then again with nothing changed: wall times."""
    command = [
        sys.executable,
        "-m",
        "pipeline.cli.command",
        "all",
        "--profile",
        "demo",
        "--store",
        str(store),
    ]
    t0 = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True)
    wall = time.perf_counter() - t0
    t0 = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
    return wall, time.perf_counter() - t0


def latest_full_run(store: Path) -> tuple[dict[str, float], float | None]:
    """Stage times of the latest `pipeline all` that skipped nothing (a full refresh), and its
    wall time (None when the store has none)."""
    from store import db

    df = db.query_df(
        store,
        """
        WITH full_runs AS (
            SELECT run_id FROM stage_timings GROUP BY run_id
            HAVING bool_and(NOT skipped) AND count(*) FILTER (WHERE item = '*') > 0),
        latest AS (
            SELECT r.run_id, epoch(r.finished_at) - epoch(r.started_at) AS wall FROM runs r
            WHERE r.run_id IN (SELECT run_id FROM full_runs) ORDER BY r.started_at DESC LIMIT 1)
        SELECT t.stage, t.seconds, latest.wall FROM stage_timings t JOIN latest USING (run_id)
        WHERE t.item = '*' AND t.stage <> 'all'""",
    )
    wall = float(df["wall"].iloc[0]) if len(df) else None
    return dict(zip(df["stage"], df["seconds"], strict=True)), wall


def accuracy_report(store) -> list[dict]:
    """Float models' F1 with interval half-widths, beside the best baseline of the appliance,
    and whether each beats it as the recommendation decides it (store.recommend_rule)."""
    from store import db
    from store.recommend_pairs import Pairs
    from store.recommend_rule import beats_baseline

    df = db.query_df(
        store,
        """
        WITH b AS (SELECT appliance, arg_max(variant_id, f1) AS baseline, max(f1) AS base_f1,
                          arg_max(f1_hi, f1) AS base_hi
                   FROM metrics_wide WHERE kind = 'baseline' AND split = 'test' GROUP BY 1)
        SELECT m.variant_id, m.appliance, m.arch, m.f1, m.f1_lo, m.f1_hi, m.mae, m.mae_lo,
               m.mae_hi, b.baseline, b.base_f1, b.base_hi
        FROM metrics_wide m JOIN b USING (appliance)
        WHERE m.mode = 'keras' AND m.split = 'test' ORDER BY 2, 3""",
    )
    pairs = Pairs(
        db.query_df(
            store, "SELECT * FROM paired_deltas WHERE split = 'test' AND metric = 'f1'"
        ).to_dict("records")
    )
    print("\nfloat models on the evaluation sample (95 % intervals) vs the best baseline")
    rows = df.to_dict("records")
    for r in rows:
        clear, _ = beats_baseline(r["variant_id"], r["f1_lo"], r["baseline"], r["base_f1"], pairs)
        r["beats_baseline"] = clear
        print(
            f"{r['appliance']:16s} {r['arch']:11s} F1 {r['f1']:.3f} ±{(r['f1_hi'] - r['f1_lo']) / 2:.3f}"
            f"  MAE {r['mae']:7.1f} W  best baseline {r['baseline'].split('.')[-1]} F1 {r['base_f1']:.3f}"
            f"  {'beats it' if clear else 'NOT clear of it'}"
        )
    return rows


def training_report(store) -> list[dict]:
    from store import db

    df = db.query_df(
        store,
        """
        SELECT m.model_id, m.steps, m.windows_seen, m.train_seconds, m.best_val_loss,
               m.best_epoch, m.epochs_run, m.stop_reason, m.still_improving, m.under_trained,
               w.f1
        FROM models m JOIN metrics_wide w ON w.variant_id = m.model_id || '.keras'
            AND w.split = 'test' ORDER BY 1""",
    )
    print("\ntraining: steps, windows/s, best val loss, F1 reached per minute of training")
    rows = df.to_dict("records")
    for r in rows:
        minutes = r["train_seconds"] / 60
        print(
            f"{r['model_id']:28s} {r['steps']:5d} steps {r['windows_seen'] / r['train_seconds']:7.0f} win/s"
            f"  val {r['best_val_loss']:.4f} (epoch {r['best_epoch']}/{r['epochs_run']}, {r['stop_reason']})"
            f"  F1 {r['f1']:.3f} in {minutes:.1f} min = {r['f1'] / minutes:.2f}/min"
            + ("  UNDER-TRAINED" if r["under_trained"] else "")
        )
    return rows


if __name__ == "__main__":
    main()
