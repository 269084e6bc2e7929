"""12. First insight: how long a person waits after `make run` for the dashboard, for the first
answer on it (the first model trained, converted, evaluated and measured: its appliance's
tradeoff, recommendation and traces), for the first appliance complete and for the whole run;
as ranges over runs, never one run.

Two sources, both printed:

* **recorded runs** (always): every `pipeline all` in the store (default store/nilm.duckdb,
  or --store) that trained every model it names (nothing cached): time to the first model
  measured (its profile item), to the first appliance complete (its last profile item, from
  `stage_timings`) and total, with the machine's load
  when each ended when known. The dashboard's time is not in a store.
* **live runs** (``--live [--runs N] [--profile smoke|demo]``): what `make run` does, on a fresh
  store under bench/results: the dashboard and `pipeline all` side by side. Time to the
  dashboard's first answer (GET / = 200), to the first model and the first appliance listed
  complete in the run's progress file (what every page's progress line reads) and to the end. Each live run is
  appended to bench/results/first_insight_runs.json, so ranges grow over sessions; the load
  average at the start of each run is recorded beside it (a busy machine is visible).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from _common import RESULTS, ROOT, free_port, save

HISTORY = RESULTS / "first_insight_runs.json"
POLL_S = 0.5


def recorded_runs(store: Path) -> list[dict]:
    """The store's full `pipeline all` runs: seconds to the first model measured, to the first
    appliance complete and in all."""
    from store import db

    if not store.exists():
        return []
    df = db.query_df(
        store,
        """
        WITH full_runs AS (
            SELECT run_id FROM stage_timings WHERE stage = 'train' GROUP BY run_id
            HAVING count(DISTINCT item) FILTER (WHERE NOT skipped AND item <> '*')
                   = count(DISTINCT item) FILTER (WHERE item <> '*')
               AND count(*) FILTER (WHERE item <> '*') > 0),
        items AS (
            SELECT t.run_id, t.stage, t.finished_at, t.skipped,
                   regexp_extract(t.item, '^([a-z_]+)', 1) AS appliance
            FROM stage_timings t WHERE t.run_id IN (SELECT run_id FROM full_runs)
              AND t.item <> '*'),
        first_app AS (
            SELECT run_id, arg_min(appliance, finished_at) AS appliance FROM items
            WHERE stage = 'train' GROUP BY run_id),
        first_model AS (
            SELECT run_id, arg_min(item, finished_at) AS model, min(finished_at) AS at
            FROM stage_timings WHERE stage = 'profile' AND NOT skipped AND item <> '*'
            GROUP BY run_id)
        SELECT r.run_id, r.profile, r.status, strftime(r.started_at, '%Y-%m-%dT%H:%M:%SZ') AS started,
               f.appliance, split_part(m.model, '@', 1) AS model,
               epoch(m.at) - epoch(r.started_at) AS first_model_s,
               epoch(l.last_at) - epoch(r.started_at) AS first_s,
               epoch(r.finished_at) - epoch(r.started_at) AS total_s
        FROM runs r JOIN first_app f USING (run_id) LEFT JOIN first_model m USING (run_id)
        LEFT JOIN (
            SELECT i.run_id, max(i.finished_at) AS last_at FROM items i
            JOIN first_app f USING (run_id)
            WHERE i.stage = 'profile' AND i.appliance = f.appliance AND NOT i.skipped
            GROUP BY 1) l USING (run_id)
        WHERE r.command = 'all' ORDER BY started""",
    )
    return df.to_dict("records")


def _answers(url: str) -> bool:
    import requests

    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _progress(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def live_run(profile: str, work: Path) -> dict:
    """One `make run`: the dashboard and the pipeline on a fresh store, timed from the start."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    store = work / "nilm.duckdb"
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    load = os.getloadavg()[0]
    dash_log = open(work / "dashboard.log", "wb")  # noqa: SIM115 (closed in the finally below)
    pipe_log = open(work / "pipeline.log", "wb")  # noqa: SIM115
    t0 = time.monotonic()
    dash = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dashboard.serve",
            "--store",
            str(store),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--allow-missing",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=dash_log,
    )
    pipe = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pipeline.cli.command",
            "all",
            "--profile",
            profile,
            "--store",
            str(store),
        ],
        cwd=ROOT,
        stdout=pipe_log,
        stderr=subprocess.STDOUT,
    )
    progress = Path(f"{store}.progress.json")
    to_dash = to_first = to_model = None
    first = model = None
    try:
        while pipe.poll() is None or to_dash is None:
            now = time.monotonic() - t0
            if to_dash is None and _answers(url):
                to_dash = now
            rec = _progress(progress)
            if to_model is None and (done := rec.get("models_complete") or rec.get("complete")):
                to_model, model = now, done[0]
            if to_first is None and (done := rec.get("complete")):
                to_first, first = now, done[0]
            if pipe.poll() is not None and now > 120:  # the dashboard never answered
                break
            time.sleep(POLL_S)
        total = time.monotonic() - t0
    finally:
        dash.terminate()
        dash.wait(timeout=30)
        if pipe.poll() is None:
            pipe.kill()
            pipe.wait(timeout=30)
        dash_log.close()
        pipe_log.close()
    return {
        "profile": profile,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "rc": pipe.returncode,
        "load_at_start": round(load, 2),
        "to_dashboard_s": to_dash,
        "first_model": model,
        "to_first_model_s": to_model,
        "first_appliance": first,
        "to_first_appliance_s": to_first,
        "total_s": total,
    }


