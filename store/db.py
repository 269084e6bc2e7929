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
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import duckdb

from store.file_checks import (
    StoreError,
    check_complete,
    check_store_file,
    first_line,
    open_error,
)

SCHEMA_VERSION = "4"
DEFAULT_STORE = Path("store/nilm.duckdb")
# storage format of new store files: readable by DuckDB 1.1 and later (2.x writes 'v2.0.0',
# which 1.x clients refuse with "Trying to read a database file with version number 999"; 1.0
# clients cannot read the primary-key indexes 2.x writes even in this format)
STORAGE_COMPATIBILITY = "v1.0.0"


def artifacts_dir(store_path: Path) -> Path:
    """The folder beside the store that holds models, datasets and traces."""
    store_path = Path(store_path)
    return store_path.with_name(store_path.stem + ".artifacts")


def schema_sql() -> str:
    return resources.files("store").joinpath("schema.sql").read_text()


def reference_rows() -> list[dict]:
    """The published results the store compares against (reference_results.csv), by column."""
    text = resources.files("store").joinpath("reference_results.csv").read_text()
    rows = []
    for rec in csv.DictReader(line for line in text.splitlines() if not line.startswith("#")):
        value = rec["value"].strip()
        rows.append(
            {
                "source": rec["source"],
                "table_ref": rec["table_ref"],
                "appliance": rec["appliance"] or None,
                "arch": rec["arch"] or None,
                "mode": rec["mode"] or None,
                "host": rec["host"] or None,
                "metric": rec["metric"],
                "value": float(value) if value not in ("", "NA") else None,
                "unit": rec["unit"] or None,
                "conditions": rec["conditions"] or None,
                "note": (rec.get("note") or "").strip() or None,
            }
        )
    return rows


def create_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(schema_sql())
    insert_records(con, "reference_results", reference_rows())


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


READ_HINT = (
    f"this code reads {SCHEMA_VERSION!r}; rebuild it with `pipeline all --force` "
    "(or point --store at a new file)"
)


def connect_readonly(
    store_path: Path, config: dict | None = None, check_version: bool = True
) -> duckdb.DuckDBPyConnection:
    """A short-lived read-only connection; raises StoreError with a reason a person can act on.

    A missing store is an error (a mistyped --store must not create anything), and so is a file
    that is not a DuckDB store, an empty, truncated or damaged one, or (with ``check_version``)
    one of another schema. ``config``: DuckDB settings of the connection (the SQL sandbox's).
    """
    return _open_checked(
        Path(store_path),
        lambda path: duckdb.connect(str(path), read_only=True, config=config or {}),
        READ_HINT if check_version else None,
    )


def attach_readonly(store_path: Path, alias: str, config: dict | None = None):
    """The store ATTACHed read-only as ``alias`` (and made the default catalog) in a private
    in-memory DuckDB instance; StoreError as connect_readonly.

    DuckDB hands every plain connect to a path the instance already open on it, even after a
    publish renamed a new file over that path, so one process can read only one version of a
    store at a time that way. Attached in instances of their own, any number of versions stay
    readable side by side, each the file as it was when it was attached. A cursor of the
    returned connection starts in the in-memory catalog: run ``USE <alias>`` on it first.
    """

    def attach(path: Path) -> duckdb.DuckDBPyConnection:
        # spills go beside the store, as with a plain connect (not the server's working folder)
        con = duckdb.connect(":memory:", config={"temp_directory": f"{path}.tmp", **(config or {})})
        try:
            target = str(path).replace("'", "''")
            con.execute(f"ATTACH '{target}' AS {alias} (READ_ONLY)")
            con.execute(f"USE {alias}")
        except BaseException:
            con.close()
            raise
        return con

    return _open_checked(Path(store_path), attach, READ_HINT, database=alias)


def _open_checked(
    store_path: Path,
    open_con: Callable[[Path], duckdb.DuckDBPyConnection],
    version_hint: str | None,
    database: str | None = None,
) -> duckdb.DuckDBPyConnection:
    """open_con(store_path) once the path is a DuckDB file, checked by _verified; every failure
    a StoreError with a reason a person can act on."""
    check_store_file(store_path)
    try:
        size = store_path.stat().st_size
        con = open_con(store_path)
    except OSError as exc:
        raise StoreError(f"{store_path}: cannot read the store ({exc.strerror})") from exc
    except duckdb.Error as exc:
        raise open_error(store_path, exc) from exc
    return _verified(con, store_path, size, version_hint, database)


