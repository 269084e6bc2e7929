"""The recommendation rule (store/recommend.py): paired non-inferiority within a margin, the
float and baseline checks (F1, MAE, energy), identical files as one entry, cost ties within
measurement noise, budgets and devices; on hand-made stores and frames."""

import duckdb
import pandas as pd
import pytest

from store import recommend as R

from .handmade_store import LOCAL, PI, build


@pytest.fixture(scope="module")
def hand_store(tmp_path_factory):
    return build(tmp_path_factory.mktemp("hand") / "nilm.duckdb")


@pytest.fixture(scope="module")
def old_store(tmp_path_factory):
    """As the previous pipeline wrote it: no intervals, no baselines."""
    return build(tmp_path_factory.mktemp("old") / "nilm.duckdb", intervals=False, baselines=False)


def run(store, host=LOCAL, runtime="litert", threads=1, **rule):
    con = duckdb.connect(str(store), read_only=True)
    try:
        cands, bases = R.load(con, host, runtime, threads)
    finally:
        con.close()
    rule = R.Rule(**rule)
    return R.recommend(cands, bases, rule).set_index("appliance"), R.classify(cands, bases, rule)


def statuses(decided) -> dict:
    return dict(zip(decided["variant_id"], decided["status"], strict=True))


def test_the_store_decision_is_paired_and_within_the_margin(hand_store):
    rec, decided = run(hand_store)
    k, status = rec.loc["kettle"], statuses(decided)
    assert k["best_id"] == "kettle.transformer.convert_only"
    # the float CNN is 0.03 below the best: its paired lower bound (-0.058) is beyond the margin
    # (the old interval-overlap rule called it "as accurate" and picked it)
    assert status["kettle.cnn.convert_only"] in ("below_bar", "runner_up")
    assert k["variant_id"] == "kettle.transformer.convert_only"
    # cannot show a loss under the margin to its float model: out
    assert status["kettle.cnn.w8_a8"] == "worse_than_float"
    assert status["kettle.transformer.w8"] == "worse_than_float"
    assert k["margin"] == pytest.approx(0.02) and "n=5,000" in k["candidates_n"]
    assert k["host"] == LOCAL and k["machine"] == "x86_64"


def test_the_answer_names_the_byte_identical_files_and_the_energy_error(hand_store):
    pi = R.DEVICE_CLASSES["cortex_a"]["budgets"]
    rec, decided = run(hand_store, host=PI, runtime="edge_kit", threads=4, budgets=pi)
    assert statuses(decided)["kettle.cnn.w8_a8_fallback"] == "same_file"
    k = rec.loc["kettle"].to_dict() | {"appliance": "kettle"}
    assert k["identical"] == "kettle.cnn.w8_a8 = kettle.cnn.w8_a8_fallback"
    text = R.answer_text(k)
    assert text.startswith("kettle: ship kettle.cnn.convert_only")
    assert "one entry each: kettle.cnn.w8_a8 = kettle.cnn.w8_a8_fallback" in text
    assert "energy-per-day error +2.5 %" in text and "WORSE" not in text
    assert "measured on pi4 (aarch64)" in text


def test_under_trained_and_not_above_baseline_are_never_recommended(hand_store):
    rec, decided = run(hand_store, cost="ram_mb")
    status = statuses(decided)
    assert status["fridge.transformer.convert_only"] == "under_trained"
    assert status["kettle.transformer.w8_a8"] == "not_above_baseline"
    assert (
        "kettle.baseline.aggregate_threshold"
        in (decided.set_index("variant_id").loc["kettle.transformer.w8_a8", "why"])
    )
    f = rec.loc["fridge"]
    assert f["variant_id"] == "fridge.cnn.w8"
    assert f["baseline_id"] == "fridge.baseline.mean_power"
    assert "under-trained" in f["excluded"]


def test_budgets_change_the_recommendation_and_the_runner_up_says_why(hand_store):
    rec, _ = run(hand_store, budgets={"latency_ms": 10.0})
    # the transformer (20 ms) is over budget: the float CNN is now the best and recommended
    assert rec.loc["kettle", "variant_id"] == "kettle.cnn.convert_only"
    rec, _ = run(hand_store, budgets={"latency_ms": 1.0})
    assert pd.isna(rec.loc["fridge", "variant_id"])
    assert rec.loc["fridge", "why"].startswith("nothing recommended")
    assert "over the 1 ms budget" in rec.loc["fridge", "runner_up_why"]


def test_the_device_changes_the_costs_not_the_accuracy(hand_store):
    rec, _ = run(hand_store, host=PI, runtime="edge_kit", threads=4)
    assert rec.loc["fridge", "variant_id"] == "fridge.cnn.w8"
    assert rec.loc["fridge", "host"] == PI and rec.loc["fridge", "machine"] == "aarch64"


