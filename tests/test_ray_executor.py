"""`pipeline all --executor ray` on a local Ray instance of 2 CPUs: the same store as the local
executor, and a task killed mid-run is re-run by Ray with the store left consistent.

Marked ``ray``: they run only when asked for (`make test-ray`, i.e. `pytest -m ray`), and are
skipped when Ray is not installed (`pip install -e '.[ray]'`). Each runs the smoke profile on the
kettle through the real command line (a few minutes each on 2 cores).
"""

from __future__ import annotations

import math
import os
import signal
import threading
import time
from pathlib import Path

import duckdb
import pytest

from tests.conftest import run_cli

RAY = ["--executor", "ray", "--ray-cpus", "2"]


@pytest.fixture(autouse=True)
def _only_when_asked(request):
    if request.node.get_closest_marker("ray") is None:
        return
    if "ray" not in (request.config.getoption("-m") or ""):
        pytest.skip("Ray executor tests run with `make test-ray` (pytest -m ray)")
    pytest.importorskip("ray", reason="Ray is not installed: pip install -e '.[ray]'")


def _rows(store: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(store), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


# what must be equal between two runs of the same settings, whatever ran the items: ids, the
# files that are deterministic (splits, TFLite files, traces) and the metrics within float
# tolerance. Trained files are not: a .keras file records when it was saved, and the QAT
# fine-tune's files differ between two local runs too (TensorFlow's training steps are not
# bit-reproducible), so those are compared by id only.
TRAINED = "(mode = 'keras' OR mode LIKE 'qat%')"
SAME = {
    "datasets": "SELECT dataset_id, sha256 FROM datasets",
    "models": "SELECT model_id, arch, parameters, best_epoch FROM models",
    "variants": f"SELECT variant_id, status, CASE WHEN {TRAINED} THEN NULL ELSE sha256 END "
    "FROM variants",
    "evaluations": "SELECT variant_id, split, runtime, xnnpack, subset, n_windows FROM evaluations",
    "traces": f"SELECT t.variant_id, CASE WHEN {TRAINED} THEN NULL ELSE t.path END "
    "FROM traces t JOIN variants v USING (variant_id)",
    "latency keys": "SELECT variant_id, host, runtime, threads, xnnpack, batch FROM latency",
    "op profile keys": "SELECT DISTINCT variant_id, host FROM op_profile",
    "hosts": "SELECT host, cores, machine, source FROM hosts",
    "cache items": "SELECT stage, item FROM stage_cache",
}
# the numbers of every variant but the QAT files (the Keras model's weights are the same)
NUMBERS = {
    "metrics": "SELECT variant_id || '/' || split || '/' || metric, value, ci_low, ci_high "
    "FROM metrics WHERE variant_id NOT LIKE '%.qat%'",
    "deltas": "SELECT variant_id || '/' || split || '/' || metric, delta, ci_low, ci_high "
    "FROM metric_deltas WHERE variant_id NOT LIKE '%.qat%'",
}


def _close(x, y) -> bool:
    if x is None or y is None:
        return x is y
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    return math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12)


def _differing(a: list[tuple], b: list[tuple]) -> list[str]:
    """Keys whose numbers differ beyond float tolerance (or that one side lacks)."""
    da, db_ = {r[0]: r[1:] for r in a}, {r[0]: r[1:] for r in b}
    bad = sorted(set(da) ^ set(db_))
    for key in set(da) & set(db_):
        if not all(_close(x, y) for x, y in zip(da[key], db_[key], strict=True)):
            bad.append(key)
    return bad


def _mine(rows: list[tuple], only: str) -> list[tuple]:
    return sorted(r for r in rows if any(str(c).startswith(only) for c in r))


def assert_same_store(a: Path, b: Path, only: str = "") -> None:
    """``b`` holds the rows of ``a`` (those naming an id that starts with ``only``, when given)."""
    for name, sql in SAME.items():
        ra, rb = _mine(_rows(a, sql), only), _mine(_rows(b, sql), only)
        assert ra == rb, f"{name} differ:\n{set(ra) ^ set(rb)}"
    for name, sql in NUMBERS.items():
        bad = _differing(_mine(_rows(a, sql), only), _mine(_rows(b, sql), only))
        assert not bad, f"{name} differ: {bad[:10]}"


