"""The first-insight benchmark's reading of recorded runs: minutes to the first appliance
complete and in all, for the runs that trained every model they name (nothing cached)."""

from __future__ import annotations

import importlib
from datetime import datetime, timedelta

import pytest

from store import db

from .conftest import ROOT


@pytest.fixture
def bench(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    return importlib.import_module("bench_first_insight")


def _run(con, run_id, start, minutes, items):
    con.execute(
        "INSERT INTO runs (run_id, command, profile, config, config_hash, host, started_at, "
        "finished_at, status) VALUES (?, 'all', 'demo', '{}', 'h', 'vm', ?, ?, 'finished')",
        [run_id, start, start + timedelta(minutes=minutes)],
    )
    for stage, item, at, skipped in items:
        con.execute(
            "INSERT INTO stage_timings VALUES (?, ?, ?, 1.0, ?, ?)",
            [run_id, stage, item, skipped, start + timedelta(minutes=at)],
        )


def test_recorded_runs_time_the_first_appliance_and_skip_cached_runs(bench, tmp_path):
    store = tmp_path / "s.duckdb"
    t0 = datetime(2026, 12, 4, 10, 0, 0)
    db.ensure_store(store)
    with db.write_store(store) as con:
        _run(
            con,
            "full",
            t0,
            60,
            [
                ("train", "kettle.cnn", 1, False),
                ("train", "kettle.transformer", 4, False),
                ("profile", "kettle.cnn@vm", 7, False),
                ("profile", "kettle.transformer@vm", 8, False),
                ("train", "kettle.cnn", 8.1, True),  # the later full pass skips the kettle
                ("train", "fridge.cnn", 20, False),
                ("profile", "fridge.cnn@vm", 59, False),
            ],
        )
        _run(con, "cached", t0 + timedelta(hours=2), 3, [("train", "kettle.cnn", 0.1, True)])
    (run,) = bench.recorded_runs(store)
    assert run["run_id"] == "full" and run["appliance"] == "kettle"
    assert run["first_s"] == pytest.approx(8 * 60) and run["total_s"] == pytest.approx(3600)
    assert run["model"] == "kettle.cnn" and run["first_model_s"] == pytest.approx(7 * 60)
    assert bench.recorded_runs(tmp_path / "none.duckdb") == []
