"""Runs: a killed run is shown as crashed (not running forever) once the next run starts."""

import socket
import subprocess
import sys

from pipeline.core.context import RunContext
from pipeline.settings.presets import profile_config
from store import db
from store.vocab import Appliance, Arch


def _ctx(store, command="data"):
    return RunContext(
        store=store,
        cfg=profile_config("smoke"),
        appliances=[Appliance.KETTLE],
        archs=list(Arch),
        command=command,
    )


def test_a_killed_run_is_marked_crashed_by_the_next_start(store_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    first = _ctx(store_path)
    first.start_run()
    with db.write_store(store_path) as con:  # as if its process had been SIGKILLed
        con.execute("UPDATE runs SET pid = ? WHERE run_id = ?", [dead.pid, first.run_id])
    alive = _ctx(store_path, "train")
    alive.start_run()  # this process is alive: its own run must stay 'running'
    runs = db.query_df(store_path, "SELECT run_id, status, pid, host FROM runs").set_index("run_id")
    assert runs.loc[first.run_id, "status"] == "crashed"
    assert runs.loc[alive.run_id, "status"] == "running"
    assert runs.loc[alive.run_id, "host"] == socket.gethostname()
    alive.finish_run("finished")
    assert (
        db.query_df(store_path, "SELECT status FROM runs WHERE run_id = ?", [alive.run_id]).iloc[
            0, 0
        ]
        == "finished"
    )


def test_a_pid_reused_by_a_newer_process_does_not_keep_a_run_alive(store_path):
    import os
    from datetime import timedelta

    from pipeline.core.context import utcnow

    old = _ctx(store_path)
    old.start_run()
    with db.write_store(store_path) as con:  # its pid now belongs to a process born later
        con.execute(
            "UPDATE runs SET pid = ?, started_at = ? WHERE run_id = ?",
            [os.getpid(), utcnow() - timedelta(hours=2), old.run_id],
        )
    _ctx(store_path, "train").start_run()
    status = db.query_df(store_path, "SELECT status FROM runs WHERE run_id = ?", [old.run_id])
    assert status.iloc[0, 0] == "crashed"


def test_run_options_are_typed_read_only_and_recorded_whole():
    import dataclasses

    import pytest

    from pipeline.core.context import RunOptions

    opts = RunOptions.of(int8_io=True, strategy="mirrored", file="bench.txt", host="rpi4")
    assert opts.int8_io and opts.strategy == "mirrored" and not opts.article_loss
    assert dict(opts.recorded) == {"file": "bench.txt", "host": "rpi4"}
    with pytest.raises(dataclasses.FrozenInstanceError):
        opts.int8_io = False  # no stage changes them
    assert opts.to_json()["host"] == "rpi4" and opts.to_json()["int8_io"] is True
