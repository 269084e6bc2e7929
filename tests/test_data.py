import gzip

import numpy as np
import pandas as pd
import pytest

from pipeline.core.context import RunContext
from pipeline.data import reader_refit, reader_wide
from pipeline.data.series import segments_for
from pipeline.data.stage import DataOptions, load_split, run_data
from pipeline.data.synth import generate_house, houses_and_channels
from pipeline.data.windows import SplitData, Windows, valid_starts
from pipeline.errors import DataError
from pipeline.settings.constants import REFIT_HOUSES
from pipeline.settings.presets import profile_config
from store import db
from store.vocab import Appliance, Arch, Split, canonical_appliance

from .conftest import SHARED_DATA


def refit_frame(n=2000, start=1_400_000_000, period=8, seed=0):
    rng = np.random.default_rng(seed)
    unix = start + np.arange(n) * period
    cols = {f"Appliance{i}": rng.integers(0, 50, n) for i in range(1, 10)}
    cols["Appliance8"] = np.where((np.arange(n) % 400) < 30, 2500, 0)  # kettle-like
    agg = sum(cols.values()) + 100
    return pd.DataFrame(
        {
            "Time": pd.to_datetime(unix, unit="s").strftime("%Y-%m-%d %H:%M:%S"),
            "Unix": unix,
            "Aggregate": agg,
            **cols,
            "Issues": 0,
        }
    )


def test_refit_reader_drops_issue_rows_and_chunking_changes_nothing(tmp_path, monkeypatch):
    df = refit_frame()
    df.loc[[10, 11, 500], "Issues"] = 1
    path = tmp_path / "CLEAN_House2.csv"
    df.to_csv(path, index=False)
    whole = reader_refit.read_refit_house(path, {Appliance.KETTLE: 8})
    monkeypatch.setattr(reader_refit, "CHUNK_ROWS", 137)
    chunked = reader_refit.read_refit_house(path, {Appliance.KETTLE: 8})
    assert whole.cleaning == {"issues_flag_rows_dropped": 3}
    assert len(whole.unix) == len(df) - 3
    assert np.array_equal(whole.unix, chunked.unix)
    assert np.array_equal(whole.appliances[Appliance.KETTLE], chunked.appliances[Appliance.KETTLE])


def test_gaps_split_segments_and_windows_never_cross_them():
    unix = np.r_[np.arange(1000) * 8, 20_000 + np.arange(1000) * 8]
    seg = segments_for(unix, 8)
    assert seg[999] == 0 and seg[1000] == 1
    starts = valid_starts(seg, 599)
    assert len(starts) == 2 * (1000 - 599 + 1)
    assert not np.any((starts < 1000) & (starts + 598 >= 1000))


def test_windows_equal_a_naive_reference():
    rng = np.random.default_rng(1)
    n = 1500
    split = SplitData(
        np.arange(n) * 8,
        rng.uniform(0, 3000, n).astype(np.float32),
        rng.uniform(0, 3000, n).astype(np.float32),
        (rng.random(n) > 0.5).astype(np.int8),
        np.zeros(n, np.int32),
        np.full(n, "1", object),
    )
    w = Windows(split, 522, 814, 3100)
    starts = np.array([0, 17, 900])
    naive = np.stack([(split.aggregate_w[s : s + 599] - 522) / 814 for s in starts])
    assert np.allclose(w.inputs(starts), naive)
    y, s = w.targets(starts)
    assert np.allclose(y, np.clip(split.appliance_w[starts + 299], 0, 3100) / 3100)
    assert np.array_equal(s, split.status[starts + 299])


def test_calibration_windows_are_balanced():
    n = 5000
    status = np.zeros(n, np.int8)
    status[1000:1400] = 1
    split = SplitData(
        np.arange(n) * 8,
        np.zeros(n, np.float32),
        np.zeros(n, np.float32),
        status,
        np.zeros(n, np.int32),
        np.full(n, "1", object),
    )
    w = Windows(split, 522, 814, 3100)
    picked, info = w.balanced(100, np.random.default_rng(0))
    mid_on = status[picked + 299]
    assert info == {"on": 50, "off": 50, "requested": 100}
    assert mid_on.sum() == 50 and len(picked) == 100


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda df: df.drop(columns=["Aggregate"]), "missing column"),
        (
            lambda df: df.assign(
                Aggregate=df["Aggregate"].astype(object).where(df.index != 5, "abc")
            ),
            "line 7, column 'Aggregate'",
        ),
        (
            lambda df: df.assign(Aggregate=df["Aggregate"].where(df.index != 3, 900000)),
            "not a plausible",
        ),
        (lambda df: df.assign(Unix=df["Unix"].where(df.index != 50, 10)), "goes backwards"),
        (lambda df: df.iloc[0:0], "no data rows"),
    ],
)
def test_refit_bad_input_names_the_file_and_the_problem(tmp_path, mutate, message):
    path = tmp_path / "CLEAN_House2.csv"
    mutate(refit_frame(200)).to_csv(path, index=False)
    with pytest.raises(DataError, match=message) as exc:
        reader_refit.read_refit_house(path, {Appliance.KETTLE: 8})
    assert str(path) in str(exc.value)