def _range(values: list[float | None], unit: float = 1.0) -> str:
    v = [x / unit for x in values if x is not None]
    if not v:
        return "-"
    return f"{min(v):.1f}" if len(v) == 1 else f"{min(v):.1f}-{max(v):.1f}"


def main() -> None:
    store = ROOT / "store" / "nilm.duckdb"
    if "--store" in sys.argv:
        store = Path(sys.argv[sys.argv.index("--store") + 1])
    out: dict = {"store": str(store)}

    runs = recorded_runs(store)
    out["recorded"] = runs
    print(f"full `pipeline all` runs recorded in {store}: {len(runs)}")
    for r in runs:
        first = _range([r["first_s"]], 60)
        print(
            f"  {r['run_id']}  {r['profile']:5s} {r['status']:9s} first model ({r['model']}) "
            f"{_range([r['first_model_s']], 60)} min, first appliance ({r['appliance']}) "
            f"{first} min, total {(r['total_s'] or 0) / 60:.1f} min"
        )
    for prof in sorted({r["profile"] for r in runs}):
        mine = [r for r in runs if r["profile"] == prof and r["status"] == "finished"]
        print(
            f"  {prof}: first model {_range([r['first_model_s'] for r in mine], 60)} min, "
            f"first appliance {_range([r['first_s'] for r in mine], 60)} min, "
            f"total {_range([r['total_s'] for r in mine], 60)} min over {len(mine)} finished runs"
        )

    if "--live" in sys.argv:
        profile = sys.argv[sys.argv.index("--profile") + 1] if "--profile" in sys.argv else "demo"
        n = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 2
        history = json.loads(HISTORY.read_text()) if HISTORY.exists() else []
        for i in range(n):
            r = live_run(profile, RESULTS / "first_insight")
            history.append(r)
            RESULTS.mkdir(parents=True, exist_ok=True)
            HISTORY.write_text(json.dumps(history, indent=1))
            print(
                f"live run {i + 1}/{n} ({profile}, load {r['load_at_start']} at start): dashboard "
                f"{_range([r['to_dashboard_s']])} s, first model ({r['first_model']}) "
                f"{_range([r['to_first_model_s']], 60)} min, first appliance ({r['first_appliance']}) "
                f"{_range([r['to_first_appliance_s']], 60)} min, total "
                f"{_range([r['total_s']], 60)} min, rc {r['rc']}",
                flush=True,
            )
        mine = [r for r in history if r["profile"] == profile and r["rc"] == 0]
        out["live"] = mine
        print(
            f"live {profile} runs recorded ({len(mine)}): dashboard "
            f"{_range([r['to_dashboard_s'] for r in mine])} s, first model "
            f"{_range([r.get('to_first_model_s') for r in mine], 60)} min, first appliance "
            f"{_range([r['to_first_appliance_s'] for r in mine], 60)} min, total "
            f"{_range([r['total_s'] for r in mine], 60)} min"
        )
    save("first_insight", out)


if __name__ == "__main__":
    main()
