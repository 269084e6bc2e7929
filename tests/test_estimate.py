"""The whole-span estimator: weighted sample metrics, intervals that cover the truth, pairs."""

import numpy as np
import pytest

from pipeline.evaluate import metrics as plain
from pipeline.evaluate.estimate import (
    Design,
    allocate,
    estimate,
    metrics_from_sums,
    paired_delta,
    stratified_sample,
    window_features,
)


def _series(n=120_000, seed=0):
    """A sparse appliance (3 % on) and a model that misses 20 % of on samples and fires falsely
    while other loads run (10 % of the time), as real false positives do."""
    rng = np.random.default_rng(seed)
    t = np.where(rng.random(n) < 0.03, 2500.0, 0.0)
    hit = rng.random(n) < 0.8
    active = rng.random(n) < 0.1
    false = active & (rng.random(n) < 0.05)
    p = np.where(t > 0, np.where(hit, 2400.0, 0.0), np.where(false, 2300.0, 0.0))
    return t, p, t >= 2000, p >= 2000, active


def test_unit_weights_reproduce_the_plain_metric_functions():
    t, p, st, sp, active = _series(5000)
    m = metrics_from_sums(window_features(t, p, st, sp).sum(axis=0))
    c = plain.confusion(st, sp)
    assert m["f1"] == pytest.approx(plain.f1(c)[0])
    assert m["mcc"] == pytest.approx(plain.mcc(c)[0])
    assert m["mae"] == pytest.approx(plain.mae(t, p)[0])
    assert m["sae"] == pytest.approx(plain.sae(t, p, 8.0)[0])
    assert m["nde"] == pytest.approx(plain.nde(t, p)[0])
    assert m["nde_masked"] == pytest.approx(plain.nde_masked(t, p, st, sp)[0])
    # energy per day: mean power x 24 h
    assert m["epd_true_wh"] == pytest.approx(t.mean() * 24)


def test_energy_per_day_is_unbiased_where_the_article_rule_is_not():
    # two hours of a constant 100 W at 8 s: 200 Wh in 2 h = 2,400 Wh/day
    t = np.full(900, 100.0)
    m = metrics_from_sums(window_features(t, t, t > 50, t > 50).sum(axis=0))
    assert m["epd_true_wh"] == pytest.approx(2400.0)
    assert plain.energy_per_day(t, 8.0)[0] == pytest.approx(1200.0)  # the article's rule


def test_stratified_estimate_interval_covers_the_whole_series_value():
    t, p, st, sp, active = _series()
    feats = window_features(t, p, st, sp)
    exact = metrics_from_sums(feats.sum(axis=0))
    # strata as the evaluation draws them: on, off while other loads run, off and quiet
    labels = np.where(st, 0, np.where(active, 1, 2))
    starts = np.arange(len(t))
    covered = {"f1": 0, "mae": 0, "mcc": 0, "epd_error_pct": 0}
    reps = 30
    for seed in range(reps):
        s = stratified_sample(starts, labels, ["on", "act", "quiet"], [0.5, 0.3, 0.2], 800, seed)
        d = s.subset(None)[1]
        e = estimate(feats[s.starts], d, d.resample_counts(300, seed))
        for k in covered:
            covered[k] += e.low[k] <= exact[k] <= e.high[k]
    # nominal 95 %: over 30 fixed seeds at least 80 % must cover (a biased estimator fails this)
    assert all(c >= 0.8 * reps for c in covered.values()), covered


def test_weights_make_the_oversampled_stratum_count_for_what_it_stands_for():
    t, p, st, sp, active = _series(50_000, seed=3)
    feats = window_features(t, p, st, sp)
    labels = np.where(st, 0, 1)
    s = stratified_sample(np.arange(len(t)), labels, ["on", "off"], [0.5, 0.5], 2000, 1)
    assert sum(x["population"] for x in s.strata) == len(t)
    e = estimate(feats[s.starts], s.subset(None)[1], None)
    # half the sample is 'on' but the estimate of on-windows is ~3 % of the span
    assert (e.value["tp"] + e.value["fn"]) / len(t) == pytest.approx(st.mean(), rel=0.02)
    naive = metrics_from_sums(feats[s.starts].sum(axis=0))
    assert abs(naive["mae"] - metrics_from_sums(feats.sum(0))["mae"]) > abs(
        e.value["mae"] - metrics_from_sums(feats.sum(0))["mae"]
    )


def test_sub_samples_are_nested_and_stratified():
    labels = np.r_[np.zeros(100, int), np.ones(10_000, int)]
    s = stratified_sample(np.arange(len(labels)), labels, ["on", "off"], [0.5, 0.5], 400, 0)
    big, big_d = s.subset(200)
    small, small_d = s.subset(80)
    assert small.sum() == pytest.approx(80, abs=2) and big.sum() == pytest.approx(200, abs=2)
    assert not (small & ~big).any()  # every window of the smaller is in the larger
    # each sub-sample's weights still add up to the population of every stratum
    for d in (big_d, small_d):
        for h, N in enumerate((100, 10_000)):
            assert d.weight[d.stratum == h].sum() == pytest.approx(N)


