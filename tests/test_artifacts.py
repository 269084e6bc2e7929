"""Artifacts are immutable: a failed, killed or concurrent writer never changes a file the
published store references; `pipeline gc` removes only what no store row names."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.core import artifacts
from store import db

from .conftest import ROOT, run_cli

SMOKE = ("--profile", "smoke", "-a", "kettle")


def sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def referenced_bytes(store: Path) -> dict[str, bytes]:
    """Every file the published store names -> its bytes."""
    con = db.connect_readonly(store)
    try:
        refs = artifacts.referenced(con)
    finally:
        con.close()
    art = db.artifacts_dir(store)
    return {rel: (art / rel).read_bytes() for rel in refs}


def datasets(store: Path) -> pd.DataFrame:
    return db.query_df(store, "SELECT * FROM datasets ORDER BY dataset_id")


def managed_files(store: Path) -> set[str]:
    art = db.artifacts_dir(store)
    return {
        os.path.normpath(str(p.relative_to(art)))
        for sub in artifacts.MANAGED_DIRS
        if (art / sub).is_dir()
        for p in (art / sub).rglob("*")
        if p.is_file()
    }


def short_csv(folder: Path) -> Path:
    """One house, 3,000 samples at 8 s: enough for a training split, too short for validation."""
    n = 3000
    rng = np.random.default_rng(0)
    kettle = np.where(rng.random(n) < 0.03, 2500.0, 0.0)
    df = pd.DataFrame(
        {
            "Time": pd.date_range("2021-03-01", periods=n, freq="8s"),
            "Aggregate": 300.0 + kettle + rng.random(n) * 50,
            "Kettle": kettle,
        }
    )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "House99.csv"
    df.to_csv(path, index=False)
    return path


@pytest.fixture
def data_store(tmp_path):
    """A store holding only the kettle's synthetic splits (a few seconds)."""
    store = tmp_path / "s.duckdb"
    run_cli("data", *SMOKE, "--store", store)
    return store


def test_failed_data_run_leaves_published_splits_and_rows_untouched(data_store, tmp_path):
    store = data_store
    rows_before = datasets(store)
    files_before = referenced_bytes(store)
    assert len(rows_before) == 3 and len(files_before) == 3
    for r in rows_before.itertuples():  # content-addressed names, recorded hash = file hash
        assert r.artifact_path.startswith(f"data/{r.dataset_id}.{r.sha256[:16]}")

    res = run_cli(
        "data",
        *SMOKE,
        "--source",
        "csv",
        "--path",
        short_csv(tmp_path / "csv"),
        "--store",
        store,
        check=False,
    )
    assert res.returncode == 1, res.stderr
    assert "599 samples" in res.stderr and "Traceback" not in res.stderr

    # the published splits are byte-identical and the rows the same
    assert referenced_bytes(store) == files_before
    pd.testing.assert_frame_equal(datasets(store), rows_before)
    # whatever the failed run wrote went to new names no store row references
    foreign = managed_files(store) - set(files_before)
    assert foreign and all(Path(f).name.startswith("kettle.train.") for f in foreign)

    # the next run finds its outputs current and the data it reads is the published data
    res = run_cli("data", *SMOKE, "--store", store)
    assert "kettle unchanged, skipped" in res.stderr
    pd.testing.assert_frame_equal(datasets(store), rows_before)
    from pipeline.core.context import RunContext
    from pipeline.data.stage import load_split
    from pipeline.settings.presets import profile_config
    from store.vocab import Appliance, Arch, Split

    ctx = RunContext(store, profile_config("smoke"), [Appliance.KETTLE], list(Arch))
    split, row = load_split(ctx, Appliance.KETTLE, Split.TRAIN)
    assert len(split) == row["rows"] and "99" not in set(split.house)
    assert row["source"].startswith("synthetic:")


def record_live_run(store, run_id: str) -> None:
    """A 'running' run of this (live) process, as a pipeline at work records it."""
    with db.write_store(store) as con:
        db.insert_records(
            con,
            "runs",
            [
                {
                    "run_id": run_id,
                    "command": "train",
                    "profile": "smoke",
                    "config": "{}",
                    "config_hash": "x",
                    "status": "running",
                    "host": socket.gethostname(),
                    "pid": os.getpid(),
                    "started_at": pd.Timestamp.now(),
                }
            ],
        )