def test_without_intervals_nothing_is_recommended(old_store):
    rec, decided = run(old_store)
    # a store without intervals cannot show non-inferiority: every variant is too uncertain
    assert rec["variant_id"].isna().all()
    # (the kettle CNN's w8_a8_fallback file repeats its w8_a8 file: one entry, same_file)
    assert set(decided["status"]) <= {"too_few_windows", "under_trained", "no_cost", "same_file"}
    assert "no baseline in the store" in rec.loc["kettle", "why"]


def test_rule_text_and_presets_are_readable():
    rule = R.Rule(cost="disk_mb", budgets={"ram_mb": 64.0, "latency_ms": None}, tolerance=0.03)
    text = rule.text()
    assert "lowest-disk" in text and "RAM <= 64 MB" in text and "0.03" in text
    assert R.preset_for_machine("aarch64") == "cortex_a"
    assert R.preset_for_machine("x86_64") == "x86_server"
    assert R.fmt(0.009) == "0.009" and R.fmt(1000.0) == "1,000" and "e" not in R.fmt(1e-5)
    with pytest.raises(ValueError, match="cost must be"):
        R.Rule(cost="f1")


def test_end_of_run_summary_uses_the_same_rule(hand_store):
    from types import SimpleNamespace

    from rich.console import Console

    from pipeline import all_stages
    from store import db

    ctx = SimpleNamespace(read=lambda sql, params=None: db.query_df(hand_store, sql, params))
    console = Console(width=300, record=True)
    console.print(all_stages.summary_table(ctx))
    text = console.export_text()
    rec, _ = run(hand_store, budgets=R.DEVICE_CLASSES["x86_server"]["budgets"])
    for appliance, vid in rec["variant_id"].items():
        assert appliance in text and vid in text
    assert "under-trained" in text  # the rule is printed with the table


# -- the cases the rule has to decide right (pure frames) ---------------------------------------


def cands(*rows) -> pd.DataFrame:
    """Candidates of appliance 'mw' on one device; each row overrides these defaults."""
    base = {
        "appliance": "mw",
        "arch": "cnn",
        "host": "h",
        "machine": "x86_64",
        "runtime": "litert",
        "threads": 1,
        "f1_lo": None,
        "f1_hi": None,
        "latency_ms": 1.0,
        "latency_std_ms": None,
        "latency_runs": None,
        "ram_mb": 30.0,
        "disk_mb": 1.0,
        "under_trained": False,
        "float_compute_ops": 0,
        "sha256": None,
        "mae_w": 10.0,
        "epd_error_pct": 1.0,
        "f1_delta": None,
        "f1_delta_lo": None,
        "n_windows": 10_000,
        "on_windows": 800,
        "level": "full",
    }
    out = []
    for r in rows:
        row = {**base, **r}
        row["mode"] = row.get("mode", row["variant_id"].split(".")[-1])
        out.append(row)
    return pd.DataFrame(out)


def pair(a, b, delta, lo, hi, metric="f1", n=10_000):
    return {"variant_id": a, "other_id": b, "metric": metric, "delta": delta, "ci_low": lo,
            "ci_high": hi, "n_windows": n, "on_windows": 800}  # fmt: skip


BASES = pd.DataFrame(
    [
        {
            "appliance": "mw",
            "baseline_id": "mw.baseline.aggregate_threshold",
            "baseline_f1": 0.2,
            "mae_baseline_id": "mw.baseline.always_off",
            "baseline_mae": 20.0,
            "epd_baseline_id": "mw.baseline.mean_power",
            "baseline_abs_epd": 5.0,
        }
    ]
)


def decide(c, pairs, **rule):
    rule = R.Rule(**rule)
    decided = R.classify(c, BASES, rule, pairs=pd.DataFrame(pairs))
    rec = R.recommend(c, BASES, rule, decided).set_index("appliance").loc["mw"]
    return rec, decided.set_index("variant_id")


