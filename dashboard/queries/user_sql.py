"""The SQL page: the schema it lists and the person's own read query, run in a sandbox."""

from __future__ import annotations

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
    from dashboard.store_reads import read_elsewhere
    from store import safe_sql, sql_workers

    read_elsewhere()  # the answer is the worker's: a page showing it is computed per version

    try:
        res = sql_workers.run_query_isolated(
            store, sql, row_limit=int(limit), timeout_s=timeout_s, max_bytes=max_bytes
        )
    except safe_sql.UnsafeQueryError as exc:
        raise UserQueryError(str(exc)) from exc
    return res.to_df()
