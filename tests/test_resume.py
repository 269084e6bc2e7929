"""A kill during a model's first training, and damaged resume files, never leave a model that
cannot be trained: the next run (with or without --force) resumes or starts afresh by itself."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from store import db

from .conftest import ROOT, run_cli

SMOKE = ("--profile", "smoke", "-a", "kettle", "--arch", "cnn")


def _kill_after_first_backup(store: Path) -> Path:
    """Start the model's first training, SIGKILL its process group once an epoch is backed up;
    returns the model's checkpoint folder."""
    art = db.artifacts_dir(store)
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli.command", "train", *SMOKE, "--store", str(store)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 300
        while not list(art.glob("checkpoints/kettle.cnn/*/backup/state.json")):
            assert proc.poll() is None, "training ended before it could be killed"
            assert time.monotonic() < deadline, "no epoch was backed up"
            time.sleep(0.1)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    (state,) = art.glob("checkpoints/kettle.cnn/*/backup/state.json")
    return state.parent.parent


def _truncate(path: Path) -> None:
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        fh.truncate(size // 2)


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "killpg"), reason="needs POSIX process groups")
def test_a_damaged_checkpoint_restarts_training_instead_of_failing(tmp_path):
    store = tmp_path / "nilm.duckdb"
    run_cli("data", *SMOKE[:4], "--store", store)
    key_dir = _kill_after_first_backup(store)
    assert db.query_df(store, "SELECT count(*) AS n FROM models")["n"][0] == 0
    (weights,) = (key_dir / "backup").glob("epoch-*.weights.h5")
    torn = weights.read_bytes()[:13040]
    _truncate(weights)
    if (key_dir / "best.keras").exists():
        _truncate(key_dir / "best.keras")
    else:
        (key_dir / "best.keras").write_bytes(b"PK\x03\x04 torn")

    res = run_cli("train", *SMOKE, "--store", store)  # no --force: the model is not trained yet
    out = res.stdout + res.stderr
    notes = [line for line in out.splitlines() if "starts afresh" in line]
    assert len(notes) == 1 and "kettle.cnn" in notes[0], out
    assert "kettle.cnn saved" in out
    assert not key_dir.exists()  # published: the resume state is gone

    # what an older version left after a kill: weights written in place, cut mid-write
    key_dir.joinpath("backup").mkdir(parents=True)
    key_dir.joinpath("backup", "latest.weights.h5").write_bytes(torn)
    res = run_cli("train", *SMOKE, "--force", "--store", store)
    out = res.stdout + res.stderr
    assert "starts afresh" in out and "kettle.cnn saved" in out, out
    from pipeline.core import artifacts

    assert artifacts.verify(store) == []
