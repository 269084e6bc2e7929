import json
import subprocess
import sys

from .conftest import ROOT, run_cli


def test_help_lists_every_command_without_importing_tensorflow():
    code = (
        "import sys; from typer.testing import CliRunner; from pipeline.cli import app; "
        "r = CliRunner().invoke(app, ['--help']); print(r.output); print('TF' if 'tensorflow' in sys.modules else 'NOTF')"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60
    ).stdout
    for cmd in ("data", "train", "convert", "evaluate", "profile", "all", "sql", "status"):
        assert cmd in out
    assert out.strip().endswith("NOTF")


def test_sql_on_an_empty_store_and_output_formats(tmp_path):
    store = tmp_path / "nilm.duckdb"
    res = run_cli("sql", "--store", store, "--format", "csv", "SELECT * FROM tradeoff")
    header = res.stdout.strip().splitlines()[0].split(",")
    assert (
        "variant_id" in header
        and "latency_ms" in header
        and len(res.stdout.strip().splitlines()) == 1
    )
    res = run_cli(
        "sql",
        "--store",
        store,
        "--format",
        "json",
        "SELECT metric, count(*) AS n FROM reference_results GROUP BY 1",
    )
    assert any(r["metric"] == "f1" for r in json.loads(res.stdout))
    out = tmp_path / "ref.parquet"
    run_cli(
        "sql",
        "--store",
        store,
        "--format",
        "parquet",
        "--output",
        out,
        "SELECT * FROM reference_results",
    )
    assert out.stat().st_size > 0
    table = run_cli("sql", "--store", store, "SELECT 1 AS one").stdout
    assert "one" in table and "(1 rows)" in table


def test_sql_error_is_reported_without_traceback(tmp_path):
    res = run_cli("sql", "--store", tmp_path / "s.duckdb", "SELECT * FROM nope", check=False)
    assert res.returncode == 1 and "nope" in res.stderr and "Traceback" not in res.stderr


def test_stage_without_its_inputs_says_what_to_run(tmp_path):
    res = run_cli(
        "convert",
        "--profile",
        "smoke",
        "-a",
        "kettle",
        "--store",
        tmp_path / "s.duckdb",
        check=False,
    )
    assert res.returncode == 1 and "pipeline train" in res.stderr


def test_bad_raw_data_leaves_the_store_untouched(tmp_path):
    store = tmp_path / "s.duckdb"
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "CLEAN_House2.csv").write_text(
        "Time,Unix,Aggregate\n2014-01-01 00:00:00,1388534400,100\n"
    )
    res = run_cli(
        "data",
        "--source",
        "refit",
        "--path",
        raw,
        "--profile",
        "smoke",
        "-a",
        "kettle",
        "--store",
        store,
        check=False,
    )
    assert res.returncode == 1 and "CLEAN_House" in res.stderr
    datasets = run_cli(
        "sql", "--store", store, "--format", "csv", "SELECT count(*) AS n FROM datasets"
    ).stdout
    assert datasets.strip().splitlines()[1] == "0"
