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


def test_a_resumed_training_keeps_the_history_of_the_epochs_it_restored(tmp_path):
    """A run killed after its last backed-up epoch resumes with nothing left to run: its history,
    best epoch and best validation loss still cover every epoch (they came out empty and None,
    and saving the model then failed)."""
    import keras
    import numpy as np

    from pipeline.train.callbacks import BudgetCallback, SafeBackup
    from pipeline.train.facts import history_and_facts

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 4)).astype("float32"), rng.normal(size=(64, 1)).astype("float32")

    budget = BudgetCallback("cosine", 1e-3, 0.1, 0, 0)

    def fit(epochs):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        model.compile(optimizer="adam", loss="mse")
        hist = model.fit(
            x,
            y,
            epochs=epochs,
            validation_data=(x, y),
            verbose=0,
            callbacks=[SafeBackup(tmp_path / "backup"), budget],
        )
        return hist

    first = fit(2)  # as if killed after epoch 2's backup
    whole = fit(2)  # the resume: both epochs restored, none run
    assert whole.epoch == [0, 1] and budget.steps == 2 * 2  # 64 windows in batches of 32
    # (the schedule and step count go on from the restored epochs)
    assert whole.history["val_loss"] == first.history["val_loss"]
    rows, facts = history_and_facts("m", whole, {}, [])
    assert [r["epoch"] for r in rows] == [1, 2] and facts["best_val_loss"] is not None
    more = fit(3)  # a resume with one epoch left to run
    rows, facts = history_and_facts("m", more, {}, [1.5])
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    assert [r["seconds"] for r in rows] == [None, None, 1.5]
    assert facts["best_val_loss"] == min(r["val_loss"] for r in rows)
