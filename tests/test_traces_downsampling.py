"""The downsampled trace keeps every min/max point at the time it happened (issue 15): a bucket's
minimum is not drawn at the bucket's start nor its maximum at its middle."""

import numpy as np
import pandas as pd
import pytest

from dashboard import queries
from store import db

N = 400_000
PERIOD_S = 8
START = pd.Timestamp("2014-03-01")
# row -> (length in samples, power W): three 4-minute kettle runs and one single-sample spike
SPIKES = {12_345: (30, 2400.0), 200_001: (30, 2600.0), 333_333: (30, 2500.0), 50_017: (1, 3000.0)}


@pytest.fixture(scope="module")
def trace_store(tmp_path_factory):
    store = tmp_path_factory.mktemp("tr") / "nilm.duckdb"
    art = db.artifacts_dir(store)
    (art / "traces").mkdir(parents=True)
    t = START + pd.to_timedelta(np.arange(N) * PERIOD_S, unit="s")
    truth = np.zeros(N, np.float32)
    for row, (length, w) in SPIKES.items():
        truth[row : row + length] = w
    rng = np.random.default_rng(0)
    raw = pd.DataFrame(
        {
            "time": t,
            "aggregate_w": truth + 200 + rng.random(N).astype(np.float32) * 50,
            "truth_w": truth,
            "pred_w": np.roll(truth, 3) * 0.9,
            "truth_on": (truth > 0).astype(np.int8),
            "pred_on": (np.roll(truth, 3) > 0).astype(np.int8),
        }
    )
    raw.to_parquet(art / "traces" / "t.parquet", index=False, row_group_size=50_000)
    return store, raw.set_index("time")


def test_every_downsampled_point_is_a_real_sample_at_its_real_time(trace_store):
    store, raw = trace_store
    df = queries.trace_window(store, {"v": "traces/t.parquet"}, points=1000)
    assert len(df) < N / 50
    for col, source in (("aggregate_w", "aggregate_w"), ("truth_w", "truth_w"), ("v", "pred_w")):
        s = df[["time", col]].dropna()
        assert len(s) > 0
        real = raw.loc[pd.DatetimeIndex(s["time"]), source].to_numpy()
        np.testing.assert_allclose(s[col].to_numpy(), real, rtol=0, atol=1e-3)


def test_known_spikes_keep_their_value_and_time(trace_store):
    store, _ = trace_store
    df = queries.trace_window(store, {"v": "traces/t.parquet"}, points=1000)
    truth = df[["time", "truth_w"]].dropna().set_index("time")["truth_w"]
    for row, (length, w) in SPIKES.items():
        first, last = (
            START + pd.Timedelta(seconds=row * PERIOD_S),
            START + pd.Timedelta(seconds=(row + length - 1) * PERIOD_S),
        )
        at = truth[(truth.index >= first) & (truth.index <= last)]
        assert len(at) >= 1 and (at == w).all(), (row, at)
        # nothing drawn at that power outside the run
        outside = truth[(truth.index < first) | (truth.index > last)]
        assert not (outside == w).any()


def test_zoomed_range_is_exact_and_bounded(trace_store):
    store, raw = trace_store
    start = START + pd.Timedelta(seconds=12_000 * PERIOD_S)
    end = start + pd.Timedelta(hours=2)
    df = queries.trace_window(store, {"v": "traces/t.parquet"}, start=start, end=end, points=5000)
    assert pd.to_datetime(df["time"]).min() >= start and pd.to_datetime(df["time"]).max() <= end
    assert len(df) == len(raw.loc[start:end])  # under the point budget: every sample


def test_daily_energy_is_unmasked_energy_per_calendar_day(trace_store):
    store, raw = trace_store
    df = queries.daily_energy_unmasked(store, {"v": "traces/t.parquet"})
    expected = raw["truth_w"].groupby(raw.index.floor("D")).sum() * PERIOD_S / 3600
    got = df.set_index("day")["truth_wh"]
    np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), rtol=1e-6)
    assert df["coverage"].iloc[0] == pytest.approx(1.0)
    assert df["coverage"].iloc[-1] < 1.0  # the last day is partial and says so


def test_a_variant_on_part_of_the_stretch_is_compared_with_the_truth_of_that_part(trace_store):
    """A sub-sampled variant predicts only the start of the day: its energy error is against
    the truth of the hours it covers, and the window's length and truth come from the longest
    file whatever the order chosen."""
    from dashboard.app import create_app

    store, raw = trace_store
    create_app(store)  # the pages register with an app
    from dashboard.pages.traces import energy_table

    art = db.artifacts_dir(store)
    raw.iloc[:40_000].reset_index().to_parquet(art / "traces" / "short.parquet", index=False)
    df = queries.trace_window(
        store, {"short": "traces/short.parquet", "v": "traces/t.parquet"}, points=1000
    )
    hours = N * PERIOD_S / 3600
    assert df.attrs["hours"] == pytest.approx(hours)
    truth_all = raw["truth_w"].sum() * PERIOD_S / 3600
    truth_part = raw["truth_w"].iloc[:40_000].sum() * PERIOD_S / 3600
    assert df.attrs["energy_wh"]["ground truth"] == pytest.approx(truth_all, rel=1e-4)
    part_truth, part_hours = df.attrs["energy_span"]["short"]
    assert part_truth == pytest.approx(truth_part, rel=1e-4)
    assert part_hours == pytest.approx(40_000 * PERIOD_S / 3600)
    text = str(energy_table(df.attrs["energy_wh"], hours, df.attrs["energy_span"]))
    assert "over the 88.9 h it predicted" in text  # not -89 % against the whole window
    assert "-10.0 %" in text  # both predict 0.9x the truth
