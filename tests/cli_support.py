"""Helpers for the CLI tests: the real `pipeline` command in-process, and tiny real stores."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from store import db

VARIANT = "kettle.cnn.w8"
SHA = "a" * 64


def invoke(*args):
    """Run `pipeline ARGS` in this process (the real Typer app, stdout and stderr apart)."""
    from pipeline.cli.command import app

    return CliRunner().invoke(app, [str(a) for a in args])


def tiny_store(path: Path) -> Path:
    """An empty store with the schema and one TFLite variant, for ingest and SQL tests."""
    db.ensure_store(path)
    with db.write_store(path) as con:
        db.insert_records(
            con,
            "variants",
            [
                {
                    "variant_id": VARIANT,
                    "model_id": "kettle.cnn",
                    "appliance": "kettle",
                    "arch": "cnn",
                    "mode": "w8",
                    "status": "ok",
                    "sha256": SHA,
                    "file_bytes": 1_000_000,
                }
            ],
        )
    return path


def run_count(path: Path) -> int:
    return int(db.query_df(path, "SELECT count(*) FROM runs").iloc[0, 0])


def assert_refused(res, *fragments: str) -> str:
    """Exit code 1, one line `error: ...` naming what was expected, no traceback."""
    err = res.stderr
    assert res.exit_code == 1, (res.exit_code, res.output, res.exception)
    assert isinstance(res.exception, SystemExit), repr(res.exception)  # not an uncaught error
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in res.output
    for f in fragments:
        assert f.lower() in lines[0].lower(), (f, lines[0])
    return lines[0]