def test_gc_removes_only_unreferenced_files(data_store, tmp_path):
    store = data_store
    art = db.artifacts_dir(store)
    run_cli(
        "data",
        *SMOKE,
        "--source",
        "csv",
        "--path",
        short_csv(tmp_path / "csv"),
        "--store",
        store,
        check=False,
    )
    refs = referenced_bytes(store)
    stale = art / "models" / "kettle.cnn.0123456789abcdef.keras"  # a superseded version
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_bytes(b"old model")
    leftover = art / "traces" / ".kettle.cnn.w8.4242.deadbeef.tmp.parquet"  # a killed writer's
    leftover.parent.mkdir(parents=True, exist_ok=True)
    leftover.write_bytes(b"partial")
    raw_before = sorted(p for p in (art / "raw").rglob("*"))
    unreferenced = managed_files(store) - set(refs)
    assert len(unreferenced) >= 3  # the failed run's split file(s), the stale model, the temp

    # a run in progress (this live process) blocks gc: it may have written unpublished files
    record_live_run(store, "live")
    res = run_cli("gc", "--store", store, check=False)
    assert res.returncode == 1 and "in progress" in res.stderr
    assert stale.exists() and leftover.exists()
    with db.write_store(store) as con:
        con.execute("UPDATE runs SET status = 'finished' WHERE run_id = 'live'")

    res = run_cli("gc", "--dry-run", "--store", store)
    assert {os.path.normpath(str(Path(p).relative_to(art))) for p in res.stdout.split()} == (
        unreferenced
    )
    assert stale.exists() and leftover.exists()  # a dry run removes nothing

    res = run_cli("gc", "--verify", "--store", store)
    assert f"removed {len(unreferenced)} unreferenced" in res.stderr
    assert managed_files(store) == set(refs)
    assert referenced_bytes(store) == refs
    assert sorted(p for p in (art / "raw").rglob("*")) == raw_before  # raw/ is not gc's
    assert "removed 0 unreferenced" in run_cli("gc", "--store", store).stderr


def test_a_new_model_version_never_changes_the_published_file(store_copy):
    """What an orphaned training worker did before: write a new .keras for a model the store
    already records. Through the training stage's own writer it gets a new name."""
    from pipeline.train.fit import _write_sidecar
    from store.vocab import Appliance, Arch

    store = store_copy
    art = db.artifacts_dir(store)
    row = db.query_df(store, "SELECT * FROM models WHERE model_id = 'kettle.cnn'").iloc[0]
    published = art / row["artifact_path"]
    assert sha(published) == row["sha256"]
    before = published.read_bytes()

    best = art / "checkpoints" / "kettle.cnn" / "k" / "best.keras"
    best.parent.mkdir(parents=True)
    best.write_bytes(before + b"retrained")
    new, new_sha = artifacts.publish_file(best, art / "models", "kettle.cnn", ".keras")
    from pipeline.settings.constants import APPLIANCES

    _write_sidecar(new, Appliance.KETTLE, Arch.CNN, APPLIANCES[Appliance.KETTLE])
    assert new != published and new.name == f"kettle.cnn.{new_sha[:16]}.keras"
    assert published.read_bytes() == before and sha(published) == row["sha256"]
    assert new.with_suffix(".json").exists()
    # the same bytes again: the same name, nothing rewritten
    again = art / "again.tmp"
    again.write_bytes(before)
    assert artifacts.publish_file(again, art / "models", "kettle.cnn", ".keras")[0] == published
    assert artifacts.verify(store) == []
    # the next run finds the model current (its file holds the recorded bytes) and converts it
    res = run_cli("train", *SMOKE, "--arch", "cnn", "--store", store)
    assert "kettle.cnn unchanged, skipped" in res.stderr
    run_cli("gc", "--store", store)
    assert not new.exists() and not new.with_suffix(".json").exists() and published.exists()


def _children(pid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if int((d / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(d.name))
            except (OSError, IndexError, ValueError):
                continue
    return out


def _running(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_killing_the_main_process_mid_training_changes_nothing_published(store_copy):
    store = store_copy
    art = db.artifacts_dir(store)
    files_before = referenced_bytes(store)
    models_before = db.query_df(store, "SELECT * FROM models ORDER BY model_id")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pipeline.cli.command",
            "train",
            *SMOKE,
            "--force",
            "--store",
            str(store),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 240
        # a training worker has started a model (it makes its checkpoint folder first)
        while not list((art / "checkpoints").glob("*/*")):
            assert proc.poll() is None, "training ended before it could be killed"
            assert time.monotonic() < deadline, "training workers never started"
            time.sleep(0.2)
        workers = _children(proc.pid)
        assert workers
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    deadline = time.monotonic() + 30
    while any(_running(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_running(w) for w in workers), "worker processes outlived their parent"

    assert referenced_bytes(store) == files_before
    pd.testing.assert_frame_equal(
        db.query_df(store, "SELECT * FROM models ORDER BY model_id"), models_before
    )
    assert artifacts.verify(store) == []
    res = run_cli("gc", "--store", store)  # the killed run is not in progress: gc may proceed
    assert "removed" in res.stderr
    assert managed_files(store) <= set(files_before) | {
        os.path.normpath(str(Path(r).with_suffix(".json")))
        for r in files_before
        if r.endswith(".keras")
    }


def test_every_published_artifact_holds_its_recorded_bytes(smoke_store):
    assert artifacts.verify(smoke_store) == []
    art = db.artifacts_dir(smoke_store)
    con = db.connect_readonly(smoke_store)
    try:
        refs = artifacts.referenced(con)
        counts = {
            t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]
            for t, _, _ in artifacts.REFERENCES
        }
    finally:
        con.close()
    assert all(counts.values()), counts
    for rel, recorded in refs.items():
        actual = sha(art / rel)
        assert recorded is None or actual == recorded, rel
        name = Path(rel).name  # content-addressed: the name carries the hash of the bytes
        assert f".{actual[:16]}." in name, rel
    # `pipeline all` ended with a gc: nothing unreferenced and no temporaries are left
    companions = {os.path.normpath(str(Path(r).with_suffix(".json"))) for r in refs}
    assert managed_files(smoke_store) - set(refs) - companions == set()
