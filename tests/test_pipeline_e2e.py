"""The whole pipeline on the smoke profile through the real CLI, and what the store then answers."""

import json
import time

import pandas as pd
import pytest

from store import db
from store.vocab import Mode

from .conftest import run_cli

MODES = tuple(m.value for m in Mode)
# smoke fine-tunes only the transformer with fake quantization (train.qat_steps cnn = 0)
QAT_MODES = (Mode.QAT_W8_A8.value, Mode.QAT_W8_A8_XNNPACK.value)
N_MODEL_VARIANTS = 2 * len(MODES) - len(QAT_MODES)
# the CNN's only debugger suspect is its output, which ai-edge-quantizer leaves int16: refused
FAILED = {"kettle.cnn.w8_a8_mixed16"}
N_OK = N_MODEL_VARIANTS - len(FAILED)  # model variants evaluated (keras included)
N_TFLITE_OK = N_OK - 2


def test_every_table_is_filled(smoke_store):
    counts = {
        t: db.query_df(smoke_store, f"SELECT count(*) AS n FROM {t}")["n"].iloc[0]
        for t in (
            "runs",
            "datasets",
            "models",
            "training_history",
            "variants",
            "op_census",
            "quant_layer_stats",
            "quant_sensitivity",
            "metrics",
            "eval_windows",
            "traces",
            "latency",
            "memory",
            "op_profile",
            "op_profile_totals",
            "hosts",
            "stage_timings",
        )
    }
    assert all(n > 0 for n in counts.values()), counts
    v = db.query_df(
        smoke_store, "SELECT variant_id, mode, status, error FROM variants WHERE kind = 'model'"
    )
    assert set(v["mode"]) == set(MODES) and len(v) == N_MODEL_VARIANTS
    assert not set(v[v["variant_id"].str.startswith("kettle.cnn.")]["mode"]) & set(QAT_MODES)
    failed = v[v["status"] != "ok"]
    assert set(failed["variant_id"]) == FAILED and failed["error"].str.len().gt(0).all()


def test_tradeoff_view_has_a_row_per_measured_variant(smoke_store):
    df = db.query_df(smoke_store, "SELECT * FROM tradeoff")
    ok = db.query_df(
        smoke_store,
        "SELECT count(*) AS n FROM variants WHERE status = 'ok' AND mode <> 'keras' AND kind = 'model'",
    )["n"].iloc[0]
    assert len(df) == ok
    assert df["latency_ms"].gt(0).all() and df["disk_mb"].gt(0).all() and df["ram_mb"].notna().all()


def test_all_variants_and_baselines_of_an_appliance_share_the_evaluation_windows(smoke_store):
    ev = db.query_df(smoke_store, "SELECT * FROM evaluations")
    w = db.query_df(smoke_store, "SELECT * FROM eval_windows").iloc[0]
    assert w["protocol"] == "stratified" and w["population_windows"] > w["n_windows"]
    sample = pd.read_parquet(db.artifacts_dir(smoke_store) / w["sample_path"])
    assert len(sample) == w["n_windows"]
    assert sample["weight"].sum() == pytest.approx(w["population_windows"])
    # the sample spans the whole test period, not one block
    span = (sample["midpoint_time"].max() - sample["midpoint_time"].min()).total_seconds()
    assert span > 0.8 * (w["last_time"] - w["first_time"]).total_seconds() > 0
    n = db.query_df(
        smoke_store,
        "SELECT variant_id, max(n_windows) AS n FROM metrics WHERE split = 'test' GROUP BY 1",
    )
    assert len(n) == N_OK + 3  # the model variants and 3 baselines
    levels = json.loads(w["strata"])["levels"]
    level = dict(zip(ev["variant_id"], ev["subset"], strict=True))
    assert {v for v, lv in level.items() if lv == "min"} == {"kettle.transformer.w8_a16"}
    # the XNNPACK int8 files meant to ship are scored beside the Keras model
    wide = {"keras", "w8_a8_xnnpack", "qat_w8_a8_xnnpack"}
    assert {v for v, lv in level.items() if lv == "core"} == {
        f"kettle.transformer.{m}" for m in MODES if m not in {"w8_a16"} | wide
    } - FAILED
    assert {v for v, lv in level.items() if lv == "reference"} == {
        f"kettle.transformer.{m}" for m in wide if m in MODES
    } - FAILED
    windows = json.loads(w["strata"])["windows"]  # each level's size raised to the floors
    for vid, got in zip(n["variant_id"], n["n"], strict=True):
        assert got == windows[level[vid]] >= levels[level[vid]], vid