def test_a_lucky_variant_without_an_interval_neither_qualifies_nor_sets_the_bar():
    # the README's microwave CNN files, and a transformer 16x8 file on 60 windows (1 'on'
    # window) at F1 0.80 with no interval: under the old rule it was recommended and every CNN
    # was "below the bar"
    c = cands(
        {"variant_id": "mw.cnn.w8_a8", "f1": 0.70, "f1_lo": 0.66, "f1_hi": 0.74},
        {"variant_id": "mw.cnn.convert_only", "f1": 0.71, "f1_lo": 0.67, "f1_hi": 0.75,
         "latency_ms": 2.0},
        {"variant_id": "mw.transformer.w8_a16", "arch": "transformer", "f1": 0.80,
         "latency_ms": 0.5, "n_windows": 60, "on_windows": 1, "level": "min"},
    )  # fmt: skip
    pairs = [pair("mw.cnn.w8_a8", "mw.cnn.convert_only", -0.01, -0.018, -0.002)]
    rec, d = decide(c, pairs, budgets={})
    assert d.loc["mw.transformer.w8_a16", "status"] == "too_few_windows"
    assert "no F1 interval" in d.loc["mw.transformer.w8_a16", "why"]
    assert rec["best_id"] == "mw.cnn.convert_only" and rec["variant_id"] == "mw.cnn.w8_a8"
    assert "n=60 (min, 1 on): mw.transformer.w8_a16" in rec["candidates_n"]
    # an interval from too few 'on' windows does not qualify either
    c.loc[2, ["f1_lo", "f1_hi", "on_windows"]] = [0.5, 0.95, 12]
    _, d = decide(c, pairs, budgets={})
    assert d.loc["mw.transformer.w8_a16", "status"] == "too_few_windows"


def test_a_wider_interval_is_no_advantage():
    # the cheap file's own interval is wide and reaches the best one's (the old overlap test
    # let it in); paired on the same windows it is 0.05 lower, lower bound -0.09: out
    c = cands(
        {"variant_id": "mw.cnn.w8_a16", "f1": 0.89, "f1_lo": 0.87, "f1_hi": 0.91,
         "latency_ms": 5.0},
        {"variant_id": "mw.transformer.w8_a8", "arch": "transformer", "f1": 0.84,
         "f1_lo": 0.70, "f1_hi": 0.95, "latency_ms": 0.2, "n_windows": 400, "level": "core"},
    )  # fmt: skip
    wide = [pair("mw.transformer.w8_a8", "mw.cnn.w8_a16", -0.05, -0.09, -0.01, n=400)]
    rec, d = decide(c, wide, budgets={})
    assert rec["variant_id"] == "mw.cnn.w8_a16"
    assert d.loc["mw.transformer.w8_a8", "status"] in ("below_bar", "runner_up")
    assert "400 shared windows" in d.loc["mw.transformer.w8_a8", "why"]
    # the same point difference, measured precisely and stored the other way round: in
    narrow = [pair("mw.cnn.w8_a16", "mw.transformer.w8_a8", 0.01, 0.004, 0.016, n=400)]
    c.loc[1, "f1"] = 0.88
    rec, _ = decide(c, narrow, budgets={})
    assert rec["variant_id"] == "mw.transformer.w8_a8"


def test_an_undetected_loss_of_0049_to_float_is_caught_by_the_paired_lower_bound():
    c = cands(
        {"variant_id": "mw.cnn.convert_only", "f1": 0.888, "f1_lo": 0.87, "f1_hi": 0.90,
         "latency_ms": 2.0, "f1_delta": 0.0, "f1_delta_lo": -0.005},
        # loses 0.049; its paired interval's upper end (-0.008) is above -0.02, so the old rule
        # ("excluded only when the whole interval lies below -0.02") let it through
        {"variant_id": "mw.cnn.w8_a8", "f1": 0.839, "f1_lo": 0.80, "f1_hi": 0.87,
         "latency_ms": 0.1, "f1_delta": -0.049, "f1_delta_lo": -0.09, "f1_delta_hi": -0.008},
    )  # fmt: skip
    pairs = [pair("mw.cnn.w8_a8", "mw.cnn.convert_only", -0.049, -0.09, -0.008)]
    rec, d = decide(c, pairs, budgets={})
    assert d.loc["mw.cnn.w8_a8", "status"] == "worse_than_float"
    assert "paired lower bound -0.09" in d.loc["mw.cnn.w8_a8", "why"]
    assert rec["variant_id"] == "mw.cnn.convert_only"


def test_f1_alone_does_not_win_power_and_energy_are_in_the_verdict():
    c = cands(
        # best F1 and cheapest, but its MAE is 9x always-off's and its energy is +209 %
        {"variant_id": "mw.cnn.w8_a8", "f1": 0.90, "f1_lo": 0.88, "f1_hi": 0.92,
         "latency_ms": 0.1, "mae_w": 187.0, "epd_error_pct": 209.0},
        {"variant_id": "mw.transformer.w8_a8", "arch": "transformer", "f1": 0.85,
         "f1_lo": 0.82, "f1_hi": 0.88, "latency_ms": 0.5, "mae_w": 15.0,
         "epd_error_pct": -2.0},
    )  # fmt: skip
    pairs = [
        pair("mw.cnn.w8_a8", "mw.baseline.always_off", 167.0, 150.0, 180.0, "mae"),
        pair("mw.cnn.w8_a8", "mw.baseline.mean_power", 204.0, 190.0, 220.0, "abs_epd_error_pct"),
        pair("mw.transformer.w8_a8", "mw.baseline.always_off", -5.0, -7.0, -3.0, "mae"),
    ]
    rec, d = decide(c, pairs, budgets={})
    assert d.loc["mw.cnn.w8_a8", "status"] in ("power_worse", "runner_up")
    why = d.loc["mw.cnn.w8_a8", "why"]
    assert "MAE 187 W worse than mw.baseline.always_off" in why and "energy" in why
    assert rec["variant_id"] == "mw.transformer.w8_a8" and rec["power_flag"] == ""
    # when nothing else qualifies, the summary says so and flags the closest one
    rec, _ = decide(c.iloc[:1], pairs, budgets={})
    assert pd.isna(rec["variant_id"]) and "closest: mw.cnn.w8_a8 (MAE 187 W" in rec["why"]
    assert "worse than mw.baseline.always_off" in rec["power_flag"]


