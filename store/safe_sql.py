"""Ad-hoc SQL from a person, run safely: the one implementation behind `pipeline sql` and the
dashboard's SQL page.

The rules: exactly one read statement (SELECT, WITH, FROM, VALUES, DESCRIBE, SHOW, SUMMARIZE,
EXPLAIN), a read-only connection that can reach no file and no network (DuckDB's
``enable_external_access = false``, locked so the query cannot turn it back on, extensions never
installed or loaded), no server path shown (the home, extension and secret folders get neutral
names, and the functions and views that list the store's path or every setting are refused by
name), a time limit (the connection is interrupted from a timer thread), and optional limits on
rows and bytes of the result. ``allow_files`` lifts the file rule (and admits
COPY ... TO / EXPORT) for a person's own exports from the command line; nothing else changes,
but for `~` in their paths, which keeps meaning their home folder.

The dashboard runs each query in a separate worker process (`run_query_isolated` and its pool
in store/sql_workers.py, which builds on this module): DuckDB refuses a second connection to one file with a different
configuration inside one process, so a sandboxed user query in the server process would break
every other page's reads while it runs; and a worker can be killed, and its memory is returned,
whatever the query does.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from store.file_checks import first_line

READ_STATEMENTS = {"SELECT", "EXPLAIN"}
FILE_STATEMENTS = {"COPY", "EXPORT"}
BATCH_ROWS = 2048
EXPLAIN_PREFIX = re.compile(r"^\s*EXPLAIN\s+(?:ANALYZE\s+|ANALYSE\s+|\([^)]*\)\s*)?", re.I)
# DuckDB cannot open a store under an alias (it resolves every path, symlinks and
# /proc/self/fd included), so what would show the store's absolute path is refused by name:
# the catalogue functions and views that list the database files or every setting (its
# allowed_paths names the store), and query()/query_table(), which could build those names
PATH_REVEALING = frozenset(
    {
        "duckdb_databases",
        "pragma_database_list",
        "database_list",
        "duckdb_settings",
        "pg_settings",
        "query",
        "query_table",
    }
)
CURRENT_SETTING = "current_setting"
PATH_SETTING = re.compile(r"path|director|repositor|file|home", re.I)
NEUTRAL_HOME = "/duckdb-sandbox"  # no such folder: what an error names instead of the server's


class UnsafeQueryError(ValueError):
    """A query that is refused, fails or runs past a limit; the message is for the person."""


class QueryMemoryError(UnsafeQueryError):
    """A query that needed more memory than its bound (``memory_bytes``)."""


@dataclass
class QueryResult:
    table: pa.Table
    truncated: bool  # rows were cut at the row limit

    def to_df(self):
        df = self.table.to_pandas()
        df.attrs["truncated"] = self.truncated
        return df


def sandbox_config(
    allow_files: bool = False, memory_bytes: int | None = None, threads: int | None = None
) -> dict:
    """DuckDB settings of a sandboxed connection; ``memory_bytes``: what a query may use;
    ``threads``: DuckDB's threads for it (default: one per core)."""
    config = {
        "enable_external_access": bool(allow_files),
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "allow_community_extensions": False,
        "lock_configuration": True,
        # no spilling beside the store (a read-only folder, a path shown to the query)
        "temp_directory": "",
        # neutral folders: an extension or secret error names these, not the home folder
        "extension_directory": f"{NEUTRAL_HOME}/extensions",
        "extension_repository_directory": f"{NEUTRAL_HOME}/extension_repositories",
        "secret_directory": f"{NEUTRAL_HOME}/secrets",
    }
    if not allow_files:  # a person's own exports keep their `~`
        config["home_directory"] = NEUTRAL_HOME
    if memory_bytes is not None:
        config["memory_limit"] = f"{max(1, memory_bytes >> 20)}MiB"
    if threads is not None:  # set here: the locked configuration refuses a later SET
        config["threads"] = int(threads)
    return config


def check_query(sql: str, allow_files: bool = False) -> str:
    """The statement to run, or UnsafeQueryError saying why it is refused."""
    text = (sql or "").strip()
    if not text or not text.rstrip(";").strip():
        raise UnsafeQueryError("empty query: expected one SELECT statement")
    try:
        statements = duckdb.extract_statements(text)
    except duckdb.Error as exc:
        raise UnsafeQueryError(f"syntax error: {first_line(exc)}") from exc
    if len(statements) != 1:
        raise UnsafeQueryError(
            f"one statement at a time, got {len(statements)} (comments can hide a second one)"
        )
    kind = statements[0].type.name
    allowed = READ_STATEMENTS | (FILE_STATEMENTS if allow_files else set())
    if kind not in allowed:
        hint = "" if allow_files or kind not in FILE_STATEMENTS else " (pass --allow-files)"
        raise UnsafeQueryError(
            "only read queries (SELECT, WITH, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN) are allowed "
            f"here, not {kind}{hint}"
        )
    check_no_path_functions(text)
    if kind == "EXPLAIN":
        inner = EXPLAIN_PREFIX.sub("", text, count=1)
        check_query(inner, allow_files)
    return text.rstrip().rstrip(";")