def test_every_metric_has_a_value_and_an_interval_or_a_reason_about_the_data(smoke_store):
    df = db.query_df(
        smoke_store,
        """SELECT variant_id, metric, value, ci_low, ci_high, reason FROM metrics
        WHERE split = 'test' AND metric IN ('f1', 'mcc', 'mae', 'sae', 'nde', 'epd_error_pct')""",
    )
    assert len(df) == (N_OK + 3) * 6
    defined = df[df["value"].notna()]
    missing = df[df["value"].isna()]
    assert missing["reason"].str.contains("about the data").all(), missing
    assert defined["ci_low"].notna().all() and defined["ci_high"].notna().all()
    assert (defined["ci_low"] <= defined["value"] + 1e-9).all()
    assert (defined["value"] <= defined["ci_high"] + 1e-9).all()
    # the kettle is used in the test house, so only a model that never fires may lack MCC
    assert set(missing["metric"]) <= {"mcc"}


def test_quantized_variants_carry_a_paired_difference_from_float(smoke_store):
    d = db.query_df(smoke_store, "SELECT * FROM metric_deltas WHERE metric = 'f1'")
    assert len(d) == N_TFLITE_OK
    assert set(d["reference_id"]) == {"kettle.cnn.keras", "kettle.transformer.keras"}
    same = d[d["variant_id"].str.endswith("convert_only")]
    assert (same["delta"].abs() < 0.02).all()  # a float conversion is float
    ok = d.dropna(subset=["ci_low"])
    assert (ok["distinguishable"] == ((ok["ci_low"] > 0) | (ok["ci_high"] < 0))).all()


def test_baselines_are_variants_of_their_own_kind(smoke_store):
    b = db.query_df(smoke_store, "SELECT * FROM variants WHERE kind = 'baseline'")
    assert sorted(b["mode"]) == ["aggregate_threshold", "always_off", "mean_power"]
    m = db.query_df(
        smoke_store,
        "SELECT variant_id, f1, mae FROM metrics_wide WHERE kind = 'baseline' AND split = 'test'",
    )
    off = m[m["variant_id"].str.endswith("always_off")].iloc[0]
    assert off["f1"] == 0.0 and off["mae"] > 0
    n = db.query_df(smoke_store, "SELECT count(*) AS n FROM tradeoff WHERE arch = 'baseline'")
    assert n["n"].iloc[0] == 0


def test_models_record_how_much_training_they_got(smoke_store):
    m = db.query_df(smoke_store, "SELECT * FROM models")
    assert (m["steps"] > 0).all() and (m["windows_seen"] >= m["steps"]).all()
    assert m["stop_reason"].isin(["epochs", "early_stopping", "time_budget"]).all()
    assert m["under_trained"].notna().all() and m["schedule"].notna().all()


def test_evaluated_file_is_the_profiled_file(smoke_store):
    df = db.query_df(
        smoke_store,
        """
        SELECT v.variant_id, v.sha256, e.file_sha256 AS evaluated, t.file_sha256 AS traced,
               l.file_sha256 AS measured
        FROM variants v JOIN evaluations e USING (variant_id) JOIN traces t USING (variant_id)
        JOIN latency l USING (variant_id) WHERE v.kind = 'model' AND v.mode <> 'keras'""",
    )
    assert df["variant_id"].nunique() == N_TFLITE_OK
    assert (df["sha256"] == df["evaluated"]).all() and (df["sha256"] == df["traced"]).all()
    assert (df["sha256"] == df["measured"]).all()
    runtimes = db.query_df(smoke_store, "SELECT DISTINCT runtime FROM evaluations")
    assert set(runtimes["runtime"]) <= {"keras", "litert", "tf_lite", "baseline"}


