"""How the store is opened and written.

DuckDB admits one writing process or many reading ones, never both at once. So the pipeline
never writes the published file in place: it copies it, writes the copy, checkpoints it and
swaps it in with an atomic rename. Readers keep short read-only connections and always see a
complete store (an open reader keeps the old file's inode until it closes).
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import duckdb

SCHEMA_VERSION = "3"
DEFAULT_STORE = Path("store/nilm.duckdb")


class StoreError(RuntimeError):
    """The store is missing, unreadable or of another schema version."""


def artifacts_dir(store_path: Path) -> Path:
    """The folder beside the store that holds models, datasets and traces."""
    store_path = Path(store_path)
    return store_path.with_name(store_path.stem + ".artifacts")


def schema_sql() -> str:
    return resources.files("store").joinpath("schema.sql").read_text()


def reference_rows() -> list[tuple]:
    text = resources.files("store").joinpath("reference_results.csv").read_text()
    rows = []
    for rec in csv.DictReader(line for line in text.splitlines() if not line.startswith("#")):
        value = rec["value"].strip()
        rows.append(
            (
                rec["source"],
                rec["table_ref"],
                rec["appliance"] or None,
                rec["arch"] or None,
                rec["mode"] or None,
                rec["host"] or None,
                rec["metric"],
                float(value) if value not in ("", "NA") else None,
                rec["unit"] or None,
                rec["conditions"] or None,
                (rec.get("note") or "").strip() or None,
            )
        )
    return rows


def create_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(schema_sql())
    con.executemany(
        "INSERT INTO reference_results VALUES (?,?,?,?,?,?,?,?,?,?,?)", reference_rows()
    )


def schema_version(con: duckdb.DuckDBPyConnection) -> str | None:
    try:
        row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()
    except duckdb.CatalogException:
        return None
    return row[0][0] if row else None


SUMMARY_TABLES = (
    "runs",
    "datasets",
    "models",
    "variants",
    "metrics",
    "latency",
    "op_profile",
    "memory",
    "quant_layer_stats",
)


def table_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Row counts of the tables that say what a store holds (for `pipeline status`, the dashboard)."""
    return {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in SUMMARY_TABLES}


def connect_readonly(store_path: Path) -> duckdb.DuckDBPyConnection:
    """A short-lived read-only connection; raises StoreError with a reason a person can act on."""
    store_path = Path(store_path)
    if not store_path.exists():
        raise StoreError(f"{store_path}: no store here yet; run `pipeline all` to create it")
    try:
        con = duckdb.connect(str(store_path), read_only=True)
    except duckdb.Error as exc:
        raise StoreError(f"{store_path}: cannot open the store read-only: {exc}") from exc
    version = schema_version(con)
    if version != SCHEMA_VERSION:
        con.close()
        raise StoreError(
            f"{store_path}: schema version {version!r}, this code reads {SCHEMA_VERSION!r}; "
            "rebuild it with `pipeline all --force` (or point --store at a new file)"
        )
    return con


def _remove_quietly(*paths: Path) -> None:
    for p in paths:
        with contextlib.suppress(FileNotFoundError):
            p.unlink()


def _remove_stale_copies(store_path: Path) -> None:
    """Private copies left by a writer that was killed (its process is gone)."""
    for p in store_path.parent.glob(f".{store_path.name}.*.tmp*"):
        try:
            pid = int(p.name[len(store_path.name) + 2 :].split(".")[0])
            os.kill(pid, 0)
        except ProcessLookupError:
            _remove_quietly(p)
        except (ValueError, PermissionError):
            continue


@contextlib.contextmanager
def write_store(store_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open a private copy of the store for writing; publish it atomically on success.

    On any exception (or SIGKILL) the published store is untouched and the copy is discarded.
    Writers are serialised with a lock file so two pipelines cannot lose each other's rows.
    """
    store_path = Path(store_path)
    store_path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = store_path.with_name(store_path.name + ".lock")
    tmp = store_path.with_name(f".{store_path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    with open(lock_path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            _remove_stale_copies(store_path)
            fresh = not store_path.exists()
            if not fresh:
                shutil.copyfile(store_path, tmp)
            con = duckdb.connect(str(tmp))
            try:
                if fresh:
                    create_schema(con)
                else:
                    version = schema_version(con)
                    if version != SCHEMA_VERSION:
                        raise StoreError(
                            f"{store_path}: schema version {version!r}, this code writes "
                            f"{SCHEMA_VERSION!r}; move the old file away or use --store NEW"
                        )
                yield con
                con.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('refreshed_at', ?)",
                    [datetime.now(UTC).isoformat(timespec="seconds")],
                )
                con.execute("CHECKPOINT")
            finally:
                con.close()
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, store_path)
            dir_fd = os.open(store_path.parent, os.O_DIRECTORY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        finally:
            _remove_quietly(tmp, Path(str(tmp) + ".wal"))
            fcntl.flock(lock, fcntl.LOCK_UN)


def ensure_store(store_path: Path) -> None:
    """Create an empty store with the schema when none exists."""
    if not Path(store_path).exists():
        with write_store(store_path):
            pass


def query_df(store_path: Path, sql: str, params: list | None = None):
    """Run one read query on a fresh read-only connection and return a DataFrame."""
    con = connect_readonly(store_path)
    try:
        return con.execute(sql, params or []).df()
    finally:
        con.close()


def insert_records(con: duckdb.DuckDBPyConnection, table: str, records: list[dict]) -> None:
    """Insert rows given as dicts, by column name (a column added to the table breaks nothing).

    Every record must have the same keys; columns not named get their default (or NULL).
    """
    if not records:
        return
    cols = list(records[0])
    con.executemany(
        f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
        [[r[c] for c in cols] for r in records],
    )