def assert_consistent(store: Path) -> None:
    """Every referenced file present with its sha256; no run left running."""
    from pipeline.core import artifacts

    assert artifacts.verify(store) == []
    assert _rows(store, "SELECT count(*) FROM runs WHERE status = 'running'") == [(0,)]


@pytest.mark.ray
@pytest.mark.slow
def test_ray_executor_writes_the_rows_the_local_executor_writes(request, tmp_path):
    smoke_store = request.getfixturevalue("smoke_store")  # after the skip: it runs the pipeline
    store = tmp_path / "ray.duckdb"
    t0 = time.perf_counter()
    res = run_cli("all", "--profile", "smoke", "--appliance", "kettle", "--store", store, *RAY)
    (tmp_path / "all.log").write_text(res.stdout + res.stderr)
    print(f"ray smoke run (kettle): {time.perf_counter() - t0:.0f} s")
    assert "executor: ray (a local instance: 1 node(s), 2 CPUs" in res.stderr
    assert_same_store(smoke_store, store)
    assert_consistent(store)
    # the second run skips everything, on Ray as locally
    res = run_cli("all", "--profile", "smoke", "--appliance", "kettle", "--store", store, *RAY)
    assert "train: kettle.cnn unchanged, skipped" in res.stderr
    assert "profile: kettle.cnn on " in res.stderr and "unchanged, skipped" in res.stderr


def _task_processes(function: str) -> list[int]:
    """Pids of Ray workers running ``function`` now (Ray titles them ``ray::<function>``)."""
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            cmd = (d / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
        except OSError:
            continue
        if cmd.startswith(f"ray::{function}"):
            out.append(int(d.name))
    return out


def _kill_once(function: str, after: float, killed: list, stop: threading.Event) -> None:
    """SIGKILL the first worker seen running ``function`` once it has run ``after`` seconds."""
    seen: dict[int, float] = {}
    while not stop.is_set() and not killed:
        now = time.monotonic()
        for pid in _task_processes(function):
            if now - seen.setdefault(pid, now) >= after:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return
        time.sleep(0.1)


@pytest.mark.ray
@pytest.mark.slow
def test_a_task_killed_mid_run_is_rerun_and_the_store_stays_consistent(request, tmp_path):
    smoke_store = request.getfixturevalue("smoke_store")
    store = tmp_path / "killed.duckdb"
    killed: list[int] = []
    stop = threading.Event()
    watcher = threading.Thread(target=_kill_once, args=("_convert_job", 3.0, killed, stop))
    watcher.start()
    try:
        res = run_cli(
            "all", "--profile", "smoke", "-a", "kettle", "--arch", "cnn", "--store", store, *RAY
        )
    finally:
        stop.set()
        watcher.join()
    (tmp_path / "all.log").write_text(res.stdout + res.stderr)
    assert killed, "no conversion task was seen running"
    # Ray's word for the re-run (its raylet's lines reach the driver's stdout or stderr)
    assert "the task will be retried" in res.stdout + res.stderr
    assert "convert: kettle.cnn done" in res.stderr  # the re-run's result, published
    assert_same_store(smoke_store, store, only="kettle.cnn")
    assert_consistent(store)


def test_executor_ray_without_ray_installed_is_one_line(tmp_path):
    """No Ray: `--executor ray` ends with one line saying how to install it; no run recorded."""
    fake = tmp_path / "no_ray" / "ray"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('ray is not installed here')\n")
    path = os.pathsep.join([str(fake.parent), os.environ.get("PYTHONPATH", "")])
    store = tmp_path / "s.duckdb"
    res = run_cli(
        "all", "--profile", "smoke", "--store", store, "--executor", "ray",
        check=False, env={"PYTHONPATH": path},
    )  # fmt: skip
    assert res.returncode == 1
    lines = res.stderr.strip().splitlines()
    assert lines == ["error: --executor ray needs Ray, which is not installed: "
                     "pip install 'nilm-edge[ray]'"]  # fmt: skip
    assert not store.exists()


def test_ray_options_without_the_ray_executor_are_refused(tmp_path):
    store = tmp_path / "s.duckdb"
    res = run_cli("all", "--store", store, "--ray-address", "head:6379", check=False)
    assert res.returncode == 1
    assert res.stderr.strip() == "error: --ray-address and --ray-cpus are for --executor ray"
    assert not store.exists()