def test_refit_cleaning_steps_are_recorded(tmp_path):
    df = refit_frame(300)
    df.loc[7, "Appliance8"] = -5  # small negative reading
    df = pd.concat([df.iloc[:20], df.iloc[19:20], df.iloc[20:]])  # duplicated timestamp
    path = tmp_path / "CLEAN_House2.csv"
    df.to_csv(path, index=False)
    house = reader_refit.read_refit_house(path, {Appliance.KETTLE: 8})
    assert house.cleaning["negative_Appliance8_set_to_0"] == 1
    assert house.negatives == {(str(path), "Appliance8"): [1, -5.0]}  # for the warning line
    assert house.cleaning["duplicate_timestamps_dropped"] == 1
    assert (house.appliances[Appliance.KETTLE] >= 0).all()


def test_empty_file_is_a_clear_error(tmp_path):
    path = tmp_path / "CLEAN_House2.csv"
    path.write_text("")
    with pytest.raises(DataError, match="empty file"):
        reader_refit.read_refit_house(path, {Appliance.KETTLE: 8})


def test_appliance_names_match_the_vocabulary():
    assert canonical_appliance("WashingMachine") is Appliance.WASHING_MACHINE
    assert canonical_appliance("Washing Machine") is Appliance.WASHING_MACHINE
    assert canonical_appliance("Fridge-Freezer") is Appliance.FRIDGE
    assert canonical_appliance("dish_washer") is Appliance.DISHWASHER
    assert canonical_appliance("Shower") is None


def test_generic_reader_masks_zero_filled_gaps_and_detects_period(tmp_path):
    n = 3000
    t = pd.date_range("2020-01-01", periods=n, freq="30s")
    agg = np.full(n, 300.0)
    agg[1000:1200] = 0  # a zero-filled gap, as in the resampled UK-DALE files
    df = pd.DataFrame({"Time": t, "Aggregate": agg, "Kettle": 0.0, "WashingMachine": 10.0})
    path = tmp_path / "House7_2020.csv.gz"
    with gzip.open(path, "wt") as fh:
        df.to_csv(fh, index=False)
    house, period = reader_wide.read_wide_files([path], "7")
    assert period == 30
    assert house.cleaning["zero_aggregate_rows_masked_as_gaps"] == 200
    assert set(house.appliances) == {Appliance.KETTLE, Appliance.WASHING_MACHINE}
    assert segments_for(house.unix, period).max() == 1


def test_generic_reader_rejects_files_without_recognisable_columns(tmp_path):
    path = tmp_path / "House1.csv"
    pd.DataFrame({"when": [1, 2], "total_kw": [1, 2]}).to_csv(path, index=False)
    with pytest.raises(DataError, match="expected a time column"):
        reader_wide.read_wide_files([path], "1")


@pytest.mark.skipif(
    not (SHARED_DATA / "ukdale-house2-30s").exists(), reason="shared sample data absent"
)
def test_real_ukdale_day_through_the_csv_source(tmp_path):
    ctx = RunContext(
        store=tmp_path / "s.duckdb",
        cfg=profile_config("smoke"),
        appliances=list(Appliance),
        archs=list(Arch),
        command="data",
    )
    src = SHARED_DATA / "ukdale-house2-30s" / "UKDALE_House2_2013-06.csv.gz"
    rows = run_data(ctx, DataOptions(source="csv", path=src))
    got = {(r["appliance"], r["split"]) for r in rows}
    assert ("kettle", "test") in got and ("washing_machine", "train") in got
    assert all(r["sample_period_s"] == 30 for r in rows)
    assert "fridge" not in {r["appliance"] for r in rows}  # the sample has no fridge column


def test_synthetic_houses_follow_the_article_map_and_look_real():
    hc = houses_and_channels()
    assert set(hc) == {h for s in REFIT_HOUSES.values() for h in s.channels}
    df = generate_house(2, hc[2], days=2, seed=3)
    kettle = df[f"Appliance{REFIT_HOUSES[Appliance.KETTLE].channels[2]}"].to_numpy()
    fridge = df[f"Appliance{REFIT_HOUSES[Appliance.FRIDGE].channels[2]}"].to_numpy()
    on = kettle[kettle > 100]
    assert 2000 < np.median(on) < 3100
    assert 0.25 < (fridge > 50).mean() < 0.6  # compressor duty of a third to a half
    assert np.median(fridge[fridge > 50]) < 160 and fridge.max() > 200  # start spikes
    assert (df["Aggregate"] >= df[[f"Appliance{i}" for i in range(1, 10)]].sum(axis=1)).all()
    assert np.diff(df["Unix"]).max() > 600  # occasional gaps
    assert df.equals(generate_house(2, hc[2], days=2, seed=3))  # deterministic


