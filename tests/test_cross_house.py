"""Cross-house protocol on small generated real-data fixtures, and the transfer levers (#25).

The fixtures are two wide CSV houses at 30 s written by the test (not ../shared/data): the test
house's aggregate sits on a marker level no training-house reading reaches, so any test-house
sample that got into training, validation, normalisation or calibration would show.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.core.context import RunContext
from pipeline.data.reader_wide import _split_houses
from pipeline.data.stage import DataOptions, load_split, run_data
from pipeline.data.windows import SplitData, Windows
from pipeline.settings.constants import AGG_MEAN_W, AGG_STD_W, APPLIANCES, MIDPOINT
from pipeline.settings.presets import profile_config
from store import db
from store.vocab import Appliance, Arch, Split

PERIOD = 30
MARKER_W = 9000.0  # the test house's aggregate is at least this; the training house's never


def _house_frame(n: int, start: int, base: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    kettle = np.where(t % 180 < 6, 2900.0, 0.0)  # a 3-minute kettle every 1.5 h
    washer = np.where((t % 900) < 120, 400.0, 0.0)
    agg = base + rng.uniform(50, 150, n) + kettle + washer
    return pd.DataFrame(
        {
            "Time": pd.to_datetime(start + t * PERIOD, unit="s").strftime("%Y-%m-%d %H:%M:%S"),
            "Aggregate": agg.round(1),
            "Kettle": kettle,
            "WashingMachine": washer,
        }
    )


def _write_houses(folder, test_base: float = MARKER_W):
    folder.mkdir(parents=True, exist_ok=True)
    _house_frame(6000, 1_370_000_000, 100.0, 1).to_csv(folder / "UKDALE_House2.csv", index=False)
    _house_frame(3000, 1_400_000_000, test_base, 2).to_csv(
        folder / "REFIT_House20.csv.gz", index=False
    )


def _ctx(store, appliances=(Appliance.KETTLE,)):
    return RunContext(
        store=store,
        cfg=profile_config("smoke"),
        appliances=list(appliances),
        archs=list(Arch),
        command="data",
    )


def test_two_houses_are_cross_house_by_default():
    plan = _split_houses(["2", "20"], None, None)
    assert plan == {Split.TRAIN: ["2"], Split.VAL: ["2"], Split.TEST: ["20"]}
    plan = _split_houses(["2", "20"], "2", None)  # the reverse direction
    assert plan == {Split.TRAIN: ["20"], Split.VAL: ["20"], Split.TEST: ["2"]}
    assert _split_houses(["2"], None, None) is None  # one house: split by time
    three = _split_houses(["1", "2", "3"], None, None)
    assert three[Split.VAL] == ["2"] and three[Split.TEST] == ["3"]


def test_test_house_never_reaches_training_normalisation_or_calibration(tmp_path):
    from pipeline.convert.variants import calibration_sets

    data = tmp_path / "houses"
    _write_houses(data)
    store = tmp_path / "s.duckdb"
    ctx = _ctx(store)
    run_data(ctx, DataOptions(source="csv", path=data))
    rows = db.query_df(store, "SELECT * FROM datasets").set_index("split")
    assert rows.loc["test", "houses"] == "20"
    assert rows.loc["train", "houses"] == "2" and rows.loc["val", "houses"] == "2"
    # normalisation statistics are the article's constants, never computed from a house
    assert (rows["agg_mean"] == AGG_MEAN_W).all() and (rows["agg_std"] == AGG_STD_W).all()
    train, _ = load_split(ctx, Appliance.KETTLE, Split.TRAIN)
    val, _ = load_split(ctx, Appliance.KETTLE, Split.VAL)
    test, _ = load_split(ctx, Appliance.KETTLE, Split.TEST)
    for split in (train, val):
        assert set(split.house) == {"2"} and split.aggregate_w.max() < MARKER_W
    assert test.aggregate_w.min() >= MARKER_W
    assert train.unix.max() < val.unix.min()  # validation is the training house's later part
    assert not set(train.segment) & set(val.segment)  # no window spans the cut

    # calibration and debug windows: from the training split, none at the marker level
    marker = (MARKER_W - AGG_MEAN_W) / AGG_STD_W
    cal, dbg, info, _ = calibration_sets(ctx, Appliance.KETTLE)
    assert info["houses"] == "2" and cal.max() < marker and dbg.max() < marker

    # what training feeds the model, with every augmentation on: still only the training house
    w = Windows(train, AGG_MEAN_W, AGG_STD_W, APPLIANCES[Appliance.KETTLE].max_power_w)
    ds = w.tf_dataset(
        w.starts,
        64,
        seed=3,
        on_fraction=0.5,
        train=True,
        augment_fraction=1.0,
        distract_fraction=1.0,
    )
    for x, _ in ds.take(20):
        assert float(np.max(x)) < marker

    # a different test house changes nothing that training or calibration reads
    shas = dict(zip(rows.index, rows["sha256"], strict=True))
    _write_houses(data, test_base=MARKER_W * 2)
    run_data(ctx, DataOptions(source="csv", path=data))
    again = db.query_df(store, "SELECT split, sha256 FROM datasets").set_index("split")["sha256"]
    assert again["train"] == shas["train"] and again["val"] == shas["val"]
    assert again["test"] != shas["test"]
    cal2, *_ = calibration_sets(ctx, Appliance.KETTLE)
    assert np.array_equal(cal, cal2)


def _split(n=3000):
    t = np.arange(n)
    app = np.where(t % 700 < 6, 3000.0, 0.0).astype(np.float32)
    agg = (200 + (t % 13) * 5 + app).astype(np.float32)
    return SplitData(
        t * PERIOD,
        agg,
        app,
        (app > 2000).astype(np.int8),
        np.zeros(n, np.int32),
        np.full(n, "1", object),
    )


def test_augmentation_places_the_activation_on_another_stretch():
    w = Windows(_split(), AGG_MEAN_W, AGG_STD_W, 3100)
    on = w.starts[w.status[w.starts + MIDPOINT] > 0.5][:3]
    off = w.starts[w.status[w.starts + MIDPOINT] < 0.5][-3:]
    moved = w.augmented(on, off)
    cols = on[:, None] + np.arange(599)[None, :]
    assert np.allclose(moved, w.inputs(off) + w.split.appliance_w[cols] / AGG_STD_W)


def test_distractors_are_weaker_than_the_appliance_and_stay_off():
    w = Windows(_split(), AGG_MEAN_W, AGG_STD_W, 3100)
    low, high = w.distractor_range()
    assert np.isclose(high * AGG_STD_W, 0.9 * 3000) and np.isclose(low * AGG_STD_W, 0.3 * 3000)
    off = w.starts[w.status[w.starts + MIDPOINT] < 0.5]
    # off windows whose whole span is idle: any rise in the stream is a distractor
    idle = off[[not w.status[s : s + 599].any() for s in off]]
    ds = w.tf_dataset(idle, 32, seed=5, train=True, distract_fraction=1.0)
    x, y = next(iter(ds))
    x, y = np.asarray(x), np.asarray(y)
    assert (y[:, 1] == 0).all()  # still 'off'
    rise = x[:, MIDPOINT] - np.min(x, axis=1)
    assert (rise > low * 0.9).all() and (rise < high + 70 / AGG_STD_W).all()
    plain = w.tf_dataset(idle, 32, seed=5, train=True)
    xp = np.asarray(next(iter(plain))[0])
    assert (xp[:, MIDPOINT] - xp.min(axis=1) < 70 / AGG_STD_W).all()


def test_off_weight_punishes_power_claimed_while_off_only():
    from pipeline.train.loss import make_loss

    y_true = np.array([[0.0, 0.0], [0.9, 1.0]], np.float32)  # off, on
    y_pred = np.array([[0.2], [0.9]], np.float32)
    plain = np.asarray(make_loss(0.5, 1.0)(y_true, y_pred))
    same = np.asarray(make_loss(0.5, 1.0, off_weight=0.0)(y_true, y_pred))
    heavy = np.asarray(make_loss(0.5, 1.0, off_weight=3.0)(y_true, y_pred))
    assert np.allclose(plain, same)
    assert np.isclose(heavy[0] - plain[0], 3.0 * 0.2, atol=1e-5)
    assert np.isclose(heavy[1], plain[1])


def test_transfer_settings_are_checked_and_enter_the_training_key(tmp_path):
    from pipeline.errors import ConfigError
    from pipeline.settings.overrides import apply_overrides
    from pipeline.train.stage import train_key

    base = profile_config("demo")
    assert (base.off_weight, base.augment_fraction, base.distract_fraction) == (0.0, 0.0, 0.0)
    assert base.eval_postprocess == "none"
    cfg = apply_overrides(
        base,
        {
            "train.off_weight": 1,
            "train.distract_fraction": 0.5,
            "train.augment_fraction": 0.25,
            "evaluate.postprocess": "threshold",
        },
    )
    assert cfg.off_weight == 1.0 and cfg.distract_fraction == 0.5
    for bad in (
        {"train.distract_fraction": 1.5},
        {"train.augment_fraction": -0.1},
        {"evaluate.postprocess": "median"},
    ):
        with pytest.raises(ConfigError):
            apply_overrides(base, bad)

    rows = ({"sha256": "a"}, {"sha256": "b"})

    def key(c):
        return train_key(
            RunContext(store=tmp_path / "x", cfg=c, appliances=[], archs=[]),
            Arch.CNN,
            *rows,
            "kettle",
        )

    keys = {
        key(base),
        key(apply_overrides(base, {"train.off_weight": 1})),
        key(apply_overrides(base, {"train.distract_fraction": 0.5})),
        key(apply_overrides(base, {"train.augment_fraction": 0.5})),
    }
    assert len(keys) == 4
    # levers at 0 leave the key (and so every cached model) as before they existed
    assert key(apply_overrides(base, {"train.off_weight": 0})) == key(base)


def test_postprocess_setting_is_the_article_postprocess_option(tmp_path):
    from pipeline.cli.common import stage_context
    from pipeline.settings.overrides import apply_overrides

    cfg = apply_overrides(profile_config("demo"), {"evaluate.postprocess": "threshold"})
    ctx = stage_context(tmp_path / "s.duckdb", cfg, None, None, False, "evaluate")
    assert ctx.options.article_postprocess
    plain = stage_context(tmp_path / "s.duckdb", profile_config("demo"), None, None, False, "x")
    assert not plain.options.article_postprocess


def test_power_verdict_flags_models_worse_than_a_baseline_whatever_their_f1():
    from pipeline.evaluate.verdict import power_flags, verdict_lines

    def row(app, vid, kind, f1, mae, epd):
        arch, mode = vid.split(".")[1], vid.split(".")[2]
        return dict(
            appliance=app,
            arch=arch,
            mode=mode,
            kind=kind,
            variant_id=vid,
            f1=f1,
            mae=mae,
            epd_error_pct=epd,
        )

    m = pd.DataFrame(
        [
            row("kettle", "kettle.baseline.always_off", "baseline", 0.0, 11.4, -100.0),
            row("kettle", "kettle.baseline.mean_power", "baseline", 0.0, 37.0, 128.0),
            row("kettle", "kettle.cnn.keras", "model", 0.9, 78.3, 688.0),  # high F1, bad power
            row("kettle", "kettle.transformer.keras", "model", 0.5, 9.0, -20.0),  # good
            row("microwave", "microwave.baseline.always_off", "baseline", 0.0, 2.7, -100.0),
            row("microwave", "microwave.baseline.mean_power", "baseline", 0.0, 9.0, 10.0),
            row("microwave", "microwave.cnn.keras", "model", 0.3, 2.0, -40.0),  # energy worse
        ]
    )
    flags = {f["variant_id"]: f["worse"] for f in power_flags(m)}
    assert set(flags) == {"kettle.cnn.keras", "microwave.cnn.keras"}
    assert "MAE 78.3 W worse than kettle.baseline.always_off (11.4 W)" in flags["kettle.cnn.keras"]
    assert "energy" in flags["microwave.cnn.keras"] and "MAE" not in flags["microwave.cnn.keras"]
    lines = verdict_lines(m)
    assert len(lines) == 2 and all("WORSE THAN A BASELINE" in x for x in lines)
    good = m[m["variant_id"] != "kettle.cnn.keras"]
    good = good[good["appliance"] == "kettle"]
    assert "every float model beats" in verdict_lines(good)[0]


def _house(unix, agg, apps=None):
    from pipeline.data.readers import HouseData

    apps = apps or {Appliance.WASHING_MACHINE: np.asarray(agg, np.float32) / 2}
    return HouseData("7", [], np.asarray(unix, np.int64), np.asarray(agg, np.float32), apps)


def test_resampling_to_a_coarser_period_averages_and_drops_sparse_periods():
    from pipeline.data.resample import resample_house

    unix = np.array([0, 30, 60, 90, 120, 300, 330])  # 120 s alone in its minute; 150-270 missing
    agg = np.array([100, 300, 50, 50, 80, 10, 30], np.float32)
    h = resample_house(_house(unix, agg), 30, 60)
    assert h.unix.tolist() == [0, 60, 120, 300]  # a minute with 1 of 2 readings is kept
    assert h.aggregate.tolist() == [200, 50, 80, 20]
    assert h.appliances[Appliance.WASHING_MACHINE].tolist() == [100, 25, 40, 10]
    h = resample_house(_house(unix, agg), 30, 120)  # 4 readings a period; 2 needed
    assert h.unix.tolist() == [0, 240] and h.cleaning["resample_sparse_periods_dropped"] == 1


def test_resampling_to_a_finer_period_holds_each_reading_and_keeps_the_energy():
    from pipeline.data.resample import resample_house
    from pipeline.errors import DataError

    unix = np.array([0, 60, 120, 150, 600])  # 150 follows 120 after half a period; 600 after a gap
    agg = np.array([100, 200, 300, 400, 500], np.float32)
    h = resample_house(_house(unix, agg), 60, 30)
    assert h.unix.tolist() == [0, 30, 60, 90, 120, 150, 180, 600, 630]
    assert h.aggregate.tolist() == [100, 100, 200, 200, 300, 400, 400, 500, 500]
    assert (np.diff(h.unix) > 0).all()
    assert h.cleaning["resample_held_copies_added"] == 4
    regular = resample_house(_house(np.arange(10) * 60, np.arange(10) * 10.0), 60, 30)
    assert regular.aggregate.sum() * 30 == pytest.approx((np.arange(10) * 10.0).sum() * 60)
    with pytest.raises(DataError, match=r"house 7: sampled every 60 s; --resample 25 .*20, 30"):
        resample_house(_house(unix, agg), 60, 25)
    with pytest.raises(DataError, match="whole number of seconds"):
        resample_house(_house(unix, agg), 60, 7.5)


def test_houses_at_different_rates_train_together_after_resampling(tmp_path):
    """Two 30 s houses with a kettle and a washer, a 1-minute house with a washer only (as
    IDEAL): with --resample 30 the washer trains on house 2, validates on house 7 and tests on
    house 20; the kettle, which house 7 lacks, trains and validates on house 2 alone."""
    from pipeline.errors import DataError

    data = tmp_path / "houses"
    _write_houses(data)
    minute = _house_frame(2000, 1_380_000_000, 150.0, 3).iloc[::2].drop(columns="Kettle")
    minute.to_csv(data / "IDEAL_House7.csv", index=False)
    store = tmp_path / "s.duckdb"
    ctx = _ctx(store, (Appliance.KETTLE, Appliance.WASHING_MACHINE))
    with pytest.raises(DataError, match="different sampling periods .* --resample"):
        run_data(ctx, DataOptions(source="csv", path=data))
    run_data(ctx, DataOptions(source="csv", path=data, resample_s=30))
    rows = db.query_df(store, "SELECT appliance, split, houses, sample_period_s FROM datasets")
    got = {(r.appliance, r.split): r.houses for r in rows.itertuples()}
    assert got[("washing_machine", "train")] == "2" and got[("washing_machine", "val")] == "7"
    assert got[("washing_machine", "test")] == "20" and got[("kettle", "test")] == "20"
    assert got[("kettle", "train")] == "2" and got[("kettle", "val")] == "2"
    assert (rows["sample_period_s"] == 30).all()
    val, _ = load_split(ctx, Appliance.WASHING_MACHINE, Split.VAL)
    assert set(val.house) == {"7"} and (np.diff(val.unix) == 30).mean() > 0.99
    with pytest.raises(DataError, match="validation split of kettle has no house with that"):
        run_data(ctx, DataOptions(source="csv", path=data, resample_s=30, val_house="7"))


def test_val_house_train_validates_every_training_house_on_its_own_last_part(tmp_path):
    plan = _split_houses(["2", "7", "20"], "20", "train")
    assert plan == {Split.TRAIN: ["2", "7"], Split.VAL: ["2", "7"], Split.TEST: ["20"]}
    data = tmp_path / "houses"
    _write_houses(data)
    _house_frame(4000, 1_380_000_000, 150.0, 3).to_csv(data / "IDEAL_House7.csv", index=False)
    ctx = _ctx(tmp_path / "s.duckdb", (Appliance.WASHING_MACHINE,))
    run_data(ctx, DataOptions(source="csv", path=data, test_house="20", val_house="train"))
    train, _ = load_split(ctx, Appliance.WASHING_MACHINE, Split.TRAIN)
    val, _ = load_split(ctx, Appliance.WASHING_MACHINE, Split.VAL)
    test, _ = load_split(ctx, Appliance.WASHING_MACHINE, Split.TEST)
    assert set(test.house) == {"20"} and set(train.house) == set(val.house) == {"2", "7"}
    for h, n in (("2", 6000), ("7", 4000)):  # each house: its first 85 % trains, the rest validates
        t, v = train.unix[train.house == h], val.unix[val.house == h]
        assert len(t) == int(n * 0.85) and len(v) == n - len(t) and t.max() < v.min()
    assert not set(train.segment) & set(val.segment)


def test_an_appliance_trains_with_its_own_settings_and_only_it_retrains(tmp_path):
    """`--set appliance.kettle.train.off_weight=2` trains the kettle with it and the microwave
    with the run's value; changing the microwave's own value later retrains the microwave only."""
    import json

    from store import db

    from .conftest import run_cli

    store = tmp_path / "s.duckdb"
    common = ["--profile", "smoke", "-a", "kettle", "-a", "microwave", "--store", store]
    run_cli("data", *common)
    train = [*common, "--arch", "cnn", "--set", "train.epochs.cnn=1"]
    run_cli("train", *train, "--set", "appliance.kettle.train.off_weight=2")

    def off_weights():
        rows = db.query_df(store, "SELECT appliance, train_config FROM models").itertuples()
        return {r.appliance: json.loads(r.train_config)["off_weight"] for r in rows}

    assert off_weights() == {"kettle": 2.0, "microwave": 0.0}
    res = run_cli(
        "train",
        *train,
        "--set",
        "appliance.kettle.train.off_weight=2",
        "--set",
        "appliance.microwave.train.off_weight=3",
    )
    assert off_weights() == {"kettle": 2.0, "microwave": 3.0}
    out = res.stdout + res.stderr
    assert "microwave.cnn saved" in out and "kettle.cnn saved" not in out
