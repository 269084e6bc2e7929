"""The dashboard as deployed: a production WSGI server, a clear error for a mistyped store, and
SQL-page queries that never break the other pages while they run."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time

import pytest
import requests
from typer.testing import CliRunner

from dashboard.serve import cli, main

from .cli_support import tiny_store
from .conftest import ROOT

RECURSIVE = "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r"


def test_dashboard_help_version_and_a_mistyped_store(tmp_path):
    runner = CliRunner()
    res = runner.invoke(cli, ["--help"])
    assert res.exit_code == 0 and "<bool>" not in res.output
    for flag in ("--store", "--host", "--port", "--threads", "--debug", "--version"):
        assert flag in res.output
    assert runner.invoke(cli, ["--version"]).output.startswith("dashboard (nilm-edge)")
    typo = tmp_path / "typo" / "nilm.duckdb"
    res = runner.invoke(cli, ["--store", str(typo)])
    assert res.exit_code == 1 and res.stderr.startswith("error: ") and "no store here" in res.stderr
    assert not typo.parent.exists()
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    store = tiny_store(tmp_path / "nilm.duckdb")
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "dashboard.serve", "--store", store, "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            requests.get(base + "/", timeout=2)
            break
        except requests.RequestException:
            assert proc.poll() is None, proc.stderr.read().decode()
            time.sleep(0.3)
    yield base
    proc.terminate()
    proc.wait(timeout=30)


def _page(path: str, search: str = "") -> dict:
    return {
        "output": ".._pages_content.children..._pages_store.data..",
        "outputs": [
            {"id": "_pages_content", "property": "children"},
            {"id": "_pages_store", "property": "data"},
        ],
        "inputs": [
            {"id": "_pages_location", "property": "pathname", "value": path},
            {"id": "_pages_location", "property": "search", "value": search},
        ],
        "changedPropIds": ["_pages_location.pathname"],
        "state": [],
    }


def _sql(text: str) -> dict:
    return {
        "output": "sql-result.children",
        "outputs": {"id": "sql-result", "property": "children"},
        "inputs": [{"id": "sql-run", "property": "n_clicks", "value": 1}],
        "state": [{"id": "sql-text", "property": "value", "value": text}],
        "changedPropIds": ["sql-run.n_clicks"],
    }


def test_pages_keep_loading_while_a_long_sql_query_runs(server):
    assert requests.get(server + "/", timeout=10).headers["Server"] == "nilm-edge"  # waitress
    update = server + "/_dash-update-component"
    answer = {}

    def long_query():
        answer["sql"] = requests.post(update, json=_sql(RECURSIVE), timeout=60).text

    worker = threading.Thread(target=long_query)
    worker.start()
    time.sleep(2.0)  # the SQL query is running in its child process now
    loads = []
    while worker.is_alive():
        for path in ("/", "/tradeoff", "/sql"):
            r = requests.post(update, json=_page(path), timeout=30)
            loads.append((path, r.status_code, r.text))
    worker.join()
    assert "time limit" in answer["sql"]
    assert loads and all(status == 200 for _, status, _ in loads)
    markers = ("could not read the store", "different configuration", "Connection Error")
    bad = [(p, m) for p, _, text in loads for m in markers if m in text]
    assert bad == []
