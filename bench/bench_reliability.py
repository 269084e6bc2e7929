"""Reliability under kills, concurrent readers and concurrent dashboard clients (issues 16, 28).

Four phases, each optional, all on loopback and in a scratch folder:

1. kills: start `pipeline all --profile smoke`, SIGKILL it at a random moment (alternately its
   whole process group and its main process only), then check that every store row's artifact
   exists with its recorded sha256; the next start is the resume. A final resume runs to the
   end and is checked too. Prints kills / inconsistent stores / workers left alive.
2. fresh-store kills: each in a new empty store, start `pipeline train` (after `pipeline data`)
   or `pipeline all`, wait until a model's first training has begun (its checkpoint folder
   appears), SIGKILL it at a random moment of that training, resume with the same command and
   check the store's files, `pipeline gc --verify` and that the model is now recorded. Prints
   kills / failed resumes / inconsistent stores / resumes that started a training afresh.
3. readers: R reader processes open the store read-only in a loop while P publishes
   (`pipeline ingest-benchmark`, one atomic swap each) replace it. Prints reads / errors.
4. clients: the dashboard under waitress, K concurrent clients for S seconds loading pages and
   running SQL-page queries while the store is being republished. Prints requests / HTTP errors
   / error notices / p50 / p95.

    python bench/bench_reliability.py --kills 20 --fresh-kills 10 --clients 20 --seconds 90
    python bench/bench_reliability.py --kills 2 --fresh-kills 2 --clients 5 --seconds 10  # a look

Targets (issues 16, 28): 0 inconsistent stores and 0 failed resumes in >= 30 kills, >= 10 of them
during a first training; 0 reader errors; 0 errors or error notices under 20 clients. The
benchmark exits with code 1 and a `FAILED: ...` line when a resume fails or a store is left
inconsistent (the scratch folder is then kept).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from _common import ROOT, free_port, save

PIPELINE = [sys.executable, "-m", "pipeline.cli.command"]
BENCH_FILE = ROOT / "tests" / "data" / "benchmark_rpi4_w8.txt"
NOTICE_MARKERS = (
    "could not read the store",
    "Connection Error",
    "different configuration",
    "Traceback",
    "server is busy",
    "stopped after",
)


# -- 1. kills ---------------------------------------------------------------------------------
def _start_all(store: Path, log, force: bool = False) -> subprocess.Popen:
    args = [*PIPELINE, "all", "--profile", "smoke", "-a", "kettle", "--store", str(store)]
    if force:
        args.append("--force")
    return subprocess.Popen(args, cwd=ROOT, stdout=log, stderr=log, start_new_session=True)


def _group_alive(pgid: int) -> bool:
    """A process of the group is still running (a zombie, dead and waiting to be reaped, is not)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":  # fields: state, ppid, pgrp, ...
            return True
    return False


def check_store(store: Path) -> list[str]:
    """Every artifact a store row names exists and has the row's sha256."""
    from pipeline.core.hashing import file_sha256
    from store import db

    if not store.exists():
        return []
    art = db.artifacts_dir(store)
    problems = []
    queries = {
        "datasets": "SELECT artifact_path, sha256 FROM datasets",
        "models": "SELECT artifact_path, sha256 FROM models",
        "variants": "SELECT file_path, sha256 FROM variants WHERE file_path IS NOT NULL AND status = 'ok'",
        "traces": "SELECT t.path, NULL FROM traces t",
    }
    for table, sql in queries.items():
        try:
            rows = db.query_df(store, sql).values.tolist()
        except Exception as exc:  # an unreadable store is the worst inconsistency
            return [f"store unreadable: {type(exc).__name__}: {exc}"]
        for rel, sha in rows:
            path = art / rel
            if not path.exists():
                problems.append(f"{table}: {rel} missing")
            elif sha and file_sha256(path) != sha:
                problems.append(f"{table}: {rel} sha256 differs from the store's")
    return problems


class _KillMoments:
    """When to kill a start of each kind (resume / forced): uniform over [1 s, cap], where cap
    starts at --max-wait and becomes 90 % of the mean time that starts of that kind were seen to
    need to finish, so later kills land inside the work."""

    def __init__(self, max_wait: float) -> None:
        self.cap = {"resume": max_wait, "forced": max_wait}
        self.seen: dict[str, list[float]] = {"resume": [], "forced": []}

    def draw(self, kind: str) -> float:
        return random.uniform(1.0, max(1.5, self.cap[kind]))

    def finished(self, kind: str, seconds: float) -> None:
        self.seen[kind].append(seconds)
        self.cap[kind] = 0.9 * sum(self.seen[kind]) / len(self.seen[kind])


