"""The SQL page: the schema it lists and the person's own read query, run in a sandbox."""

from __future__ import annotations

import functools
from pathlib import Path

import pandas as pd

from dashboard.queries.common import q
from dashboard.store_reads import cached_read

SQL_ROW_LIMIT = 5000
SQL_TIME_LIMIT_S = 10.0
SQL_MAX_BYTES = 20_000_000  # the SQL page's result bound (Arrow bytes); exports use the CLI


class UserQueryError(ValueError):
    """A query from the SQL page that is refused or fails, with a message for the person."""


@cached_read
def schema(store: Path) -> pd.DataFrame:
    return q(
        store,
        """
        SELECT c.table_name, c.column_name, c.data_type, c.comment AS column_comment,
               coalesce(t.comment, v.comment) AS table_comment
        FROM duckdb_columns() c
        LEFT JOIN duckdb_tables() t ON t.table_name = c.table_name
        LEFT JOIN duckdb_views() v ON v.view_name = c.table_name
        WHERE c.schema_name = 'main' AND NOT c.internal ORDER BY c.table_name, c.column_index""",
    )


def run_user_sql(
    store: Path,
    sql: str,
    limit: int = SQL_ROW_LIMIT,
    timeout_s: float = SQL_TIME_LIMIT_S,
    max_bytes: int = SQL_MAX_BYTES,
) -> pd.DataFrame:
    """One read statement, no file or network access, limits on rows, bytes and time.

    The rules are store.safe_sql's (shared with `pipeline sql`); the query runs in a child
    process so it never shares this server's DuckDB instance with the other pages' reads.
    ``df.attrs["truncated"]`` says whether rows were cut at ``limit``.
    """
    from dashboard.store_reads import USER_SQL, read_elsewhere, store_identity
    from store import safe_sql, sql_workers

    read_elsewhere()  # the answer is the worker's: a page showing it is computed per version

    def ask():
        try:
            return sql_workers.run_query_isolated(
                store, sql, row_limit=int(limit), timeout_s=timeout_s, max_bytes=max_bytes
            )
        except safe_sql.UnsafeQueryError as exc:
            raise UserQueryError(str(exc)) from exc

    version = store_identity(store)
    if version is None or not repeatable(sql):
        return ask().to_df()
    # the store is replaced whole, never changed in place: the same read on the same version
    # gives the same answer (a shared link opened by many, an example run again)
    computed = []

    def run():
        res = ask()
        computed.append(True)
        small = res.table.nbytes <= KEEP_BYTES
        return res, small and store_identity(store) == version  # no publish in between

    key = ("user_sql", str(store), version, sql, int(limit), float(timeout_s), int(max_bytes))
    df = USER_SQL.get_or_compute(key, run).to_df()
    df.attrs["kept"] = not computed
    return df


KEEP_BYTES = 1 << 20  # answers up to 1 MB (Arrow) are kept for their store version


@functools.cache
def _changing_functions() -> frozenset[str]:
    """Functions whose answer can change between two runs of one query on one file: DuckDB's
    volatile and per-query ones (random, now, current_setting, …), table functions and
    macros (duckdb_memory(), …)."""
    import duckdb

    con = duckdb.connect(":memory:")
    try:
        rows = con.execute(
            "SELECT DISTINCT lower(function_name) FROM duckdb_functions() "
            "WHERE stability IS DISTINCT FROM 'CONSISTENT'"
        ).fetchall()
    finally:
        con.close()
    return frozenset(r[0] for r in rows)


# words that make an answer change with no function call: the time as a keyword
# (current_timestamp), random samples, and the timings of EXPLAIN ANALYZE
_CHANGING_WORDS = frozenset(
    {
        "current_timestamp",
        "current_date",
        "current_time",
        "localtime",
        "localtimestamp",
        "sample",
        "tablesample",
        "analyze",
        "analyse",
    }
)


def repeatable(sql: str) -> bool:
    """Whether ``sql`` names nothing whose answer can change on the same store: a changing
    function (called or not: a false alarm only costs a run), a time keyword, a random sample,
    EXPLAIN ANALYZE. Read from DuckDB's tokens: comments dropped, quoted names unquoted."""
    from store.safe_sql import _tokens

    changing = _changing_functions() | _CHANGING_WORDS
    try:
        tokens = _tokens(sql)
    except Exception:  # noqa: BLE001 (the query's own error is the worker's to report)
        return False
    return not any(
        kind in ("identifier", "keyword") and word.lower() in changing for kind, word in tokens
    )
