"""6. End to end: stage times of `pipeline all --profile demo` against the 30-minute budget.

Runs the real command on a fresh store under bench/results (pass --reuse to read the times of
the last run in that store instead), then prints each stage's share of the budget.
"""

from __future__ import annotations

import subprocess
import sys
import time

from _common import RESULTS, ROOT, save

BUDGET_S = 30 * 60


def main() -> None:
    from store import db

    store = RESULTS / "e2e_demo.duckdb"
    if "--reuse" not in sys.argv:
        t0 = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pipeline.cli",
                "all",
                "--profile",
                "demo",
                "--store",
                str(store),
            ],
            cwd=ROOT,
            check=True,
        )
        wall = time.perf_counter() - t0
        t0 = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pipeline.cli",
                "all",
                "--profile",
                "demo",
                "--store",
                str(store),
            ],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        rerun = time.perf_counter() - t0
    else:
        wall = rerun = None  # noqa: F841
    # the latest run of `pipeline all` that skipped nothing (a full refresh), and its wall time
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
    if wall is None and len(df):
        wall = float(df["wall"].iloc[0])
    stages = dict(zip(df["stage"], df["seconds"], strict=True))
    total = sum(stages.values())
    for name, s in stages.items():
        print(f"{name:9s} {s:7.0f} s  {s / BUDGET_S:6.1%} of the 30-minute budget")
    print(
        f"total     {total:7.0f} s  {total / BUDGET_S:6.1%} of the budget"
        + (f"; re-run with nothing changed {rerun:.1f} s" if rerun else "")
    )
    save(
        "end_to_end",
        {
            "stages_s": stages,
            "total_s": total,
            "wall_s": wall,
            "rerun_s": rerun,
            "budget_s": BUDGET_S,
        },
    )


if __name__ == "__main__":
    main()