def _kill_group(pgid: int) -> None:
    """SIGKILL a process group that may have ended on its own since it was last seen."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


def _start_and_kill(store: Path, log, force: bool, wait: float, mode: str):
    """(exit code or None if killed, seconds to its end or None, the process)."""
    proc = _start_all(store, log, force=force)
    t0 = time.monotonic()
    try:
        return proc.wait(timeout=wait), time.monotonic() - t0, proc
    except subprocess.TimeoutExpired:
        if mode == "group":
            _kill_group(proc.pid)
        else:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        return None, None, proc


def phase_kills(work: Path, kills: int, max_wait: float, final_timeout: float) -> dict:
    """Start `pipeline all` and SIGKILL it until `kills` kills have hit running work.

    A start resumes what the last kill left; when the last start ran to its end there is nothing
    left to kill, so the next start redoes everything (--force).
    """
    store = work / "nilm.duckdb"
    log = open(work / "kills.log", "ab")  # noqa: SIM115 (kept for the whole phase)
    moments, details = _KillMoments(max_wait), []
    finished_early, hits, starts, failed = False, 0, 0, 0
    while hits < kills and starts < 3 * kills:
        starts += 1
        kind, mode = ("forced" if finished_early else "resume"), ("group", "main")[hits % 2]
        wait = moments.draw(kind)
        rc, seconds, proc = _start_and_kill(store, log, finished_early, wait, mode)
        finished_early = seconds is not None
        failed += int(finished_early and rc != 0)  # a start that fails by itself is a finding
        if finished_early and rc == 0:
            moments.finished(kind, seconds)
        hits += int(not finished_early)
        left, problems = _after_kill(store, proc)
        details.append(
            {
                "start": starts,
                "kind": kind,
                "mode": None if finished_early else mode,
                "after_s": round(wait, 1),
                "finished_before_kill": finished_early,
                "exit_code": rc,
                "workers_left": left,
                "problems": problems[:5],
            }
        )
        what = f"kill {hits}/{kills} ({mode}) at {wait:.1f} s"
        if finished_early:
            what = f"ran to its end (exit code {rc}) before the kill moment"
        print(
            f"start {starts} ({kind}): {what}, workers left alive: {left}, "
            f"problems: {len(problems)}",
            flush=True,
        )
    resumed, final, running = _final_resume(store, log, final_timeout)
    log.close()
    return _kill_summary(details, hits, starts, failed, resumed, final, running)


def _kill_summary(details, hits, starts, failed, resumed, final, running) -> dict:
    inconsistent = sum(bool(d["problems"]) for d in details) + int(bool(final))
    orphans = sum(bool(d["workers_left"]) for d in details)
    print(
        f"kills: {hits} that hit running work in {starts} starts ({failed} starts failed by "
        f"themselves); inconsistent stores: {inconsistent}; workers left alive after a kill: "
        f"{orphans}",
        flush=True,
    )
    return {
        "kills": hits,
        "starts": starts,
        "starts_finished_before_kill": starts - hits,
        "starts_that_failed_by_themselves": failed,
        "inconsistent_stores": inconsistent,
        "workers_left_after_main_kill": orphans,
        "final_resume_ok": resumed,
        "runs_still_running": running,
        "details": details,
        "final_problems": final[:10],
    }


def _after_kill(store: Path, proc: subprocess.Popen) -> tuple[bool, list[str]]:
    time.sleep(2.0)  # what a main-only kill leaves running shows up now
    deadline = time.monotonic() + 15.0  # a killed process with GBs mapped exits slowly under load
    while (left := _group_alive(proc.pid)) and time.monotonic() < deadline:
        time.sleep(0.5)
    problems = check_store(store)
    if left:
        _kill_group(proc.pid)  # do not let them run into the next start
    return left, problems


def _final_resume(store: Path, log, final_timeout: float) -> tuple[bool, list[str], int | None]:
    proc = _start_all(store, log)
    try:
        resumed = proc.wait(timeout=final_timeout) == 0
    except subprocess.TimeoutExpired:
        _kill_group(proc.pid)
        proc.wait()
        resumed = False
    final = check_store(store)
    running = _count_running(store)
    print(
        f"final resume: {'finished' if resumed else 'FAILED'}; problems: {len(final)}; "
        f"runs still marked running: {running}",
        flush=True,
    )
    return resumed, final, running


def _count_running(store: Path) -> int | None:
    from store import db

    try:
        return int(
            db.query_df(store, "SELECT count(*) FROM runs WHERE status = 'running'").iloc[0, 0]
        )
    except Exception:
        return None


# -- 2. kills during a model's first training, each from an empty store ---------------------
FRESH_ARCHS = ("cnn", "transformer")
AFRESH_MARKER = "training starts afresh"


def _stage(command: str, store: Path, arch: str | None = None) -> list[str]:
    """`pipeline COMMAND` on the smoke profile for the kettle (one architecture for train)."""
    args = [*PIPELINE, command, "--profile", "smoke", "-a", "kettle", "--store", str(store)]
    if arch and command == "train":
        args += ["--arch", arch]
    return args


def _run_to_end(args: list[str], log_path: Path, timeout: float) -> tuple[int | None, float]:
    """(exit code, or None past the timeout; seconds) of a command run to its end."""
    t0 = time.monotonic()
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(args, cwd=ROOT, stdout=log, stderr=log, start_new_session=True)
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc.pid)
            proc.wait()
            rc = None
    return rc, time.monotonic() - t0


def _has_model(store: Path, model_id: str) -> bool:
    from store import db

    if not store.exists():
        return False
    try:
        sql = "SELECT count(*) FROM models WHERE model_id = ?"
        return bool(db.query_df(store, sql, [model_id]).iloc[0, 0])
    except Exception:
        return False


def _train_seconds(store: Path, model_id: str) -> float | None:
    from store import db

    try:
        sql = "SELECT train_seconds FROM models WHERE model_id = ?"
        rows = db.query_df(store, sql, [model_id])
        return float(rows.iloc[0, 0]) if len(rows) else None
    except Exception:
        return None


def _wait_for_training(store: Path, model_id: str, proc: subprocess.Popen, limit: float) -> bool:
    """Wait until the model's first training has begun (its checkpoint folder appears)."""
    from store import db

    folder = db.artifacts_dir(store) / "checkpoints" / model_id
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and proc.poll() is None:
        if folder.exists():
            return True
        time.sleep(0.2)
    return False


