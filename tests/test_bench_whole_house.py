"""The whole-house check: its rules on a stream, its scores, and a run on the smoke store."""

from __future__ import annotations

import importlib

import duckdb
import numpy as np
import pytest

from .conftest import ROOT


@pytest.fixture
def bench(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    return importlib.import_module("bench_whole_house")


def test_long_activations_are_dropped_within_their_own_segment(bench):
    status = np.array([1, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1], np.int8)
    segment = np.zeros(len(status), int)
    kept = bench.drop_long_runs(status, segment, max_on=3)
    assert kept.tolist() == [1, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1]
    # the same four 'on' samples across a gap are two runs of two, both kept
    cut = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
    assert bench.drop_long_runs(status, cut, max_on=3)[4:8].tolist() == [1, 1, 1, 1]
    assert status.tolist()[4] == 1  # the input is not changed


def test_scores_over_every_window(bench):
    truth = np.array([0.0, 0.0, 100.0, 100.0])
    pred = np.array([50.0, 0.0, 100.0, 0.0])
    s = bench.scores(truth, pred, truth > 50, pred > 40)
    assert s["precision"] == 0.5 and s["recall"] == 0.5 and s["f1"] == 0.5
    assert s["mae"] == pytest.approx(150.0 / 4)
    assert s["epd_error_pct"] == pytest.approx(-25.0)


def test_whole_house_on_the_smoke_store(bench, smoke_store):
    extra = {"min_on_s": [600.0], "max_on_s": [60.0], "gate_w": [1000.0]}
    r = bench.whole_house(smoke_store, "kettle", "cnn", 1, extra)
    con = duckdb.connect(str(smoke_store), read_only=True)
    (windows,) = con.execute(
        "SELECT windows FROM datasets WHERE appliance = 'kettle' AND split = 'test'"
    ).fetchone()
    con.close()
    assert r["windows"] == windows and r["stride"] == 1
    assert set(r["stored"]["kettle.cnn.keras"]) >= {"f1", "mae", "epd_error_pct"}
    assert r["always_off_mae"] > 0
    # a rule only ever sets predicted power to 0: never more energy than without it
    assert len(r["rules"]) == 4
    for s in r["rules"].values():
        assert s["epd_error_pct"] <= r["whole"]["epd_error_pct"] + 1e-9
    every_third = bench.whole_house(smoke_store, "kettle", "cnn", 3, extra)
    assert every_third["windows"] == -(-windows // 3) and "rules" not in every_third
    assert "skipped" in bench.whole_house(smoke_store, "microwave", "cnn", 1, extra)
