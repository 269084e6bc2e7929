"""The gated-head comparison: its model, its loss, its scores and a run on the smoke store."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from .conftest import ROOT


@pytest.fixture
def bench(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    return importlib.import_module("bench_gated_head")


def test_the_gate_scales_the_power_head(bench):
    model = bench.build(gated=True)
    gate = model.get_layer("gate")
    kernel, bias = gate.get_weights()
    x = np.random.default_rng(0).normal(size=(4, model.input_shape[1])).astype(np.float32)
    gate.set_weights([np.zeros_like(kernel), np.full_like(bias, -30.0)])  # P(on) ~ 1e-13
    assert np.allclose(model.predict(x, verbose=0)[:, 0], 0.0, atol=1e-9)
    gate.set_weights([np.zeros_like(kernel), np.full_like(bias, 30.0)])  # P(on) ~ 1
    power = model.get_layer("power").output
    import keras

    plain = keras.Model(model.input, power).predict(x, verbose=0)[:, 0]
    assert np.allclose(model.predict(x, verbose=0)[:, 0], plain, rtol=1e-5, atol=1e-7)
    assert bench.build(gated=False).output_shape == (None, 1)


def test_the_gate_loss_is_the_base_loss_plus_a_logit_cross_entropy(bench):
    base = lambda y, p: (p[:, 0] - y[:, 0]) ** 2  # noqa: E731
    loss = bench.gated_loss(base)
    y = np.array([[0.5, 1.0], [0.0, 0.0]], np.float32)
    p = np.array([[0.5, 2.0], [0.0, -1.0]], np.float32)
    expected = [np.log1p(np.exp(-2.0)), np.log1p(np.exp(-1.0))]
    assert np.allclose(np.asarray(loss(y, p)), expected, rtol=1e-5)


def test_scores(bench):
    from store.vocab import Appliance

    truth = np.array([0.0, 0.0, 2000.0, 2000.0])
    pred = np.array([2000.0, 0.0, 2000.0, 0.0])
    s = bench.scores(truth, pred, Appliance.KETTLE)
    assert s["precision"] == 0.5 and s["recall"] == 0.5 and s["f1"] == 0.5
    assert s["mae"] == pytest.approx(1000.0) and s["epd_error_pct"] == pytest.approx(0.0)


def test_compare_on_the_smoke_store(bench, smoke_store):
    r = bench.compare(smoke_store, "kettle", stride=50, epochs=1)
    assert r["epochs"] == 1 and r["windows"] > 0 and r["always_off_mae"] > 0
    for name in ("plain", "gated"):
        assert {"f1", "precision", "recall", "mae", "epd_error_pct"} <= set(r[name])
        assert 0.0 <= r[name]["f1"] <= 1.0 and r[name]["mae"] >= 0.0
    with pytest.raises(SystemExit, match="no trained microwave CNN"):
        bench.compare(smoke_store, "microwave", stride=50, epochs=1)
