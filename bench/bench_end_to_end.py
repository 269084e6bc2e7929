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
        wall = rerun = None
    df = db.query_df(
        store,
        """
        SELECT stage, seconds FROM stage_timings
        WHERE item = '*' AND stage <> 'all' AND run_id = (SELECT run_id FROM stage_timings WHERE item = '*' AND NOT skipped
                                       GROUP BY run_id ORDER BY max(finished_at) DESC LIMIT 1)""",
    )
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
