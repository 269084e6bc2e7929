"""The `pipeline` command line: its help, its options, its output and its argument checks."""

import json
import re
import subprocess
import sys

import pytest
import typer

from store import db

from .cli_support import assert_refused, invoke, run_count, tiny_store
from .conftest import ROOT, run_cli

STAGES = ("data", "train", "convert", "evaluate", "profile")
COMMANDS = (
    *STAGES,
    "all",
    "sql",
    "status",
    "gc",
    "ingest-benchmark",
    "ingest-edge-kit",
    "export-edge-kit",
    "export-model-explorer",
)


def _commands():
    from pipeline.cli.command import app

    return typer.main.get_command(app).commands


def test_help_lists_every_command_without_importing_tensorflow():
    code = (
        "import sys; from typer.testing import CliRunner; from pipeline.cli.command import app; "
        "r = CliRunner().invoke(app, ['--help'], env={'COLUMNS': '200'}); print(r.output); "
        "print('TF' if 'tensorflow' in sys.modules else 'NOTF')"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60
    ).stdout
    # a command's name opens a row of the Commands panel ("│ data   Read raw data…"); the
    # names also appear inside other commands' descriptions, which must not count
    listed = set(re.findall(r"^│ ([a-z][a-z-]*)\s{2,}\S", out, flags=re.M))
    assert listed == set(COMMANDS), listed ^ set(COMMANDS)
    assert out.strip().endswith("NOTF")


def test_every_option_has_help_and_flags_show_no_type():
    for name, cmd in _commands().items():
        for p in cmd.params:
            if p.param_type_name == "option":
                assert p.help, f"{name} {p.opts[0]} has no help text"
        res = invoke(name, "--help")
        assert res.exit_code == 0 and "<bool>" not in res.output, name
    assert "<bool>" not in invoke("--help").output


def test_version():
    res = invoke("--version")
    assert res.exit_code == 0 and re.match(r"pipeline \(nilm-edge\) \S+", res.output)


def test_all_accepts_every_option_of_its_stages():
    cmds = _commands()

    def options(name):
        return {o for p in cmds[name].params if p.param_type_name == "option" for o in p.opts}

    staged = set().union(*(options(s) for s in STAGES)) - {"--plot"}
    assert staged - options("all") == set()
    for stage in STAGES:
        assert {"--config", "--set"} <= options(stage)


def test_output_to_a_pipe_is_not_wrapped_at_80_columns(tmp_path):
    store = tiny_store(tmp_path / "nilm.duckdb")
    wide = "x" * 150
    res = run_cli("sql", f"SELECT '{wide}' AS wide_column, 1 AS n", "--store", store)
    assert any(wide in line for line in res.stdout.splitlines())
    from pipeline.cli.command import WIDE_OUTPUT, console

    assert console().width == WIDE_OUTPUT  # pytest captures stderr: not a terminal


def test_sql_on_an_empty_store_and_output_formats(tmp_path):
    store = tiny_store(tmp_path / "nilm.duckdb")
    res = invoke("sql", "--store", store, "--format", "csv", "SELECT * FROM tradeoff")
    header = res.stdout.strip().splitlines()[0].split(",")
    assert "variant_id" in header and "latency_ms" in header
    assert len(res.stdout.strip().splitlines()) == 1
    res = invoke(
        "sql",
        "--store",
        store,
        "--format",
        "json",
        "SELECT metric, count(*) AS n FROM reference_results GROUP BY 1",
    )
    assert any(r["metric"] == "f1" for r in json.loads(res.stdout))
    out = tmp_path / "ref.parquet"
    res = invoke(
        "sql", "--store", store, "--format", "parquet", "-o", out, "SELECT * FROM reference_results"
    )
    assert res.exit_code == 0 and out.stat().st_size > 0
    table = invoke("sql", "--store", store, "SELECT 1 AS one").stdout
    assert "one" in table and "(1 rows)" in table


def test_sql_error_is_reported_without_traceback(tmp_path):
    store = tiny_store(tmp_path / "s.duckdb")
    assert_refused(invoke("sql", "--store", store, "SELECT * FROM nope"), "nope")


@pytest.mark.parametrize(
    "args, message",
    [
        (["data", "--source", "refit"], "needs --path"),
        (["data", "--source", "csv", "--path", "no/such/folder"], "--path not found"),
        (["all", "--house-map", "no-equals-sign"], "--house-map expects FILE=HOUSE"),
        (["data", "--resample", "30"], "--resample applies to --source csv"),
        (["all", "--source", "csv", "--path", ".", "--resample", "0"], "--resample"),
        (["all", "--source", "csv", "--path", ".", "--resample", "7.5"], "--resample"),
        (["train", "--config", "no/such.toml"], "config file not found"),
        (["convert", "--set", "train.epochs=many"], "train.epochs"),
    ],
)
def test_a_failed_argument_check_records_no_run(args, message, tmp_path):
    store = tiny_store(tmp_path / "nilm.duckdb")
    res = invoke(*args, "--profile", "smoke", "--store", store)
    assert res.exit_code == 1 and message in res.stderr, res.output
    assert run_count(store) == 0


def test_config_overrides_reach_the_recorded_run(tmp_path):
    store = tiny_store(tmp_path / "nilm.duckdb")
    toml = tmp_path / "cfg.toml"
    toml.write_text("[train]\npatience = 7\n")
    res = invoke(
        "convert",
        "--profile",
        "smoke",
        "-a",
        "kettle",
        "--config",
        toml,
        "--set",
        "train.batch=48",
        "--store",
        store,
    )
    assert res.exit_code == 1 and "pipeline train" in res.stderr  # nothing trained yet
    cfg = json.loads(db.query_df(store, "SELECT config FROM runs").iloc[0, 0])["profile"]
    assert cfg["batch"] == {"cnn": 48, "transformer": 48} and cfg["patience"] == {
        "cnn": 7,
        "transformer": 7,
    }


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
    assert "Traceback" not in res.stderr


def test_bad_raw_data_leaves_the_store_untouched(tmp_path):
    store = tiny_store(tmp_path / "s.duckdb")
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "CLEAN_House2.csv").write_text(
        "Time,Unix,Aggregate\n2014-01-01 00:00:00,1388534400,100\n"
    )
    variants_before = db.query_df(store, "SELECT * FROM variants")
    res = invoke(
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
    )
    assert res.exit_code == 1 and "CLEAN_House" in res.stderr
    assert db.query_df(store, "SELECT count(*) AS n FROM datasets").iloc[0, 0] == 0
    assert db.query_df(store, "SELECT * FROM variants").equals(variants_before)
    assert db.query_df(store, "SELECT status FROM runs")["status"].tolist() == ["failed"]
