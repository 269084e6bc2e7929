"""The README's claim about which DuckDB clients read the store, checked with the oldest client it
names (installed by `make install` beside the project's environment, else here if pip can)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from store import db

from .cli_support import tiny_store
from .conftest import ROOT

OLDEST_CLIENT = "1.1.0"  # README: "DuckDB 1.1–1.4 and 2.x clients all read them"
CLIENT_DIR = ROOT / ".venv" / f"duckdb-{OLDEST_CLIENT}"  # where `make install` puts it

READ_EVERYTHING = """
import json, sys
import duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
names = [r[0] for r in con.execute(
    "SELECT table_name FROM duckdb_tables() UNION ALL SELECT view_name FROM duckdb_views() "
    "WHERE NOT internal ORDER BY 1").fetchall()]
counts = {n: con.execute(f'SELECT count(*) FROM "{n}"').fetchall()[0][0] for n in names}
print(json.dumps({"version": duckdb.__version__, "counts": counts}))
"""


def _client(tmp_path_factory) -> Path:
    """A folder holding duckdb==OLDEST_CLIENT, or a skip saying why there is none."""
    if (CLIENT_DIR / "duckdb").is_dir():
        return CLIENT_DIR
    target = tmp_path_factory.mktemp("duckdb-client")
    try:
        res = subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
             f"duckdb=={OLDEST_CLIENT}"],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        pytest.skip(f"duckdb=={OLDEST_CLIENT} could not be installed (pip timed out)")
    if res.returncode != 0:
        pytest.skip(
            f"duckdb=={OLDEST_CLIENT} could not be installed ({res.stderr.strip()[-200:]}); "
            "`make install` puts it in .venv/"
        )
    return target


def test_the_oldest_client_the_readme_names_reads_every_table(tmp_path, tmp_path_factory):
    readme = (ROOT / "README.md").read_text()
    assert "DuckDB 1.1–1.4 and 2.x clients" in readme
    client = _client(tmp_path_factory)
    store = tiny_store(tmp_path / "nilm.duckdb")
    with db.write_store(store) as con:  # a store that has been rewritten since it was made
        con.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('last_run_id', 'r1')")
    res = subprocess.run(
        [sys.executable, "-c", READ_EVERYTHING, str(store)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(client)},
    )
    assert res.returncode == 0, res.stderr[-2000:]
    out = json.loads(res.stdout)
    assert out["version"] == OLDEST_CLIENT
    assert out["counts"]["variants"] == 1 and len(out["counts"]) > 20