def _sigkill(proc: subprocess.Popen, mode: str) -> None:
    """SIGKILL the whole process group, or the main process only (its workers live on)."""
    if mode == "group":
        _kill_group(proc.pid)
    else:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def _kill_in_training(store, command, arch, cap, mode, log_path, limit) -> dict:
    """Start COMMAND on the store; once the model's training has begun, SIGKILL it after a
    random moment in [0.5 s, cap]. A kill hits when the model was not yet recorded."""
    model_id = f"kettle.{arch}"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            _stage(command, store, arch), cwd=ROOT, stdout=log, stderr=log, start_new_session=True
        )
    wait = random.uniform(0.5, max(1.0, cap))
    started = _wait_for_training(store, model_id, proc, limit)
    rc = proc.poll()
    if started and rc is None:
        try:
            rc = proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            _sigkill(proc, mode)
    elif rc is None:  # its training never began in time: stopped, not a kill that counts
        _sigkill(proc, "group")
        started = False
    hit = started and rc is None and not _has_model(store, model_id)
    left, problems = _after_kill(store, proc)
    return {
        "after_s": round(wait, 1),
        "exit_code": rc,
        "hit": hit,
        "workers_left": left,
        "problems_after_kill": problems[:5],
    }


def _verify_after_resume(store: Path, model_id: str) -> list[str]:
    """The store and its artifacts after a resume: rows match files, gc --verify agrees, and
    the killed model is trained."""
    problems = check_store(store)
    res = subprocess.run(
        [*PIPELINE, "gc", "--dry-run", "--verify", "--store", str(store)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if res.returncode != 0:
        lines = (res.stderr or res.stdout).strip().splitlines()
        problems.append(f"gc --verify: {lines[-1] if lines else res.returncode}")
    if not _has_model(store, model_id):
        problems.append(f"{model_id}: not recorded after the resume")
    return problems


def _fresh_attempt(work: Path, n: int, command: str, arch: str, cap: float, args) -> dict:
    """One empty store: (data first for a train kill), the kill, the resume, the checks."""
    folder = work / f"fresh-{n}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    store, log_path = folder / "nilm.duckdb", folder / "run.log"
    if command == "train":  # the data a first training needs, not killed
        rc, _ = _run_to_end(_stage("data", store), log_path, args.resume_timeout)
        if rc != 0:
            raise RuntimeError(f"`pipeline data` failed on an empty store ({rc}); see {log_path}")
    mode = ("group", "main")[n % 2]
    kill = _kill_in_training(store, command, arch, cap, mode, log_path, args.resume_timeout)
    before = log_path.read_text(errors="replace").count(AFRESH_MARKER)
    rc, seconds = _run_to_end(_stage(command, store, arch), log_path, args.resume_timeout)
    afresh = log_path.read_text(errors="replace").count(AFRESH_MARKER) - before
    problems = _verify_after_resume(store, f"kettle.{arch}") if rc == 0 else []
    out = {
        "attempt": n,
        "command": command,
        "arch": arch,
        "mode": mode,
        **kill,
        "resume_exit_code": rc,
        "resume_s": round(seconds, 1),
        "resume_ok": rc == 0,
        "started_afresh": afresh,
        "problems_after_resume": problems[:5],
        "train_seconds": _train_seconds(store, f"kettle.{arch}"),
    }
    if rc == 0 and not problems and not kill["problems_after_kill"]:
        shutil.rmtree(folder, ignore_errors=True)  # kept only to look into a failure
    else:
        out["kept"] = str(folder)
    return out


def phase_fresh_kills(work: Path, args) -> dict:
    """Kill `pipeline train` / `pipeline all` during each model's first training, every time
    in a new empty store, then resume and check. The kill moment is uniform over [0.5 s, cap]
    after training began; cap starts at --fresh-max-wait and becomes 90 % of the model's
    training time once one has been seen, so later kills land inside the training."""
    commands = ("train", "all") if args.fresh_command == "both" else (args.fresh_command,)
    caps = dict.fromkeys(FRESH_ARCHS, args.fresh_max_wait)
    details, hits, n = [], 0, 0
    while hits < args.fresh_kills and n < 3 * args.fresh_kills:
        command, arch = commands[n % len(commands)], FRESH_ARCHS[(n // len(commands)) % 2]
        d = _fresh_attempt(work, n, command, arch, caps[arch], args)
        n, hits = n + 1, hits + int(d["hit"])
        if d["train_seconds"]:
            caps[arch] = 0.9 * d["train_seconds"]
        details.append(d)
        print(_fresh_line(d, hits, args.fresh_kills), flush=True)
    return _fresh_summary(details, hits)


def _fresh_line(d: dict, hits: int, kills: int) -> str:
    what = (
        f"kill {hits}/{kills} ({d['mode']}) {d['after_s']:.1f} s into its first training"
        if d["hit"]
        else f"missed (exit code {d['exit_code']}, model already recorded or never started)"
    )
    resume = "resumed" if d["resume_ok"] else f"RESUME FAILED (exit code {d['resume_exit_code']})"
    return (
        f"fresh {d['attempt']} (pipeline {d['command']}, kettle.{d['arch']}): {what}; {resume} "
        f"in {d['resume_s']:.0f} s, started afresh: {d['started_afresh']}, problems: "
        f"{len(d['problems_after_kill']) + len(d['problems_after_resume'])}"
    )


def _fresh_summary(details: list[dict], hits: int) -> dict:
    failed = [d for d in details if not d["resume_ok"]]
    inconsistent = sum(
        bool(d["problems_after_kill"] or d["problems_after_resume"]) for d in details
    )
    print(
        f"fresh-store kills: {hits} during a first training in {len(details)} attempts; "
        f"failed resumes: {len(failed)}; inconsistent stores: {inconsistent}; workers left "
        f"alive after a kill: {sum(bool(d['workers_left']) for d in details)}",
        flush=True,
    )
    return {
        "kills": hits,
        "attempts": len(details),
        "failed_resumes": len(failed),
        "inconsistent_stores": inconsistent,
        "resumes_that_started_afresh": sum(bool(d["started_afresh"]) for d in details),
        "details": details,
    }


# -- 3. readers during publishes ------------------------------------------------------------
READER = """
import json, os, sys, time
sys.path.insert(0, sys.argv[3])
from store import db
store, stop = sys.argv[1], sys.argv[2]
reads = errors = 0
first = None
while not os.path.exists(stop):
    try:
        con = db.connect_readonly(store)
        try:
            db.table_counts(con)
            con.execute("SELECT count(*) FROM tradeoff").fetchall()
            con.execute("SELECT * FROM runs ORDER BY started_at DESC LIMIT 5").fetchall()
        finally:
            con.close()
        reads += 1
    except Exception as exc:
        errors += 1
        first = first or f"{type(exc).__name__}: {exc}"
print(json.dumps({"reads": reads, "errors": errors, "first_error": first}))
"""


def _some_variant(store: Path) -> str | None:
    from store import db

    try:
        ids = db.query_df(store, "SELECT variant_id FROM variants WHERE status = 'ok' LIMIT 1")
    except Exception:
        return None
    return ids.iloc[0, 0] if len(ids) else None


def _ensure_store_with_a_variant(work: Path) -> tuple[Path, str]:
    store = work / "nilm.duckdb"
    vid = _some_variant(store)
    if vid:
        return store, vid
    sys.path.insert(0, str(ROOT))
    from tests.cli_support import VARIANT, tiny_store

    store = work / "tiny.duckdb"
    if not store.exists():
        tiny_store(store)
    return store, VARIANT


def _publish(store: Path, vid: str, host: str) -> bool:
    args = [*PIPELINE, "ingest-benchmark", str(BENCH_FILE), "--host", host, "--variant", vid]
    res = subprocess.run(
        [*args, "--store", str(store)], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    return res.returncode == 0


def phase_readers(work: Path, readers: int, publishes: int) -> dict:
    store, vid = _ensure_store_with_a_variant(work)
    stop = work / "readers.stop"
    stop.unlink(missing_ok=True)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", READER, str(store), str(stop), str(ROOT)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(readers)
    ]
    time.sleep(1.0)
    ok = sum(_publish(store, vid, f"bench-{i % 3}") for i in range(publishes))
    stop.write_text("stop")
    results = [json.loads(p.communicate(timeout=120)[0]) for p in procs]
    out = {
        "readers": readers,
        "publishes": publishes,
        "publishes_ok": ok,
        "reads": sum(r["reads"] for r in results),
        "reader_errors": sum(r["errors"] for r in results),
        "first_error": next((r["first_error"] for r in results if r["first_error"]), None),
    }
    print(
        f"readers: {out['reads']} reads by {readers} processes during {ok}/{publishes} publishes "
        f"(one swap each), {out['reader_errors']} errors",
        flush=True,
    )
    return out


# -- 4. dashboard clients -----------------------------------------------------------------------
PUBLISH_EVERY_S = 2.0  # one `pipeline ingest-benchmark` republish starts every 2 s


def _page(path: str, search: str = "") -> dict:
    return {
        "output": ".._pages_content.children..._pages_store.data..",
        "outputs": [
            {"id": "_pages_content", "property": "children"},
            {"id": "_pages_store", "property": "data"},
        ],
        "inputs": [
            {"id": "_pages_location", "property": "pathname", "value": path},
            {"id": "_pages_location", "property": "search", "value": search},
        ],
        "changedPropIds": ["_pages_location.pathname"],
        "state": [],
    }


def _sql(text: str) -> dict:
    return {
        "output": "sql-result.children",
        "outputs": {"id": "sql-result", "property": "children"},
        "inputs": [{"id": "sql-run", "property": "n_clicks", "value": 1}],
        "state": [{"id": "sql-text", "property": "value", "value": text}],
        "changedPropIds": ["sql-run.n_clicks"],
    }


def _requests(vid: str) -> list[tuple[str, dict | None]]:
    return [
        ("GET /", None),
        ("page /", _page("/")),
        ("page /tradeoff", _page("/tradeoff")),
        ("page /variant", _page("/variant", f"?id={vid}")),
        ("page /quantization", _page("/quantization")),
        ("page /sql", _page("/sql")),
        ("sql tradeoff", _sql("SELECT * FROM tradeoff ORDER BY f1 DESC LIMIT 50")),
        ("sql counts", _sql("SELECT count(*) FROM latency")),
    ]


def _client(
    base: str, vid: str, until: float, out: list, seed: int, think: float = 0.0, distinct=False
) -> None:
    import requests

    rng = random.Random(seed)
    session = requests.Session()
    mix = _requests(vid)
    n = 0
    while time.time() < until:
        name, body = rng.choice(mix)
        if distinct and name.startswith("sql "):  # a text no one ran before: never a kept answer
            n += 1
            text = body["state"][0]["value"] + f" -- client {seed} query {n}"
            body = {**body, "state": [{**body["state"][0], "value": text}]}
        t0 = time.perf_counter()
        try:
            if body is None:
                r = session.get(base + "/", timeout=60)
            else:
                r = session.post(base + "/_dash-update-component", json=body, timeout=60)
            status, text = r.status_code, r.text
        except Exception as exc:
            status, text = 0, f"{type(exc).__name__}: {exc}"
        notice = any(m in text for m in NOTICE_MARKERS)
        out.append((name, time.perf_counter() - t0, status, notice, text[:300] if notice else ""))
        if think:  # a person reads the answer before the next click: 0.5x-1.5x `think` seconds
            time.sleep(think * rng.uniform(0.5, 1.5))


def _serve(work: Path, store: Path, threads: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    args = ["--store", str(store), "--host", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen(
        [sys.executable, "-m", "dashboard.serve", *args, "--threads", str(threads)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=open(work / "server.log", "wb"),  # noqa: SIM115
    )
    return server, f"http://127.0.0.1:{port}"


def _clients_during_refreshes(
    store, vid, base, clients, seconds, think, every=PUBLISH_EVERY_S, distinct=False
) -> tuple[list, list]:
    """K clients for S seconds while the store is republished every ``every`` seconds (or back
    to back when a publish takes longer): a fixed cadence, so a faster publish is not more load."""
    stop_refresh, refreshes, results = threading.Event(), [], []

    def refresh():
        while not stop_refresh.is_set():
            t0 = time.monotonic()
            refreshes.append(_publish(store, vid, "bench-refresh"))
            stop_refresh.wait(max(0.0, every - (time.monotonic() - t0)))

    refresher = threading.Thread(target=refresh, daemon=True)
    refresher.start()
    until = time.time() + seconds
    workers = [
        threading.Thread(target=_client, args=(base, vid, until, results, i, think, distinct))
        for i in range(clients)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    stop_refresh.set()
    refresher.join(timeout=300)
    return results, refreshes


def _client_summary(results, refreshes, vid, **settings) -> dict:
    import numpy as np

    lat = np.array([r[1] for r in results]) if results else np.array([0.0])
    return {
        **settings,
        "requests": len(results),
        "http_errors": sum(1 for r in results if r[2] != 200),
        "error_notices": sum(1 for r in results if r[3]),
        "p50_s": float(np.percentile(lat, 50)),
        "p95_s": float(np.percentile(lat, 95)),
        "refreshes": len(refreshes),
        "per_request": {
            name: float(np.percentile([r[1] for r in results if r[0] == name] or [0], 95))
            for name, _ in _requests(vid)
        },
        "first_notice": next((r[4] for r in results if r[3]), None),
    }


def phase_clients(
    work: Path, clients: int, seconds: float, threads: int, think: float = 0.0, distinct=False
) -> dict:
    store, vid = _ensure_store_with_a_variant(work)
    server, base = _serve(work, store, threads)
    try:
        _wait_for(base, server)
        results, refreshes = _clients_during_refreshes(
            store, vid, base, clients, seconds, think, distinct=distinct
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
    out = _client_summary(
        results,
        refreshes,
        vid,
        clients=clients,
        seconds=seconds,
        server_threads=threads,
        think_s=think,
        distinct_sql=distinct,
    )
    print(
        f"clients: {out['requests']} requests from {clients} clients (think time {think:g} s"
        f"{', every SQL text new' if distinct else ''}) "
        f"in {seconds:g} s during "
        f"{len(refreshes)} refreshes (one started every {PUBLISH_EVERY_S:g} s or back to back); {out['http_errors']} HTTP errors, {out['error_notices']} "
        f"error notices; p50 {out['p50_s'] * 1000:.0f} ms, p95 {out['p95_s'] * 1000:.0f} ms",
        flush=True,
    )
    return out


def _wait_for(base: str, server: subprocess.Popen, timeout: float = 60) -> None:
    import requests

    deadline = time.time() + timeout
    while time.time() < deadline:
        if server.poll() is not None:
            raise RuntimeError("the dashboard exited; see server.log")
        try:
            if requests.get(base + "/", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            time.sleep(0.3)
    raise RuntimeError("the dashboard did not answer in time")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--kills", type=int, default=3, help="SIGKILLs that hit running work (0 = skip)")
    p.add_argument(
        "--max-wait", type=float, default=90.0, help="latest kill moment after a start (s)"
    )
    p.add_argument("--final-timeout", type=float, default=1800.0, help="final resume limit (s)")
    p.add_argument(
        "--fresh-kills",
        type=int,
        default=2,
        help="SIGKILLs during a model's first training, each from an empty store (0 = skip)",
    )
    p.add_argument(
        "--fresh-command",
        choices=("train", "all", "both"),
        default="both",
        help="what the fresh-store kills kill: pipeline train, pipeline all, or each in turn",
    )
    p.add_argument(
        "--fresh-max-wait",
        type=float,
        default=20.0,
        help="latest kill moment after a first training began, until one was timed (s)",
    )
    p.add_argument(
        "--resume-timeout", type=float, default=1800.0, help="limit of a fresh-store run (s)"
    )
    p.add_argument("--readers", type=int, default=2, help="reader processes (0 = skip)")
    p.add_argument("--publishes", type=int, default=5, help="ingests during the readers")
    p.add_argument("--clients", type=int, default=5, help="dashboard clients (0 = skip)")
    p.add_argument("--seconds", type=float, default=20.0, help="how long the clients run")
    p.add_argument("--threads", type=int, default=8, help="the dashboard's waitress threads")
    p.add_argument(
        "--think",
        type=float,
        default=0.0,
        help="mean pause of a client between requests (s); 0 = back to back (a stress test)",
    )
    p.add_argument(
        "--distinct-sql",
        action="store_true",
        help="every SQL-page query of the clients a text not run before (no kept answers)",
    )
    p.add_argument("--workdir", type=Path, help="scratch folder (default: a new temp folder)")
    p.add_argument("--seed", type=int, default=0)
    return p


def main(argv=None) -> None:
    args = _parser().parse_args(argv)
    random.seed(args.seed)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="nilm-reliability-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"scratch folder: {work}", flush=True)
    result = {"args": {k: str(v) for k, v in vars(args).items()}}
    if args.kills:
        result["kills"] = phase_kills(work, args.kills, args.max_wait, args.final_timeout)
    if args.fresh_kills:
        result["fresh_kills"] = phase_fresh_kills(work, args)
    if args.readers:
        result["readers"] = phase_readers(work, args.readers, args.publishes)
    if args.clients:
        result["clients"] = phase_clients(
            work, args.clients, args.seconds, args.threads, args.think, args.distinct_sql
        )
    save("reliability", result)
    failures = _failures(result)
    if not args.workdir and not failures:
        shutil.rmtree(work, ignore_errors=True)
    for line in failures:
        print(f"FAILED: {line}", file=sys.stderr, flush=True)
    if failures:
        print(f"FAILED: the scratch folder is kept: {work}", file=sys.stderr, flush=True)
        sys.exit(1)


def _failures(result: dict) -> list[str]:
    """What makes the benchmark fail: a resume that did not finish, a store left inconsistent."""
    out = []
    kills, fresh = result.get("kills"), result.get("fresh_kills")
    if kills and not kills["final_resume_ok"]:
        out.append("the final resume after the kills did not finish (see kills.log)")
    if kills and kills["starts_that_failed_by_themselves"]:
        n = kills["starts_that_failed_by_themselves"]
        out.append(f"{n} start(s) after a kill failed by themselves (see kills.log)")
    if kills and kills["inconsistent_stores"]:
        out.append(f"{kills['inconsistent_stores']} inconsistent store(s) in the kill phase")
    if fresh and fresh["failed_resumes"]:
        kept = [d.get("kept") for d in fresh["details"] if not d["resume_ok"]]
        out.append(f"{fresh['failed_resumes']} resume(s) after a fresh-store kill failed: {kept}")
    if fresh and fresh["inconsistent_stores"]:
        out.append(f"{fresh['inconsistent_stores']} inconsistent store(s) after fresh-store kills")
    return out


if __name__ == "__main__":
    main()
