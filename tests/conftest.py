import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
SCREENSHOTS = ROOT / "test-artifacts"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def run_cli(*args, check=True, timeout=900, env=None):
    """Run the real `pipeline` console entry point in a child process."""
    res = subprocess.run(
        [sys.executable, "-m", "pipeline.cli.command", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )
    if check and res.returncode != 0:
        raise AssertionError(
            f"pipeline {' '.join(map(str, args))} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}"
        )
    return res


@pytest.fixture
def store_path(tmp_path):
    return tmp_path / "nilm.duckdb"


@pytest.fixture(scope="session")
def smoke_store(tmp_path_factory):
    """A store filled by `pipeline all --profile smoke` for the kettle (both architectures, all
    modes): the end-to-end run every later test reads."""
    store = tmp_path_factory.mktemp("smoke") / "nilm.duckdb"
    res = run_cli("all", "--profile", "smoke", "--appliance", "kettle", "--store", store)
    store.with_name("all.log").write_text(res.stdout + res.stderr)
    return store


@pytest.fixture
def store_copy(smoke_store, tmp_path):
    """A private copy of the smoke store and its artifacts, for tests that write."""
    from store import db

    store = tmp_path / "copy.duckdb"
    shutil.copyfile(smoke_store, store)
    shutil.copytree(db.artifacts_dir(smoke_store), db.artifacts_dir(store))
    return store


@pytest.fixture(scope="session")
def screenshot_dir():
    SCREENSHOTS.mkdir(exist_ok=True)
    return SCREENSHOTS


def chromedriver_available() -> bool:
    return shutil.which("chromedriver") is not None