def test_allocation_hands_what_a_small_stratum_cannot_take_to_the_others():
    assert allocate([10, 1000, 1000], [0.5, 0.3, 0.2], 200) == [10, 114, 76]
    assert sum(allocate([3, 5], [0.5, 0.5], 100)) == 8


def test_paired_difference_is_zero_for_identical_predictions_and_clear_for_a_worse_one():
    t, p, st, sp, active = _series(40_000, seed=5)
    rng = np.random.default_rng(9)
    worse = np.where(rng.random(len(p)) < 0.3, 0.0, p)  # drops 30 % of predictions
    labels = np.where(st, 0, 1)
    s = stratified_sample(np.arange(len(t)), labels, ["on", "off"], [0.5, 0.5], 1000, 2)
    d = s.subset(None)[1]
    counts = d.resample_counts(300, 0)
    ref = estimate(window_features(t, p, st, sp)[s.starts], d, counts)
    same = estimate(window_features(t, p, st, sp)[s.starts], d, counts)
    bad = estimate(window_features(t, worse, st, worse >= 2000)[s.starts], d, counts)
    # identical on the sample: 0, with the width of disagreements no sample window showed
    d, lo, hi = paired_delta(same, ref, "f1")
    assert d == 0.0 and lo < 0 < hi and hi - lo < 0.12  # 500 off windows of 39,000
    delta, lo, hi = paired_delta(bad, ref, "f1")
    assert delta < 0 and hi < 0 and lo <= delta <= hi


def test_block_resampling_keeps_hours_together():
    unit = np.repeat(np.arange(5), 10)
    d = Design(np.ones(50), np.zeros(50, int), unit)
    counts = d.resample_counts(20, 0)
    # every window of an hour is drawn the same number of times
    for u in range(5):
        assert (counts[:, unit == u] == counts[:, [u * 10]]).all()
    assert (counts.sum(axis=1) == 50).all()


def test_constant_prediction_has_mcc_zero_and_one_class_truth_is_undefined():
    t = np.r_[np.full(10, 2500.0), np.zeros(90)]
    off = metrics_from_sums(window_features(t, np.zeros(100), t > 0, np.zeros(100)).sum(axis=0))
    assert off["mcc"] == 0.0 and off["f1"] == 0.0
    z = np.zeros(50)
    never = metrics_from_sums(window_features(z, z, z, z).sum(axis=0))
    assert np.isnan(never["mcc"]) and np.isnan(never["f1"])


def test_a_fully_scored_stratum_has_no_sampling_error():
    # 10 'on' windows, all scored (weight 1); the off stratum is sampled
    labels = np.r_[np.zeros(10, int), np.ones(5000, int)]
    s = stratified_sample(np.arange(len(labels)), labels, ["on", "off"], [0.5, 0.5], 200, 0)
    _, design = s.subset(None)
    counts = design.resample_counts(50, 0)
    on = design.stratum == 0
    assert (counts[:, on] == 1).all()  # the census stratum enters every resample as it is
    assert not (counts[:, ~on] == 1).all()


def test_too_few_units_to_resample_gives_no_interval():
    d = Design(np.full(3, 10.0), np.array([0, 1, 1]))  # stratum 0 sampled with one window
    assert d.resample_counts(20, 0) is None
    t = np.array([2500.0, 0.0, 0.0])
    e = estimate(window_features(t, t, t > 0, t > 0), d, d.resample_counts(20, 0))
    assert e.value["f1"] == 1.0 and np.isnan(e.low["f1"]) and np.isnan(e.high["f1"])


def test_the_metric_registry_describes_every_metric_the_evaluation_writes():
    from pipeline.evaluate.estimate import FEATURES
    from store.vocab import METRICS, SAMPLE_METRICS, TRACE_METRICS, Metric

    sums = metrics_from_sums(np.ones(len(FEATURES)))
    assert set(sums) == set(SAMPLE_METRICS)  # every sample estimate is registered, and only they
    trace_names = set(plain.all_metrics(*([np.ones(3)] * 4), 8.0))
    assert trace_names == set(TRACE_METRICS)  # the trace computes its metrics and no other
    assert set(METRICS) == set(Metric)  # each name has its label, unit, direction and formula
    assert METRICS[Metric.F1].higher_is_better and not METRICS[Metric.MAE].higher_is_better