def test_debugger_stats_exist_for_int8_activation_variants_and_flag_suspects(smoke_store):
    df = db.query_df(
        smoke_store,
        """
        SELECT v.mode, count(*) AS n, avg(rmse_scale) AS m FROM quant_layer_stats JOIN variants v USING (variant_id)
        GROUP BY 1""",
    )
    assert set(df["mode"]) == {"w8_a8", "w8_a8_fallback", "w8_a8_selective"}
    stats = db.query_df(smoke_store, "SELECT * FROM quant_layer_stats")
    assert (stats["suspect"] == ((stats["rmse_scale"] > 0.7) | stats["range_blowup"])).all()
    assert stats["sqnr_db"].notna().all()  # exact tensors are +inf, never NULL
    sel = db.query_df(
        smoke_store,
        "SELECT converter_settings FROM variants WHERE mode = 'w8_a8_selective' AND arch = 'transformer'",
    )
    deny = json.loads(sel["converter_settings"].iloc[0])["denylisted_nodes"]
    # the end-to-end ranking, not the local error, chooses what the selective file keeps float
    ranked = db.query_df(
        smoke_store,
        "SELECT island FROM quant_sensitivity WHERE variant_id = 'kettle.transformer.w8_a8' "
        "AND protected",
    )
    islands = {n for i in ranked["island"] for n in i.split(", ")}
    assert sorted(deny) == sorted(islands)


def test_float_conversion_matches_the_keras_model(smoke_store):
    # a float model checked against itself: the model-level error is ~0
    df = db.query_df(smoke_store, "SELECT debug_rmse FROM variants WHERE mode = 'convert_only'")
    assert (df["debug_rmse"] < 1e-4).all()


def test_store_answers_which_ops_dominate_the_int8_cnn(smoke_store):
    df = db.query_df(
        smoke_store,
        """
        SELECT op_type, xnnpack, total_ms, share FROM op_type_summary
        WHERE variant_id = 'kettle.cnn.w8_a8' ORDER BY total_ms DESC""",
    )
    assert not df.empty and df["share"].sum() == pytest.approx(1.0, abs=1e-6)
    assert {"CONV_2D", "FULLY_CONNECTED"} <= set(df["op_type"])
    totals = db.query_df(smoke_store, "SELECT ratio, tolerance FROM op_profile_totals")
    assert totals["ratio"].notna().all() and (totals["tolerance"] > 0).all()


def test_sql_lists_f1_and_mae_next_to_the_float_model(smoke_store):
    res = run_cli(
        "sql",
        "--store",
        smoke_store,
        "--format",
        "json",
        "SELECT v.variant_id, w.f1, w.mae, f.f1 AS float_f1, f.mae AS float_mae FROM metrics_wide w "
        "JOIN variants v USING (variant_id) JOIN metrics_wide f ON f.variant_id = v.model_id || '.keras' "
        "AND f.split = 'test' WHERE w.split = 'test'",
    )
    rows = json.loads(res.stdout)
    assert len(rows) == N_OK and all("float_f1" in r for r in rows)


def test_rerun_with_nothing_changed_does_no_work(store_copy):
    smoke_store = store_copy
    t0 = time.perf_counter()
    res = run_cli("all", "--profile", "smoke", "--appliance", "kettle", "--store", smoke_store)
    elapsed = time.perf_counter() - t0
    out = res.stdout + res.stderr
    for stage in ("data", "train", "convert", "evaluate", "profile"):
        assert f"{stage}: " in out and "unchanged, skipped" in out
    assert "epoch" not in out
    last = db.query_df(smoke_store, "SELECT value FROM meta WHERE key = 'last_run_id'")[
        "value"
    ].iloc[0]
    skips = db.query_df(
        smoke_store,
        "SELECT stage, count(*) AS n FROM stage_timings WHERE skipped AND run_id = ? GROUP BY 1",
        [last],
    )
    # data (1 appliance); the CNN's own pass (1 model, its evaluation item), then both
    # architectures: train (1 + 2 models), convert (1 + 2), evaluate (1 + 1), profile (1 + 2)
    assert dict(zip(skips["stage"], skips["n"], strict=True)) == {
        "data": 1,
        "train": 3,
        "convert": 3,
        "evaluate": 2,
        "profile": 3,
    }
    assert elapsed < 120  # generous: a bound on "did no work", not a benchmark


