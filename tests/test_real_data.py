"""Real measured data end to end (optional: runs only where ../shared/data is present).

A short training budget on 120 days of UK-DALE house 2 at 30 s; the CNN must beat the
always-off and aggregate-threshold baselines for the kettle on the same evaluation windows.
"""

import pytest

from store import db

from .conftest import SHARED_DATA, run_cli

UKDALE = SHARED_DATA / "ukdale-house2-30s"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not UKDALE.exists(), reason="shared sample data absent"),
]


def test_kettle_cnn_beats_the_baselines_on_a_real_house(tmp_path):
    store = tmp_path / "real.duckdb"
    # a step budget (8 epochs of 16 batches), not seconds: under other load a 45-second budget
    # bought the CNN one or two epochs and F1 0.06 (measured beside other runs, load ~16)
    budget = [
        "--set",
        "train.epochs.cnn=8",
        "--set",
        "train.windows.cnn=2048",
        "--set",
        "convert.modes=['keras', 'convert_only']",
        "--set",
        "evaluate.windows=800",
    ]
    common = ["--profile", "demo", "-a", "kettle", "--store", store]
    run_cli("data", "--source", "csv", "--path", UKDALE, *common)
    for stage in ("train", "convert", "evaluate"):
        run_cli(stage, *common, "--arch", "cnn", *budget)
    m = db.query_df(
        store,
        "SELECT variant_id, f1, f1_lo, f1_hi FROM metrics_wide WHERE split = 'test'",
    ).set_index("variant_id")
    cnn = m.loc["kettle.cnn.keras"]
    for baseline in ("always_off", "aggregate_threshold"):
        base = m.loc[f"kettle.baseline.{baseline}"]
        assert cnn["f1_lo"] > base["f1"], (cnn.to_dict(), base.to_dict())
    period = db.query_df(store, "SELECT DISTINCT sample_period_s FROM datasets").iloc[0, 0]
    assert period == 30
