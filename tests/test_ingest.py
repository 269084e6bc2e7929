"""Measurements from elsewhere: benchmark_model output and the edge-kit round trip."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.errors import DataError
from pipeline.exchange.ingest import parse_benchmark_output
from store import db

from .cli_support import VARIANT, invoke, tiny_store
from .conftest import run_cli

DATA = Path(__file__).with_name("data")


def test_parses_the_benchmark_csv_layout():
    res = parse_benchmark_output((DATA / "benchmark_profile_x86.csv").read_text())
    assert res.timings_us["avg"] == pytest.approx(166.911)
    assert res.timings_us["count"] == 1325
    types = [o["op_type"] for o in res.ops]
    assert (
        types[1] == "Convolution (NHWC QC8) IGEMM" and len(res.ops) == 6
    )  # init-phase rows excluded
    conv = res.ops[1]
    assert (
        conv["latency_ms"] == pytest.approx(0.061) and conv["times_called"] == 5 and conv["xnnpack"]
    )
    assert (
        conv["node_name"] == "Delegate/Convolution (NHWC, QC8) IGEMM:1"
    )  # commas inside the quoted name
    assert not res.ops[-1]["xnnpack"]  # EXPAND_DIMS is a builtin op


def test_parses_the_printed_text_summary():
    res = parse_benchmark_output((DATA / "benchmark_rpi4_w8.txt").read_text())
    assert res.timings_us["avg"] == pytest.approx(3475.93)
    assert [o["op_type"] for o in res.ops] == [
        "FULLY_CONNECTED",
        "CONV_2D",
        "Max Pooling (NHWC F32)",
        "Copy (NC X32)",
    ]
    assert res.ops[0]["share"] == pytest.approx(0.5725)
    assert [o["xnnpack"] for o in res.ops] == [False, False, True, True]


def test_rejects_text_that_is_not_benchmark_output():
    with pytest.raises(DataError, match="Run Order"):
        parse_benchmark_output("hello\nworld\n", "x.txt")


def test_ingest_benchmark_command_stores_latency_and_ops(store_copy):
    run_cli(
        "ingest-benchmark",
        DATA / "benchmark_rpi4_w8.txt",
        "--host",
        "rpi4",
        "--variant",
        "kettle.cnn.w8",
        "--threads",
        "4",
        "--store",
        store_copy,
    )
    lat = db.query_df(store_copy, "SELECT * FROM latency WHERE host = 'rpi4'")
    assert (
        lat["mean_ms"].iloc[0] == pytest.approx(3.47593)
        and lat["runtime"].iloc[0] == "benchmark_model"
    )
    ops = db.query_df(
        store_copy, "SELECT * FROM op_type_summary WHERE host = 'rpi4' ORDER BY total_ms DESC"
    )
    assert ops["op_type"].iloc[0] == "FULLY_CONNECTED"
    res = run_cli(
        "ingest-benchmark",
        DATA / "benchmark_rpi4_w8.txt",
        "--host",
        "rpi4",
        "--variant",
        "nope",
        "--store",
        store_copy,
        check=False,
    )
    assert res.returncode == 1 and "not in the store" in res.stderr


def test_ingested_benchmark_reaches_the_tradeoff_view_and_records_a_run(tmp_path):
    store = tiny_store(tmp_path / "nilm.duckdb")
    args = [DATA / "benchmark_rpi4_w8.txt", "--host", "rpi4", "--variant", VARIANT]
    res = invoke("ingest-benchmark", *args, "--threads", "4", "--store", store)
    assert res.exit_code == 0, res.output
    lat = db.query_df(store, "SELECT * FROM latency WHERE host = 'rpi4'").iloc[0]
    # benchmark_model prints an average and no median: the average stands in for the median
    assert lat["median_ms"] == pytest.approx(3.47593) == lat["mean_ms"]
    t = db.query_df(store, "SELECT * FROM tradeoff WHERE host = 'rpi4'")
    assert len(t) == 1 and t["latency_ms"].iloc[0] == pytest.approx(3.47593)
    assert t["threads"].iloc[0] == 4
    runs = db.query_df(store, "SELECT command, status, config FROM runs")
    assert runs[["command", "status"]].values.tolist() == [["ingest-benchmark", "finished"]]
    assert json.loads(runs["config"].iloc[0])["options"]["host"] == "rpi4"
    # ingesting again replaces the numbers, it does not add a second row
    assert invoke("ingest-benchmark", *args, "--threads", "4", "--store", store).exit_code == 0
    assert len(db.query_df(store, "SELECT * FROM latency WHERE host = 'rpi4'")) == 1
    assert db.query_df(store, "SELECT count(*) FROM op_profile").iloc[0, 0] == 4


def test_an_ingest_is_one_publish_with_its_run_row(tmp_path, monkeypatch):
    """Readers (the dashboard) see one new version per ingest, holding the rows and the finished
    run together; an ingest that fails to write publishes nothing, not even a run row."""
    store = tiny_store(tmp_path / "nilm.duckdb")
    published = []
    real = db._publish
    monkeypatch.setattr(db, "_publish", lambda tmp, path: published.append(1) or real(tmp, path))
    args = [DATA / "benchmark_rpi4_w8.txt", "--host", "rpi4", "--variant", VARIANT]
    assert invoke("ingest-benchmark", *args, "--store", store).exit_code == 0
    assert len(published) == 1
    runs = db.query_df(store, "SELECT status, finished_at FROM runs WHERE command LIKE 'ingest%'")
    assert runs["status"].tolist() == ["finished"] and runs["finished_at"].notna().all()

    def broken(con, *a, **k):
        raise db.StoreError(f"{store}: cannot store the measurements (disk full)")

    monkeypatch.setattr(db, "insert_records", broken)
    res = invoke("ingest-benchmark", *args, "--host", "rpi5", "--store", store)
    assert res.exit_code == 1 and "disk full" in res.output
    assert len(published) == 1  # nothing more was published
    monkeypatch.undo()
    assert len(db.query_df(store, "SELECT * FROM runs WHERE command LIKE 'ingest%'")) == 1


def test_benchmark_with_a_median_stores_it(tmp_path):
    store = tiny_store(tmp_path / "nilm.duckdb")
    text = (
        (DATA / "benchmark_rpi4_w8.txt")
        .read_text()
        .replace("avg=3475.93", "median=3000 avg=3475.93")
    )
    (tmp_path / "b.txt").write_text(text)
    res = invoke(
        "ingest-benchmark",
        tmp_path / "b.txt",
        "--host",
        "h",
        "--variant",
        VARIANT,
        "--store",
        store,
    )
    assert res.exit_code == 0, res.output
    lat = db.query_df(store, "SELECT median_ms, mean_ms FROM latency").iloc[0]
    assert lat["median_ms"] == pytest.approx(3.0) and lat["mean_ms"] == pytest.approx(3.47593)


def test_edge_kit_round_trip(store_copy, tmp_path):
    kit = tmp_path / "kit"
    run_cli("export-edge-kit", kit, "--appliance", "kettle", "--arch", "cnn", "--store", store_copy)
    manifest = json.loads((kit / "manifest.json").read_text())
    assert (
        len(manifest["variants"]) == 8 and (kit / "run_kit.py").exists()
    )  # cnn: 9 modes, 1 refused
    # run it as a device would: a plain interpreter in the kit folder, nothing of the project imported
    out = subprocess.run(
        [
            sys.executable,
            "run_kit.py",
            "--threads",
            "1",
            "--min-seconds",
            "0.05",
            "--min-runs",
            "3",
            "--op-runs",
            "2",
            "--out",
            "results.json",
        ],
        cwd=kit,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    results = json.loads((kit / "results.json").read_text())
    assert results["format"] == "nilm-edge-kit-results/1" and len(results["results"]) == 8
    run_cli("ingest-edge-kit", kit / "results.json", "--host", "test-device", "--store", store_copy)
    t = db.query_df(store_copy, "SELECT * FROM tradeoff WHERE host = 'test-device'")
    assert len(t) == 8 and t["latency_ms"].gt(0).all() and t["ram_mb"].notna().all()
    assert (
        db.query_df(store_copy, "SELECT source FROM hosts WHERE host = 'test-device'").iloc[0, 0]
        == "edge_kit"
    )
    assert (
        db.query_df(store_copy, "SELECT count(*) FROM op_profile WHERE host = 'test-device'").iloc[
            0, 0
        ]
        > 0
    )


def test_model_explorer_node_data(store_copy, tmp_path):
    run_cli(
        "export-model-explorer",
        "kettle.transformer.w8_a8",
        "--out",
        tmp_path / "me",
        "--store",
        store_copy,
    )
    data = json.loads((tmp_path / "me" / "kettle.transformer.w8_a8.rmse_scale.json").read_text())
    names = db.query_df(
        store_copy,
        "SELECT tensor_name FROM quant_layer_stats WHERE variant_id = 'kettle.transformer.w8_a8'",
    )
    assert set(data["main"]["results"]) <= set(names["tensor_name"]) and data["main"]["results"]
    lat = json.loads((tmp_path / "me" / "kettle.transformer.w8_a8.latency_ms.json").read_text())
    assert all(v["value"] >= 0 for v in lat["main"]["results"].values())


def test_host_names_are_checked_and_ordinary_ones_kept():
    from pipeline.exchange.ingest_fields import as_host

    for name in ("rpi4", "jetson-orin.local", "Küche Pi 2", "host_01", "p" * 100):
        assert as_host(name, "f: --host") == name
    for name, why in [
        ("../etc", "path separator"),
        ("..", "'..'"),
        (".hidden", "leading '.'"),
        ("a/b", "path separator"),
        ("a\\b", "path separator"),
        ("pi\u202e", "U+202E"),
        ("pi\u2066", "U+2066"),
        ("pi\t1", "U+0009"),
        (" pi", "leading or trailing space"),
        ("", "expected a host name"),
        (None, "expected a host name"),
        ("p" * 101, "more than 100"),
    ]:
        with pytest.raises(DataError, match=f"^f: --host: .*{re.escape(why)}") as exc:
            as_host(name, "f: --host")
        assert "\n" not in str(exc.value) and "\u202e" not in str(exc.value)