def test_an_evaluate_setting_reruns_evaluate_and_not_train_or_convert(store_copy):
    """evaluate.bootstrap is in the evaluate stage's settings only: changed, the evaluation
    reruns; training, conversion and profiling (which do not read it) are skipped."""
    res = run_cli(
        "all", "--profile", "smoke", "--appliance", "kettle", "--store", store_copy,
        "--set", "evaluate.bootstrap=150",
    )  # fmt: skip
    assert "epoch" not in res.stdout + res.stderr
    last = db.query_df(store_copy, "SELECT value FROM meta WHERE key = 'last_run_id'")
    timings = db.query_df(
        store_copy,
        "SELECT stage, bool_and(skipped) AS skipped FROM stage_timings "
        "WHERE run_id = ? AND item <> '*' GROUP BY 1",  # '*': a stage's total, never skipped
        [last["value"].iloc[0]],
    )
    skipped = dict(zip(timings["stage"], timings["skipped"], strict=True))
    assert skipped == {
        "data": True,
        "train": True,
        "convert": True,
        "evaluate": False,
        "profile": True,
    }


def test_status_command_summarises_the_store(smoke_store):
    out = run_cli("status", "--store", smoke_store).stdout
    assert f"schema version {db.SCHEMA_VERSION}" in out and "variants" in out and "kettle" in out


def test_bad_model_file_is_a_clear_error_and_store_untouched(store_copy):
    store = store_copy
    rel = db.query_df(store, "SELECT artifact_path FROM models WHERE model_id = 'kettle.cnn'")
    model = db.artifacts_dir(store) / rel["artifact_path"].iloc[0]
    model.write_bytes(b"not a model")
    before = db.query_df(store, "SELECT count(*) AS n FROM variants")["n"].iloc[0]
    res = run_cli(
        "convert",
        "--profile",
        "smoke",
        "-a",
        "kettle",
        "--arch",
        "cnn",
        "--force",
        "--store",
        store,
        check=False,
    )
    assert res.returncode == 1
    assert model.name in res.stderr and "sha256 differs" in res.stderr
    assert "Traceback" not in res.stderr
    assert db.query_df(store, "SELECT count(*) AS n FROM variants")["n"].iloc[0] == before


def test_throughput_is_measured_beside_latency(smoke_store):
    df = db.query_df(smoke_store, "SELECT * FROM best_throughput")
    assert len(df) == N_TFLITE_OK and df["windows_per_s"].gt(0).all()
    missing = db.query_df(
        smoke_store, "SELECT count(*) AS n FROM tradeoff WHERE throughput_wps IS NULL"
    )
    assert missing["n"].iloc[0] == 0


def test_calibration_and_debug_sets_never_come_from_a_test_house(smoke_store):
    from pipeline.convert.variants import calibration_sets
    from pipeline.core.context import RunContext
    from pipeline.settings.presets import profile_config
    from store.vocab import Appliance, Arch

    ctx = RunContext(
        store=smoke_store,
        cfg=profile_config("smoke"),
        appliances=[Appliance.KETTLE],
        archs=list(Arch),
    )
    cal, dbg, info, row = calibration_sets(ctx, Appliance.KETTLE)
    test = db.query_df(smoke_store, "SELECT houses FROM datasets WHERE dataset_id = 'kettle.test'")
    test_houses = set(test["houses"].iloc[0].split(","))
    assert info["split"] == "kettle.train" and not set(info["houses"].split(",")) & test_houses
    assert len(cal) == 32 and len(dbg) == 16
    settings = db.query_df(
        smoke_store,
        "SELECT converter_settings FROM variants WHERE mode IN ('w8_a8', 'w8_a16', 'w8_a8_fallback')",
    )
    for s in settings["converter_settings"]:
        assert json.loads(s)["calibration"]["from"] == "kettle.train"