def _tokens(text: str) -> list[tuple[str, str]]:
    """(kind, text) of every token but comments; identifiers unquoted and in lower case."""
    spans = duckdb.tokenize(text)
    out = []
    for i, (start, kind) in enumerate(spans):
        end = spans[i + 1][0] if i + 1 < len(spans) else len(text)
        word = text[start:end].strip()
        if kind.name == "comment":
            continue
        if kind.name == "identifier":
            word = word.strip('"').replace('""', '"').lower()
        out.append((kind.name, word))
    return out


def check_no_path_functions(text: str) -> None:
    """UnsafeQueryError when the statement names a function or view that shows server paths,
    or reads a path setting with current_setting (its argument must be a plain string)."""
    tokens = _tokens(text)
    for i, (kind, word) in enumerate(tokens):
        if kind not in ("identifier", "keyword"):
            continue
        name = word.lower()
        call = i + 1 < len(tokens) and tokens[i + 1][1] == "("
        if name in PATH_REVEALING and (call or name not in ("query", "query_table")):
            why = (
                "it runs SQL built from strings, past these checks"
                if name.startswith("query")
                else "it shows the server's file paths"
            )
            raise UnsafeQueryError(f"{name} is not available here: {why}")
        if name == CURRENT_SETTING and call:
            arg = tokens[i + 2] if i + 2 < len(tokens) else ("", "")
            closed = i + 3 < len(tokens) and tokens[i + 3][1] == ")"
            plain = re.fullmatch(r"'([A-Za-z0-9_]+)'", arg[1])
            if not (plain and closed) or PATH_SETTING.search(plain.group(1)):
                raise UnsafeQueryError(
                    "current_setting is available here only for a named setting that is not "
                    "a path (e.g. current_setting('threads'))"
                )


def _mb(n: int) -> str:
    return f"{n / 1e6:.0f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"


def open_sandboxed(
    store: Path,
    allow_files: bool = False,
    memory_bytes: int | None = None,
    threads: int | None = None,
) -> duckdb.DuckDBPyConnection:
    from store.db import connect_readonly

    config = sandbox_config(allow_files, memory_bytes, threads)
    return connect_readonly(Path(store), config=config, check_version=False)


def run_query(
    store: Path,
    sql: str,
    *,
    row_limit: int | None = None,
    timeout_s: float = 30.0,
    max_bytes: int | None = None,
    allow_files: bool = False,
    memory_bytes: int | None = None,
    con: duckdb.DuckDBPyConnection | None = None,
) -> QueryResult:
    """Run one checked statement in this process under the sandbox and the limits
    (``memory_bytes``: what the query may use, DuckDB's memory_limit; default DuckDB's own).
    ``con``: an open sandboxed connection on ``store`` to use (kept open), else one of its own."""
    text = check_query(sql, allow_files)
    own = con is None
    if own:
        con = open_sandboxed(store, allow_files, memory_bytes)
    timer = threading.Timer(timeout_s, con.interrupt)
    timer.daemon = True
    timer.start()
    try:
        return _fetch(con, text, row_limit, max_bytes)
    except duckdb.InterruptException as exc:
        raise UnsafeQueryError(f"query stopped after its time limit of {timeout_s:g} s") from exc
    except duckdb.OutOfMemoryException as exc:
        raise QueryMemoryError(f"out of memory: {first_line(exc)}") from exc
    except duckdb.Error as exc:
        raise UnsafeQueryError(f"{type(exc).__name__}: {first_line(exc)}") from exc
    finally:
        timer.cancel()
        if own:
            con.close()


def _fetch(con, text: str, row_limit: int | None, max_bytes: int | None) -> QueryResult:
    rel = con.sql(text)
    if rel is None:  # COPY / EXPORT (only with allow_files): done, nothing to show
        return QueryResult(pa.table({}), False)
    reader = rel.to_arrow_reader(BATCH_ROWS)
    batches, rows, size, truncated = [], 0, 0, False
    for batch in reader:
        if row_limit is not None and rows + batch.num_rows > row_limit:
            batch = batch.slice(0, row_limit - rows)
            truncated = True
        rows += batch.num_rows
        size += batch.nbytes
        if max_bytes is not None and size > max_bytes:
            raise UnsafeQueryError(
                f"result larger than {_mb(max_bytes)} after {rows} rows; select fewer or "
                "shorter columns, or export with `pipeline sql --format parquet`"
            )
        batches.append(batch)
        if truncated:
            break
    return QueryResult(pa.Table.from_batches(batches, schema=reader.schema), truncated)