def test_every_level_keeps_the_floors_of_every_stratum():
    labels = np.repeat(np.arange(4), [300, 5000, 3000, 20000])
    s = stratified_sample(np.arange(len(labels)), labels, ["on", "a", "b", "c"],
                          [0.25, 0.45, 0.25, 0.05], 10_000, 0, [20, 2, 2, 2])  # fmt: skip
    mask, design = s.subset(60)  # 60 windows would give the 'on' stratum 4 and idle 2
    kept = np.bincount(s.stratum[mask], minlength=4)
    assert kept[0] >= 20 and (kept >= 2).all()
    # a design with two windows per stratum has an interval
    assert design.resample_counts(50, 0) is not None


def test_the_resampling_keeps_the_finite_population_correction():
    """Half of a stratum sampled: the resampled totals vary as a without-replacement sample's
    (variance (1 - f) N^2 s^2 / n), not as a with-replacement sample's."""
    rng = np.random.default_rng(0)
    N, n = 2000, 1000
    y = rng.normal(10, 3, n)
    design = Design(np.full(n, N / n), np.zeros(n, np.int8))
    counts = design.resample_counts(4000, 1)
    totals = counts @ (y * N / n)
    expected = (1 - n / N) * N**2 * y.var(ddof=1) / n
    assert totals.var() == pytest.approx(expected, rel=0.1)
    # every window scored: no sampling error at all
    census = Design(np.ones(n), np.zeros(n, np.int8)).resample_counts(10, 1)
    assert (census == 1).all()


def test_a_stratum_without_false_alarms_still_carries_their_uncertainty_paired():
    n = 200
    stratum = np.repeat([0, 1], [100, 100]).astype(np.int8)
    design = Design(np.where(stratum == 1, 50.0, 5.0), stratum)
    t = np.where(stratum == 0, 1000.0, 0.0)
    hit = np.where(stratum == 0, 1000.0, 0.0)
    feats = window_features(t, hit, t > 0, hit > 0)  # a perfect model: no error anywhere
    est = estimate(feats, design, design.resample_counts(400, 0))
    assert est.value["f1"] == 1.0 and est.low["f1"] < 0.999  # not a zero-width certainty
    # two variants on one design get the same zero-event draws; what they may disagree on
    # unseen falls to either side: the paired interval holds 0 and is about symmetric
    d, lo, hi = paired_delta(est, estimate(feats, design, design.resample_counts(400, 0)), "f1")
    assert d == 0 and lo < 0 < hi and abs(lo + hi) < 0.5 * (hi - lo)
    assert n == len(design)


def _chain_design(idle_fp: int, active_fp: int = 0, chain=(1, 2, 3)):
    """on 100 (weight 5), look-alike 200 (weight 20), active 100 (weight 40), idle 20 (weight
    3,000): a perfect detector whose false alarms are given per stratum."""
    sizes, weights = [100, 200, 100, 20], [5.0, 20.0, 40.0, 3000.0]
    stratum = np.repeat(np.arange(4), sizes).astype(np.int8)
    design = Design(np.repeat(weights, sizes), stratum, chain=chain)
    t = np.where(stratum == 0, 1000.0, 0.0)
    p = t.copy()
    for h, k in ((2, active_fp), (3, idle_fp)):
        p[np.flatnonzero(stratum == h)[:k]] = 800.0
    return design, window_features(t, p, t > 0, p > 0)


def test_an_idle_stratum_borrows_the_harder_strata_evidence_along_the_chain():
    """20 idle windows standing for 60,000 saw no false alarm, nor did the 300 harder ones
    before them: alone the idle rate could be ~8 % (F1 down to ~0.3); on the chain it cannot
    exceed what the harder strata allow, so the interval narrows to what 320 windows say."""
    from pipeline.evaluate.estimate import zero_event_rates

    alone_design, feats = _chain_design(0, chain=())
    chain_design, _ = _chain_design(0)
    counts = alone_design.resample_counts(400, 0)
    alone = estimate(feats, alone_design, counts)
    pooled = estimate(feats, chain_design, counts)
    assert alone.low["f1"] < 0.6 < 0.8 < pooled.low["f1"] < 1.0
    # the idle draws never exceed the active draws (the rates do not rise along the chain)
    fp = feats[:, 2]
    rates = dict(zero_event_rates(chain_design, fp, feats[:, 1] + fp, 0, 400, 1))
    assert set(rates) == {1, 2, 3} and (rates[3] <= rates[2]).all() and (rates[2] <= rates[1]).all()
    # a harder stratum that saw false alarms bounds the easier one's draws by its own posterior
    seen_design, seen_feats = _chain_design(0, active_fp=1)
    fp = seen_feats[:, 2]
    rates = dict(zero_event_rates(seen_design, fp, seen_feats[:, 1] + fp, 0, 400, 1))
    assert 2 not in rates and np.percentile(rates[3], 97.5) < 0.05
    # an idle stratum that saw false alarms carries them through the ordinary resampling
    idle_design, idle_feats = _chain_design(2)
    est = estimate(idle_feats, idle_design, counts)
    assert est.value["f1"] < 0.5 and est.low["f1"] < est.value["f1"] < est.high["f1"]