def test_training_runs_under_a_mirrored_strategy(store_copy):
    # one CPU here: MirroredStrategy with a single replica exercises the same code as on GPUs
    store = store_copy
    run_cli(
        "train",
        "--profile",
        "smoke",
        "-a",
        "kettle",
        "--arch",
        "cnn",
        "--strategy",
        "mirrored",
        "--force",
        "--store",
        store,
    )
    m = db.query_df(
        store, "SELECT strategy, replicas, epochs_run FROM models WHERE model_id = 'kettle.cnn'"
    )
    assert (
        m["strategy"].iloc[0] == "mirrored"
        and m["replicas"].iloc[0] >= 1
        and m["epochs_run"].iloc[0] == 2
    )
    hist = db.query_df(
        store, "SELECT * FROM training_history WHERE model_id = 'kettle.cnn' ORDER BY epoch"
    )
    assert list(hist["epoch"]) == [1, 2] and hist["val_loss"].notna().all()


def test_multi_worker_strategy_without_cluster_config_is_a_clear_error(store_copy):
    store = store_copy
    res = run_cli(
        "train",
        "--profile",
        "smoke",
        "-a",
        "kettle",
        "--arch",
        "cnn",
        "--strategy",
        "multi-worker",
        "--force",
        "--store",
        store,
        check=False,
        env={"TF_CONFIG": ""},
    )
    assert res.returncode == 1 and "TF_CONFIG" in res.stderr and "Traceback" not in res.stderr


def test_a_byte_identical_file_is_scored_and_measured_once(smoke_store):
    """Two variant ids of one file (e.g. w8_a8 = w8_a8_fallback) get the same predictions and the
    same latency rows, not two draws of noise."""
    pairs = db.query_df(
        smoke_store,
        "SELECT a.variant_id AS a, b.variant_id AS b FROM variants a JOIN variants b "
        "ON a.sha256 = b.sha256 AND a.variant_id < b.variant_id "
        "WHERE a.status = 'ok' AND b.status = 'ok' AND a.mode <> 'keras'",
    )
    assert len(pairs), "the smoke run has byte-identical variants (w8_a8 = w8_a8_fallback)"
    for a, b in pairs.itertuples(index=False):
        cols = "runtime, threads, xnnpack, median_ms"
        lat = {
            vid: db.query_df(
                smoke_store,
                f"SELECT {cols} FROM latency WHERE variant_id = ? ORDER BY {cols}",
                [vid],
            ).values.tolist()
            for vid in (a, b)
        }
        assert lat[a] and lat[a] == lat[b]
        f1 = db.query_df(
            smoke_store,
            "SELECT value FROM metrics WHERE variant_id IN (?, ?) AND metric = 'f1' "
            "AND split = 'test'",
            [a, b],
        )["value"].tolist()
        assert len(f1) == 2 and f1[0] == f1[1]


def test_the_cnn_answers_first_and_its_files_are_predicted_once(smoke_store):
    """`pipeline all` with both architectures takes the CNN end to end before the transformer
    trains; the appliance's later evaluation with both reuses the CNN's predictions (each file
    run once) and scores it on the same windows, so the CNN's figures are what they were."""
    timings = db.query_df(
        smoke_store,
        "SELECT stage, item, skipped FROM stage_timings WHERE item <> '*' "
        "AND run_id = (SELECT min(run_id) FROM runs WHERE command = 'all') ORDER BY finished_at",
    )
    order = [(s, i) for s, i, skipped in timings.itertuples(index=False) if not skipped]
    cnn_measured = next(k for k, (s, i) in enumerate(order) if i.startswith("kettle.cnn@"))
    assert order[cnn_measured][0] == "profile"
    assert cnn_measured < order.index(("train", "kettle.transformer"))
    assert [i for s, i in order if s == "evaluate"] == ["kettle:cnn", "kettle:cnn,transformer"]
    log = smoke_store.with_name("all.log").read_text()
    for mode in ("keras", "convert_only", "w8_a8", "w8_a16"):
        assert f"kettle.cnn.{mode}: predicted earlier in this run; its predictions reused" in log
        # scored in both evaluations on the same windows: the same estimates and intervals
        scored = [
            line.split(" sampled windows")[0]
            for line in log.splitlines()
            if line.startswith(f"evaluate: kettle.cnn.{mode}: F1 ")
        ]
        assert len(scored) == 2 and scored[0] == scored[1], scored
    assert "kettle.transformer.keras: predicted earlier" not in log
