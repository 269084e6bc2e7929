"""Commands that only read the store work on a store in a read-only folder: they take no writer
lock and write nothing beside the store (checked by the folder's listing, which is meaningful
even as root, where a read-only mode bit stops nothing)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from store import db

from .cli_support import invoke, tiny_store

READ_COMMANDS = [
    ("gc", "--dry-run"),
    ("gc", "--dry-run", "--verify"),
    ("status",),
    ("sql", "SELECT count(DISTINCT variant_id) AS n FROM variants"),
    ("sql", "SELECT * FROM variants", "--format", "csv"),
]


def _listing(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
    }


@pytest.fixture
def read_only_store(tmp_path, monkeypatch):
    folder = tmp_path / "ro"
    folder.mkdir()
    store = tiny_store(folder / "nilm.duckdb")
    folder.joinpath("nilm.duckdb.lock").unlink()  # left by the writer that made the store
    stray = db.artifacts_dir(store) / "models" / "stray.0123456789abcdef.keras"
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"an unreferenced file")

    def no_lock(*_a, **_k):
        raise AssertionError("a read-only command took the writer lock")

    monkeypatch.setattr(db, "writer_lock", no_lock)
    monkeypatch.setattr(db, "_writer_lock", no_lock)
    dirs = [folder, *[p for p in folder.rglob("*") if p.is_dir()]]
    for d in dirs:
        d.chmod(0o555)
    yield store
    for d in dirs:
        d.chmod(0o755)


@pytest.mark.parametrize("args", READ_COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_read_commands_work_in_a_read_only_folder(read_only_store, tmp_path, args):
    folder = read_only_store.parent
    before = _listing(folder)
    res = invoke(*args, "--store", read_only_store)
    assert res.exit_code == 0, res.output
    assert _listing(folder) == before
    if args[0] == "gc":
        assert "stray.0123456789abcdef.keras" in res.stdout  # listed, not removed


def test_export_and_verify_in_a_read_only_folder(read_only_store, tmp_path):
    folder = read_only_store.parent
    before = _listing(folder)
    out = tmp_path / "variants.parquet"
    res = invoke(
        "sql",
        "SELECT * FROM variants",
        "--format",
        "parquet",
        "-o",
        out,
        "--store",
        read_only_store,
    )
    assert res.exit_code == 0, res.output
    if os.geteuid() != 0:  # root may write the folder anyway, and gc would rightly clean it
        res = invoke("gc", "--verify", "--store", read_only_store)
        assert res.exit_code == 0 and "read-only" in res.stderr, res.output
    assert _listing(folder) == before