def test_a_microsecond_latency_difference_is_a_tie_settled_by_the_stated_preference():
    common = {"f1": 0.88, "f1_lo": 0.87, "f1_hi": 0.89, "latency_std_ms": 0.02,
              "latency_runs": 2000}  # fmt: skip
    c = cands(
        {"variant_id": "mw.cnn.w8_a8", "latency_ms": 0.1119, **common},
        {"variant_id": "mw.cnn.w8_a8_xnnpack", "latency_ms": 0.1116, **common},
        {"variant_id": "mw.cnn.w8_a8_fallback", "latency_ms": 0.1121, "float_compute_ops": 2,
         **common},
        {"variant_id": "mw.cnn.w8", "latency_ms": 0.30, **common},
    )  # fmt: skip
    ids = list(c["variant_id"])
    pairs = [pair(a, b, 0.0, -0.005, 0.005) for a in ids for b in ids if a < b]
    rec, d = decide(c, pairs, budgets={})
    # 0.0003 ms apart, inside the noise of the difference: one group, the standard mode named
    assert rec["variant_id"] == "mw.cnn.w8_a8"
    assert rec["group"] == "mw.cnn.w8_a8, mw.cnn.w8_a8_fallback, mw.cnn.w8_a8_xnnpack"
    assert d.loc["mw.cnn.w8_a8_xnnpack", "status"] == "tie"
    assert "equal within measurement noise" in rec["why"]
    # 0.30 ms is beyond noise: not in the group, the runner-up, and it says why
    assert rec["runner_up_id"] == "mw.cnn.w8" and "beyond measurement noise" in rec["runner_up_why"]


def test_byte_identical_files_are_one_entry():
    common = {"f1": 0.88, "f1_lo": 0.87, "f1_hi": 0.89, "sha256": "ab" * 32}
    c = cands(
        {"variant_id": "mw.cnn.w8_a8_fallback", "latency_ms": 0.1, **common},
        {"variant_id": "mw.cnn.w8_a8", "latency_ms": 0.2, **common},
    )
    rec, d = decide(c, [], budgets={})
    assert d.loc["mw.cnn.w8_a8_fallback", "status"] == "same_file"
    assert rec["variant_id"] == "mw.cnn.w8_a8"
    assert rec["same_as"] == "mw.cnn.w8_a8 = mw.cnn.w8_a8_fallback"


def test_the_margin_is_a_setting():
    from pipeline.errors import ConfigError
    from pipeline.settings.overrides import apply_overrides
    from pipeline.settings.presets import profile_config

    cfg = profile_config("smoke")
    assert cfg.recommend_margin == R.DEFAULT_TOLERANCE
    assert apply_overrides(cfg, {"recommend.margin": 0.05}).recommend_margin == 0.05
    with pytest.raises(ConfigError, match="recommend.margin"):
        apply_overrides(cfg, {"recommend.margin": 2})


def test_beats_the_baseline_has_one_definition_paired_first():
    from store.recommend_pairs import Pairs
    from store.recommend_rule import beats_baseline

    pair = {"variant_id": "k.cnn.keras", "other_id": "k.baseline.mean_power", "metric": "f1"}
    above = Pairs([pair | {"delta": 0.05, "ci_low": 0.01, "ci_high": 0.09}])
    overlapping = Pairs([pair | {"delta": 0.05, "ci_low": -0.01, "ci_high": 0.11}])
    ids = ("k.cnn.keras", 0.40, "k.baseline.mean_power", 0.30)
    assert beats_baseline(*ids, above)[0]
    # paired on the same windows decides, even where the F1 interval is above the baseline's F1
    assert not beats_baseline(*ids, overlapping)[0]
    # no paired difference stored: the F1 interval's low end against the baseline's F1
    assert beats_baseline(*ids, Pairs([]))[0]
    assert not beats_baseline("k.cnn.keras", 0.25, "k.baseline.mean_power", 0.30, Pairs([]))[0]
