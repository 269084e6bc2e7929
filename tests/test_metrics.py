import math

import numpy as np
import pytest

from pipeline.data.onoff import compute_status, duration_samples
from pipeline.evaluate import metrics as M


def test_article_confusion_counts_give_published_scores():
    # kettle cnn test log of the reference implementation
    c = {"tp": 31405, "tn": 5677816, "fp": 6222, "fn": 16909}
    assert M.accuracy(c)[0] == pytest.approx(0.99596, abs=5e-6)
    assert M.mcc(c)[0] == pytest.approx(0.73464, abs=5e-6)
    assert M.f1(c)[0] == pytest.approx(0.73085, abs=5e-6)


def test_hand_computed_values():
    t = np.array([0, 0, 100, 200, 0, 0], float)
    p = np.array([0, 50, 150, 100, 0, 0], float)
    st = np.array([0, 0, 1, 1, 0, 0])
    sp = np.array([0, 1, 1, 1, 0, 0])
    c = M.confusion(st, sp)
    assert c == {"tp": 2, "tn": 3, "fp": 1, "fn": 0}
    assert M.precision(c)[0] == pytest.approx(2 / 3)
    assert M.recall(c)[0] == 1.0
    assert M.f1(c)[0] == pytest.approx(0.8)
    assert M.mcc(c)[0] == pytest.approx((2 * 3 - 0) / math.sqrt(3 * 2 * 4 * 3))
    assert M.mae(t, p)[0] == pytest.approx((50 + 50 + 100) / 6)
    assert M.mae_masked(t, p, st, sp)[0] == pytest.approx((50 + 50 + 100) / 6)
    assert M.nde(t, p)[0] == pytest.approx((50**2 + 50**2 + 100**2) / (100**2 + 200**2))
    assert M.sae(t, p, 8)[0] == pytest.approx(abs(300 - 300) / 300)
    # masking differs from plain when the prediction is on outside the predicted status
    sp2 = np.array([0, 0, 1, 1, 0, 0])
    assert M.mae_masked(t, p, st, sp2)[0] == pytest.approx((50 + 100) / 6)
    assert M.sae_masked(t, p, st, sp2, 8)[0] == pytest.approx(abs(250 - 300) / 300)


def test_energy_per_day_uses_hourly_chunks_and_drops_the_last_hour():
    period = 8
    per_hour = 450
    x = np.full(per_hour * 25, 100.0)  # 25 h at a constant 100 W
    epd, reason = M.energy_per_day(x, period)
    assert reason is None
    # chunks start at 0..< N - 450: 24 chunks of 100 Wh over 25/24 days
    assert epd == pytest.approx(24 * 100 / (25 / 24))
    assert M.epd_error_pct(200.0, 150.0)[0] == pytest.approx(-25.0)


def test_degenerate_cases_give_nan_with_a_reason_not_a_crash():
    t = np.zeros(100)
    p = np.zeros(100)
    out = M.all_metrics(t, p, np.zeros(100), np.zeros(100), 8)
    for name in (
        "f1",
        "mcc",
        "precision",
        "recall",
        "sae",
        "nde",
        "sae_masked",
        "nde_masked",
        "epd_article_error_pct",
    ):
        value, reason = out[name]
        assert math.isnan(value) and reason, name
    assert out["acc"][0] == 1.0
    assert out["mae"][0] == 0.0
    # a constant prediction against a truth with both classes: no correlation, MCC 0
    c = M.confusion(np.r_[np.ones(5), np.zeros(5)], np.zeros(10))
    assert M.mcc(c) == (0.0, None)
    empty = M.all_metrics([], [], [], [], 8)
    assert math.isnan(empty["acc"][0]) and empty["acc"][1]


@pytest.mark.parametrize(
    "power, min_on, min_off, expected",
    [
        ([0, 5, 5, 0, 0, 5, 5, 5, 0], 0, 0, [0, 1, 1, 0, 0, 1, 1, 1, 0]),
        ([0, 5, 5, 0, 0, 5, 5, 5, 0], 3, 0, [0, 0, 0, 0, 0, 1, 1, 1, 0]),  # too short: dropped
        ([0, 5, 5, 0, 0, 5, 5, 5, 0], 0, 2, [0, 1, 1, 1, 1, 1, 1, 1, 0]),  # short gap: merged
        ([5, 5, 0, 5], 0, 0, [1, 1, 0, 1]),  # starts and ends on
        ([0, 0, 0], 0, 0, [0, 0, 0]),
        ([4.9, 5, 5.1], 0, 0, [0, 1, 1]),  # threshold is inclusive
    ],
)
def test_status_rule(power, min_on, min_off, expected):
    assert compute_status(np.array(power, float), 5, min_on, min_off).tolist() == expected


def test_durations_round_up_to_samples():
    assert duration_samples(1800, 8) == 225
    assert duration_samples(12, 8) == 2
    assert duration_samples(0, 8) == 0
