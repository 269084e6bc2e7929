"""Evaluation pieces: baselines, the article's trace metrics, SQNR, the training stream."""

import numpy as np
import pandas as pd
import pytest

from pipeline.convert.quant_debug import layer_stats, sqnr_db
from pipeline.data.strata import STRATA, strata_labels
from pipeline.data.windows import SplitData, Windows
from pipeline.evaluate.baselines import baseline_predictions
from pipeline.evaluate.estimate import stratified_sample
from pipeline.evaluate.sample import EvalPlan
from pipeline.evaluate.scoring import Scorer, pair_rows, threshold_status, trace_metrics
from pipeline.settings.constants import MIDPOINT, WINDOW
from pipeline.train.stage import scheduled_lr
from store.vocab import Appliance


def _split(n=4000, houses=(1,), seed=0) -> SplitData:
    rng = np.random.default_rng(seed)
    agg = 300 + rng.normal(0, 5, n)
    app = np.zeros(n)
    for s in range(700, n - 700, 900):  # a 2,400 W kettle run every 900 samples
        app[s : s + 20] = 2400
    agg = agg + app
    house = np.repeat(np.array(houses), -(-n // len(houses)))[:n]
    return SplitData(
        unix=1_400_000_000 + 8 * np.arange(n, dtype=np.int64),
        aggregate_w=agg.astype(np.float32),
        appliance_w=app.astype(np.float32),
        status=(app >= 2000).astype(np.int8),
        segment=house.astype(np.int32),
        house=house.astype(np.int32),
    )


def test_baselines_on_known_windows():
    split = _split()
    w = Windows(split, 522, 814, 3100)
    starts = np.array([700 - MIDPOINT, 710 - MIDPOINT, 100, 1500 - MIDPOINT])
    power = {"mean": 12.0, "mean_on": 2400.0}
    assert (baseline_predictions("always_off", w, starts, Appliance.KETTLE, power) == 0).all()
    assert (baseline_predictions("mean_power", w, starts, Appliance.KETTLE, power) == 12).all()
    rule = baseline_predictions("aggregate_threshold", w, starts, Appliance.KETTLE, power)
    # the kettle runs at the first two midpoints: rise over the window's base load ~2,400 W
    assert rule[0] == pytest.approx(2400, abs=40) and rule[1] == pytest.approx(2400, abs=40)
    assert rule[2] == 0 and rule[3] == 0


def test_article_trace_metrics_keep_the_article_energy_rule_under_its_own_name():
    split = _split(3000)
    starts = np.arange(0, 3000 - WINDOW)
    truth = split.appliance_w[starts + MIDPOINT].astype(float)
    out, pred_on, truth_on = trace_metrics(split, starts, truth, Appliance.KETTLE, 8.0)
    assert out["f1"][0] == pytest.approx(1.0)
    assert "epd_error_pct" not in out and out["epd_article_error_pct"][0] == pytest.approx(0.0)
    assert (pred_on == split.status[starts + MIDPOINT]).all() and (truth_on == pred_on).all()


def test_a_perfect_power_predictor_scores_f1_1_and_mae_0_on_every_split():
    """One status rule per scoring: sampled windows by the threshold for truth and prediction
    alike, the trace by the duration rules for both; prediction = truth is then perfect, even
    for short spikes the split's duration rule drops and for a trace cut mid-activation."""
    split = _split(6000)
    spikes = np.arange(300, 5600, 450)  # 2 samples over the threshold: shorter than min-on
    split.appliance_w[spikes] = 2500
    split.appliance_w[spikes + 1] = 2500
    w = Windows(split, 522, 814, 3100)
    starts = w.starts
    mid = starts + MIDPOINT
    truth = split.appliance_w[mid].astype(float)
    labels = strata_labels(w, starts, 2000.0, by_threshold=True)
    sample = stratified_sample(starts, labels, list(STRATA), [0.25, 0.45, 0.25, 0.05], 800, 0,
                               [20, 2, 2, 2])  # fmt: skip
    levels = {"full": len(sample), "reference": 400, "core": 200, "min": 60}
    plan = EvalPlan("stratified", sample, levels, starts[:1000])
    idx = np.searchsorted(starts, sample.starts)
    t = truth[idx]
    scorer = Scorer(plan, t, threshold_status(t, Appliance.KETTLE), Appliance.KETTLE, 50, 0)
    for m in levels.values():
        est = scorer.score(t.copy(), m)
        assert est.value["f1"] == pytest.approx(1.0) and est.value["mae"] == pytest.approx(0.0)
    # the trace starts inside an activation: both statuses see the same cut
    cut = starts[705:1500]
    out, pred_on, truth_on = trace_metrics(
        split, cut, split.appliance_w[cut + MIDPOINT].astype(float), Appliance.KETTLE, 8.0
    )
    assert out["f1"][0] == pytest.approx(1.0) and out["mae"][0] == pytest.approx(0.0)


def test_sqnr_is_signal_power_over_error_power():
    # hand computation: f = [3, 4] (mean square 12.5), error power 0.125 -> 20 dB
    assert float(sqnr_db(12.5, 0.125)) == pytest.approx(20.0)
    # always defined: exact (no noise) is +inf, noise on an all-zero signal is -inf
    assert float(sqnr_db(1.0, 0.0)) == np.inf and float(sqnr_db(0.0, 0.0)) == np.inf
    assert float(sqnr_db(0.0, 0.1)) == -np.inf and float(sqnr_db(np.nan, np.nan)) == -np.inf
    df = pd.DataFrame(
        {
            "scale": [0.1, 0.2],
            "mean_squared_error": [0.01, 0.04],
            "signal_power": [1.0, 4.0],
        }
    )
    out = layer_stats(df, 0.7)
    assert out["sqnr_db"].tolist() == pytest.approx([20.0, 20.0])
    assert out["rmse_scale"].tolist() == pytest.approx([1.0, 1.0])
    assert out["suspect"].tolist() == [True, True]


def test_learning_rate_schedule_warms_up_then_decays():
    peak = 1e-3
    assert scheduled_lr(0.0, peak, 0.1) == pytest.approx(peak * 0.02)
    assert scheduled_lr(0.05, peak, 0.1) == pytest.approx(peak / 2)
    assert scheduled_lr(0.1, peak, 0.1) == pytest.approx(peak)
    assert scheduled_lr(1.0, peak, 0.1) == pytest.approx(peak * 0.02)
    lrs = [scheduled_lr(p, peak, 0.1) for p in np.linspace(0.1, 1, 20)]
    assert all(a >= b for a, b in zip(lrs, lrs[1:], strict=False))


def test_training_batches_mix_houses_in_proportion():
    pytest.importorskip("tensorflow")
    # three houses of very different sizes, stored one after the other (sorted starts)
    sizes = {1: 30_000, 2: 10_000, 3: 5_000}
    house = np.concatenate([np.full(n, h) for h, n in sizes.items()])
    split = _split(len(house))
    split.house = house.astype(np.int32)
    split.segment = house.astype(np.int32)
    w = Windows(split, 522, 814, 3100)
    stream = w.start_stream(w.starts, seed=0).batch(256).take(40)
    share = {h: [] for h in sizes}
    for batch in stream.as_numpy_iterator():
        hs = house[batch]
        for h in sizes:
            share[h].append(np.mean(hs == h))
    expected = {h: np.mean(house[w.starts] == h) for h in sizes}
    for h in sizes:
        # every batch holds every house near its share (a sorted buffer would give one house)
        assert abs(np.mean(share[h]) - expected[h]) < 0.02
        assert min(share[h]) > expected[h] / 3


def test_oversampling_on_windows_reaches_the_requested_share():
    pytest.importorskip("tensorflow")
    split = _split(20_000)
    w = Windows(split, 522, 814, 3100)
    starts = next(w.start_stream(w.starts, seed=1, on_fraction=0.3).batch(4000).as_numpy_iterator())
    assert np.mean(split.status[starts + MIDPOINT]) == pytest.approx(0.3, abs=0.03)


def test_strata_from_the_aggregate_and_the_truth():
    """on / look-alike (a rise at the midpoint while off) / active (a swing like the
    appliance's elsewhere in the window) / idle, by hand-placed events."""
    from pipeline.data.strata import STRATA, strata_labels

    s = _split(n=6000)
    # an off-status 2,500 W load (not the kettle) at sample 3000
    s.aggregate_w[3000:3010] += 2500
    w = Windows(s, 522.0, 814.0, 3000.0)
    starts = np.array([700 - MIDPOINT, 3000 - MIDPOINT, 3000 - MIDPOINT + 100, 3500])
    labels = [STRATA[i] for i in strata_labels(w, starts, 2000.0)]
    assert labels == ["on", "off_lookalike", "off_active", "off_idle"]


def test_each_test_house_gets_its_own_estimate_and_they_add_up():
    """Domain estimates per house: same weights and resamples, the counts of the houses add
    up to the pooled counts, and each house's interval covers its whole-span value."""
    from pipeline.evaluate.estimate import stratified_sample
    from pipeline.evaluate.sample import EvalPlan
    from pipeline.evaluate.scoring import Scorer

    rng = np.random.default_rng(3)
    n = 20_000
    house = np.where(np.arange(n) < n // 2, 7, 9)
    truth_on = (rng.random(n) < 0.05).astype(np.int8)
    truth = truth_on * 2400.0
    # the model is good in house 7 and poor in house 9
    flip = rng.random(n) < np.where(house == 7, 0.01, 0.08)
    pred = np.where(truth_on.astype(bool) ^ flip, 2400.0, 0.0)
    sample = stratified_sample(
        np.arange(n), truth_on.astype(np.int8) ^ 1, ["on", "off"], [0.5, 0.5], 4000, 1
    )
    plan = EvalPlan("stratified", sample, {"full": len(sample)}, sample.starts[:10])
    idx = sample.starts
    scorer = Scorer(plan, truth[idx], truth_on[idx], Appliance.KETTLE, 300, 0, house[idx])
    assert scorer.test_houses() == [7, 9]
    pooled = scorer.score(pred[idx], len(sample))
    per = {h: scorer.score(pred[idx], len(sample), house=h) for h in (7, 9)}
    for k in ("tp", "fp", "fn", "tn"):
        assert per[7].value[k] + per[9].value[k] == pytest.approx(pooled.value[k])
    for h in (7, 9):
        sel = house == h
        tp = np.sum(sel & (truth_on == 1) & (pred > 0))
        fp = np.sum(sel & (truth_on == 0) & (pred > 0))
        fn = np.sum(sel & (truth_on == 1) & (pred == 0))
        exact = 2 * tp / (2 * tp + fp + fn)
        assert per[h].low["f1"] <= exact <= per[h].high["f1"]
    assert per[7].value["f1"] > per[9].value["f1"] + 0.2
    rows = scorer.house_rows("kettle.cnn.keras", pred[idx], len(sample))
    assert {r["split"] for r in rows} == {"test@house7", "test@house9"}


def _with_lookalikes(n=30_000):
    """A 2,400 W kettle run every 3,000 samples and, between them, an off-status 2,500 W load."""
    split = _split(n)
    split.aggregate_w -= split.appliance_w
    split.appliance_w[:] = 0
    for s in range(700, n - 700, 3000):
        split.appliance_w[s : s + 20] = 2400
    split.aggregate_w += split.appliance_w
    split.status = (split.appliance_w >= 2000).astype(np.int8)
    for s in range(2200, n - 700, 3000):
        split.aggregate_w[s : s + 20] += 2500
    return split


def test_hard_negatives_are_the_off_windows_that_look_like_activations():
    from pipeline.data.strata import hard_negatives

    split = _with_lookalikes()
    w = Windows(split, 522, 814, 3100)
    hard = hard_negatives(w, w.starts, 2000.0)
    on = split.status[w.starts + MIDPOINT] > 0.5
    assert hard.any() and not (hard & on).any()
    # the midpoint on the other load's run is a hard negative; a window with no run is not
    assert hard[np.searchsorted(w.starts, 2205 - MIDPOINT)]
    assert not hard[np.searchsorted(w.starts, 1450 - MIDPOINT)]


def test_training_mix_draws_at_least_the_hard_share():
    pytest.importorskip("tensorflow")
    from pipeline.data.strata import hard_negatives

    split = _with_lookalikes()
    w = Windows(split, 522, 814, 3100)
    hard = hard_negatives(w, w.starts, 2000.0)
    on = split.status[w.starts + MIDPOINT] > 0.5
    natural = 0.7 * hard.sum() / (~on).sum()  # their share of the 'off' draws in a plain mix
    assert 0.1 < natural < 0.4

    def drawn(hard_fraction):
        stream = w.start_stream(
            w.starts, 1, on_fraction=0.3, hard=hard, hard_fraction=hard_fraction
        )
        starts = next(stream.batch(4000).as_numpy_iterator())
        assert np.mean(split.status[starts + MIDPOINT]) == pytest.approx(0.3, abs=0.03)
        return np.isin(starts, w.starts[hard]).mean()

    assert drawn(0.5) == pytest.approx(0.5, abs=0.03)
    assert drawn(0.05) == pytest.approx(natural, abs=0.03)  # never fewer than in a plain mix
    # validation draws the same mix; without hard negatives the on/off mix is unchanged
    val = w.sample_with_on_share(500, 0.3, np.random.default_rng(0), hard, 0.5)
    assert len(val) == 500 and np.all(np.diff(val) > 0)
    assert np.isin(val, w.starts[hard]).mean() == pytest.approx(0.5, abs=0.001)
    plain = w.sample_with_on_share(500, 0.3, np.random.default_rng(0))
    assert (
        plain.tolist()
        == w.sample_with_on_share(500, 0.3, np.random.default_rng(0), None, 0.5).tolist()
    )
    assert np.mean(split.status[plain + MIDPOINT]) == pytest.approx(0.3, abs=0.001)


def test_pairs_are_scored_on_the_windows_both_saw_in_both_directions():
    split = _split(6000)
    w = Windows(split, 522, 814, 3100)
    starts = w.starts
    truth = split.appliance_w[starts + MIDPOINT].astype(float)
    labels = strata_labels(w, starts, 2000.0, by_threshold=True)
    sample = stratified_sample(starts, labels, list(STRATA), [0.25, 0.45, 0.25, 0.05], 800, 0,
                               [20, 2, 2, 2])  # fmt: skip
    plan = EvalPlan("stratified", sample, {"full": len(sample), "min": 60}, starts[:100])
    t = truth[np.searchsorted(starts, sample.starts)]
    scorer = Scorer(plan, t, threshold_status(t, Appliance.KETTLE), Appliance.KETTLE, 50, 0)
    worse = np.where(np.arange(len(t)) % 3 == 0, 0.0, t)  # misses a third of the windows
    rows = pair_rows({"a": t, "b": worse}, {"a": len(sample), "b": 60}, scorer)
    f1 = {(r["variant_id"], r["other_id"]): r for r in rows if r["metric"] == "f1"}
    ab, ba = f1[("a", "b")], f1[("b", "a")]
    # on the smaller level's windows (raised to the floors), each the other's mirror image
    assert ab["n_windows"] == int(scorer.subset(60)[0].sum()) >= 60 and ab["on_windows"] >= 20
    assert ab["delta"] > 0 and ab["delta"] == -ba["delta"] and ab["ci_low"] == -ba["ci_high"]
    assert {r["metric"] for r in rows} == {"f1", "mae", "abs_epd_error_pct"}


def test_byte_identical_files_on_the_same_windows_are_predicted_once():
    import numpy as np

    from pipeline.evaluate.stage import same_file_groups

    def v(vid, mode, sha):
        return {"variant_id": vid, "mode": mode, "sha256": sha}

    same = np.arange(5)
    needs = {"k": same, "a": same, "b": same, "c": np.arange(3), "d": same, "e": same}
    groups = same_file_groups(
        [
            v("k", "keras", "s0"),
            v("a", "w8_a8", "s1"),
            v("b", "w8_a8_fallback", "s1"),  # same file, same windows: shares a's run
            v("c", "w8_a8_selective", "s1"),  # same file, other windows: its own run
            v("d", "w8", "s2"),
            v("e", "w8_a16", None),  # no recorded hash: never shared
        ],
        needs,
    )
    assert groups == {"k": "k", "a": "a", "b": "a", "c": "c", "d": "d", "e": "e"}


def test_each_window_is_predicted_once_per_file_in_a_run(monkeypatch):
    """A variant's sample and trace share windows: each is run once and laid out as asked; a
    file predicted earlier in the run on the same data and windows is not run again (the
    appliance's evaluation with both architectures after its CNN's own)."""
    import io
    from types import SimpleNamespace

    import numpy as np
    from rich.console import Console

    from pipeline.evaluate import stage

    runs = []

    def fake_predict(ctx, variants, needs, w):
        runs.append({v["variant_id"]: needs[v["variant_id"]].tolist() for v in variants})
        return {vid: (np.asarray(s) * 10.0, 1.0, "litert", True) for vid, s in runs[-1].items()}

    monkeypatch.setattr(stage, "predict_all", fake_predict)
    monkeypatch.setattr(stage, "is_remote", lambda ctx: False)
    monkeypatch.setattr(stage, "_PREDICTIONS", {})
    ctx = SimpleNamespace(
        console=Console(file=io.StringIO()), cfg=SimpleNamespace(eval_batch=8), run_id="r1"
    )
    cnn = {"variant_id": "k.cnn.w8", "mode": "w8", "sha256": "s1"}
    needs = {"k.cnn.w8": np.array([5, 3, 9, 3, 5])}  # sample 5, 3, 9; trace 3, 5
    raw = stage._predict_once_per_file(ctx, [cnn], needs, None, "data1")
    assert runs == [{"k.cnn.w8": [3, 5, 9]}]
    assert raw["k.cnn.w8"][0].tolist() == [50.0, 30.0, 90.0, 30.0, 50.0]
    tr = {"variant_id": "k.transformer.w8", "mode": "w8", "sha256": "s2"}
    both = {**needs, "k.transformer.w8": np.array([1, 2])}
    raw2 = stage._predict_once_per_file(ctx, [cnn, tr], both, None, "data1")
    assert runs[1:] == [{"k.transformer.w8": [1, 2]}]  # the CNN's file is not run again
    assert raw2["k.cnn.w8"][0].tolist() == raw["k.cnn.w8"][0].tolist()
    assert "k.cnn.w8: predicted earlier in this run" in ctx.console.file.getvalue()
    # other data, other windows or another file: predicted afresh
    stage._predict_once_per_file(ctx, [cnn], needs, None, "data2")
    stage._predict_once_per_file(ctx, [cnn], {"k.cnn.w8": np.array([3, 4])}, None, "data1")
    stage._predict_once_per_file(ctx, [{**cnn, "sha256": "s3"}], needs, None, "data1")
    stage._predict_once_per_file(
        SimpleNamespace(**{**vars(ctx), "run_id": "r2"}), [cnn], needs, None, "data1"
    )
    assert len(runs) == 6  # nor is another run's prediction taken
    stage.forget_predictions()  # `pipeline all` ends
    stage._predict_once_per_file(ctx, [cnn], needs, None, "data1")
    assert len(runs) == 7