def _verified(
    con: duckdb.DuckDBPyConnection,
    store_path: Path,
    size: int,
    version_hint: str | None,
    database: str | None = None,
) -> duckdb.DuckDBPyConnection:
    """con, once the file is complete and (when a hint is given) of this schema version;
    otherwise con is closed and StoreError says what is wrong (with the hint for the version)."""
    try:
        check_complete(con, store_path, size, database)
        version = schema_version(con) if version_hint else SCHEMA_VERSION
    except duckdb.Error as exc:
        con.close()
        raise StoreError(f"{store_path}: damaged store ({first_line(exc)})") from exc
    except BaseException:
        con.close()
        raise
    if version != SCHEMA_VERSION:
        con.close()
        raise StoreError(f"{store_path}: schema version {version!r}, {version_hint}")
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
    A store that cannot be opened, read or published raises StoreError; errors raised by the
    caller's block pass through unchanged.
    """
    store_path = Path(store_path)
    tmp = store_path.with_name(f".{store_path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    with _writer_lock(store_path):
        try:
            con = _open_private_copy(store_path, tmp)
            try:
                yield con
                con.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES ('refreshed_at', ?)",
                    [datetime.now(UTC).isoformat(timespec="seconds")],
                )
                con.execute("CHECKPOINT")
            finally:
                con.close()
            _publish(tmp, store_path)
        finally:
            _remove_quietly(tmp, Path(str(tmp) + ".wal"))


def writer_lock(store_path: Path) -> contextlib.AbstractContextManager[None]:
    """The lock every writer of the store holds while it publishes (for `pipeline gc`)."""
    return _writer_lock(Path(store_path))


@contextlib.contextmanager
def _writer_lock(store_path: Path) -> Iterator[None]:
    if store_path.is_dir():
        raise StoreError(f"{store_path}: is a folder; expected a DuckDB store file (--store FILE)")
    lock_path = store_path.with_name(store_path.name + ".lock")
    try:
        store_path.parent.mkdir(parents=True, exist_ok=True)
        lock = open(lock_path, "a")  # noqa: SIM115 (held for the whole write)
    except OSError as exc:
        raise StoreError(
            f"{store_path}: cannot write beside the store ({exc.strerror}); expected a folder "
            "you can write to"
        ) from exc
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _open_private_copy(store_path: Path, tmp: Path) -> duckdb.DuckDBPyConnection:
    """The writer's copy of the published store (or a new store with the schema)."""
    _remove_stale_copies(store_path)
    fresh = not store_path.exists()
    try:
        if not fresh:
            check_store_file(store_path)
            shutil.copyfile(store_path, tmp)
        # a new file gets the oldest storage format that holds the schema, so analysts can open
        # it with DuckDB 1.x clients too; a copied file keeps the format it was created with
        con = duckdb.connect(
            str(tmp),
            config={"storage_compatibility_version": STORAGE_COMPATIBILITY} if fresh else {},
        )
    except OSError as exc:
        raise StoreError(
            f"{store_path}: cannot copy the store to write it ({exc.strerror})"
        ) from exc
    except duckdb.Error as exc:
        raise StoreError(
            f"{store_path}: cannot open the store (damaged or truncated?): {first_line(exc)}"
        ) from exc
    if fresh:
        try:
            create_schema(con)
        except BaseException:
            con.close()
            raise
        return con
    hint = f"this code writes {SCHEMA_VERSION!r}; move the old file away or use --store NEW"
    return _verified(con, store_path, tmp.stat().st_size, hint)


def _publish(tmp: Path, store_path: Path) -> None:
    try:
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, store_path)
        dir_fd = os.open(store_path.parent, os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as exc:
        raise StoreError(f"{store_path}: cannot publish the new store ({exc.strerror})") from exc


def ensure_store(store_path: Path) -> None:
    """Create an empty store with the schema when none exists."""
    if not Path(store_path).exists():
        with write_store(store_path):
            pass


def _query(store_path: Path, sql: str, params: list | None, fetch: Callable):
    """fetch(result) of one read query on a fresh read-only connection, closed after."""
    con = connect_readonly(store_path)
    try:
        return fetch(con.execute(sql, params or []))
    finally:
        con.close()


def query_rows(store_path: Path, sql: str, params: list | None = None) -> list[tuple]:
    """Run one read query and return its rows as tuples (no pandas: a short command's
    start-up stays short)."""
    return _query(store_path, sql, params, lambda res: res.fetchall())


def query_df(store_path: Path, sql: str, params: list | None = None):
    """Run one read query on a fresh read-only connection and return a DataFrame."""
    return _query(store_path, sql, params, lambda res: res.df())


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


def fetch_records(
    con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None
) -> list[dict]:
    """The query's rows as dicts keyed by column name (values as DuckDB returns them)."""
    cur = con.execute(sql, params or [])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