def test_data_stage_records_splits_and_never_uses_test_houses_for_training(tmp_path):
    store = tmp_path / "s.duckdb"
    ctx = RunContext(
        store=store,
        cfg=profile_config("smoke"),
        appliances=[Appliance.KETTLE, Appliance.FRIDGE],
        archs=list(Arch),
        command="data",
    )
    run_data(ctx, DataOptions())
    df = db.query_df(store, "SELECT * FROM datasets ORDER BY dataset_id")
    assert len(df) == 6
    kettle = df.set_index("dataset_id")
    assert kettle.loc["kettle.test", "houses"] == "2" and kettle.loc["kettle.val", "houses"] == "5"
    assert "2" not in kettle.loc["kettle.train", "houses"].split(",")
    assert (df["agg_mean"] == 522).all() and (df["agg_std"] == 814).all()
    # unchanged inputs: the second run does no work
    ctx2 = RunContext(
        store=store,
        cfg=profile_config("smoke"),
        appliances=[Appliance.KETTLE],
        archs=list(Arch),
        command="data",
    )
    assert run_data(ctx2, DataOptions()) == []


def test_day_plot_is_written(tmp_path):
    from pipeline.data.plots import plot_day

    store = tmp_path / "s.duckdb"
    ctx = RunContext(
        store=store,
        cfg=profile_config("smoke"),
        appliances=[Appliance.FRIDGE],
        archs=list(Arch),
        command="data",
    )
    run_data(ctx, DataOptions())
    out = plot_day(ctx, tmp_path / "day.html")
    html = out.read_text()
    # the figure's own data, not the embedded plotly.js: one day of the fridge's test house
    import json
    import re

    from pipeline.data.stage import load_split
    from store.vocab import Split

    spec = json.loads(
        re.search(r"Plotly\.newPlot\(\s*\"[^\"]+\",\s*(\[.*?\]),\s*\{", html, re.S)[1]
    )
    names = [t["name"] for t in spec]
    split, row = load_split(ctx, Appliance.FRIDGE, Split.TEST)
    assert names[:2] == [f"aggregate (house {row['houses']})", "fridge"]
    one_day = int(np.sum(split.unix < split.unix[0] + 86400))
    # every sample of the house's first day is plotted, from its first timestamp on
    assert len(spec[0]["x"]) == one_day > 0
    assert spec[0]["x"][0].startswith(str(split.unix[0].astype("datetime64[s]")))


def test_several_test_houses_can_be_named():
    from pipeline.data.reader_wide import _split_houses
    from store.vocab import Split

    plan = _split_houses(["1", "2", "3", "4", "5"], "3, 5", None)
    assert plan[Split.TEST] == ["3", "5"] and plan[Split.VAL] == ["4"]
    assert plan[Split.TRAIN] == ["1", "2"]
    with pytest.raises(DataError, match="house 9 is not in the data"):
        _split_houses(["1", "2", "3"], "2,9", None)
    with pytest.raises(DataError, match="no house left for validation"):
        _split_houses(["1", "2"], "1,2", None)


def test_negative_appliance_power_is_warned_about_and_counted(tmp_path):
    """−50 W is set to 0 as before, and now said: one line naming the file, the column and how
    many samples, and the count in datasets.cleaning."""
    import io
    import json

    from rich.console import Console

    n = 6000
    kettle = np.where((np.arange(n) % 500) < 20, 2000.0, 0.0)
    kettle[[100, 101, 102, 3000, 5900]] = -50.0
    df = pd.DataFrame(
        {
            "time": pd.date_range("2020-01-01", periods=n, freq="8s").strftime("%Y-%m-%d %H:%M:%S"),
            "aggregate": 300.0 + kettle.clip(0),
            "Kettle": kettle,
        }
    )
    path = tmp_path / "House1.csv"
    df.to_csv(path, index=False)
    out = io.StringIO()
    ctx = RunContext(
        store=tmp_path / "s.duckdb",
        cfg=profile_config("smoke"),
        appliances=[Appliance.KETTLE],
        archs=list(Arch),
        command="data",
        console=Console(file=out, width=100),
    )
    run_data(ctx, DataOptions(source="csv", path=path))
    warnings = [line for line in out.getvalue().splitlines() if "warning" in line]
    assert len(warnings) == 1, out.getvalue()
    assert str(path) in warnings[0] and "'Kettle'" in warnings[0]
    assert "5 negative sample(s)" in warnings[0] and "-50 W" in warnings[0]
    rows = db.query_df(ctx.store, "SELECT split, cleaning FROM datasets ORDER BY split")
    counted = [json.loads(c)["1"].get("negative_Kettle_set_to_0", 0) for c in rows["cleaning"]]
    assert set(counted) == {5}  # the house's count, recorded with each of its splits
    for sp in Split:  # handled as before: set to 0
        assert (load_split(ctx, Appliance.KETTLE, sp)[0].appliance_w >= 0).all()
