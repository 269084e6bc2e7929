"""Ad-hoc SQL is sandboxed the same way in `pipeline sql` and on the dashboard's SQL page:
one read statement, no file or network access, limits on time, rows and bytes."""

from __future__ import annotations

import json
import threading
import time

import pytest

from dashboard import queries
from store import safe_sql

from .cli_support import assert_refused, invoke, tiny_store

RECURSIVE = "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r"

REFUSED = {
    "read a file": ("SELECT * FROM read_csv('/etc/passwd')", "Permission"),
    "read the environment": ("SELECT * FROM read_text('/proc/self/environ')", "Permission"),
    "list files": ("SELECT * FROM glob('/*')", "Permission"),
    "network": ("SELECT * FROM 'https://example.com/x.csv'", "Permission"),
    "write a file": ("COPY (SELECT 1) TO '{tmp}/out.csv'", "not COPY"),
    "export": ("EXPORT DATABASE '{tmp}/dump'", "not EXPORT"),
    "hidden second statement": (
        "SELECT 1; -- harmless\n COPY (SELECT 1) TO '{tmp}/out.csv'",
        "one statement",
    ),
    "two selects": ("SELECT 1; SELECT 2", "one statement"),
    "attach": ("ATTACH '{tmp}/other.duckdb'", "not ATTACH"),
    "install": ("INSTALL httpfs", "not LOAD"),
    "load": ("LOAD httpfs", "not LOAD"),
    "pragma": ("PRAGMA enable_profiling", "not PRAGMA"),
    "set": ("SET enable_external_access = true", "not SET"),
    "write a table": ("DELETE FROM variants", "not DELETE"),
    "ddl": ("CREATE TABLE x AS SELECT 1", "not CREATE"),
    "explain a write": ("EXPLAIN ANALYZE COPY (SELECT 1) TO '{tmp}/o.csv'", "not COPY"),
    "empty": ("  ;  ", "empty"),
}


def republish(store, tmp_path, statement: str) -> None:
    """A new version of the store with ``statement`` applied, swapped in as a publish does."""
    import os
    import shutil

    import duckdb

    nxt = tmp_path / "next.duckdb"
    shutil.copy(store, nxt)
    con = duckdb.connect(str(nxt))
    con.execute(statement)
    con.close()
    os.replace(nxt, store)


@pytest.fixture
def store(tmp_path):
    return tiny_store(tmp_path / "nilm.duckdb")


@pytest.mark.parametrize("case", list(REFUSED))
def test_pipeline_sql_refuses(case, store, tmp_path):
    sql, message = REFUSED[case]
    res = invoke("sql", sql.format(tmp=tmp_path), "--store", store)
    assert_refused(res, message)
    assert not (tmp_path / "out.csv").exists() and not (tmp_path / "dump").exists()


@pytest.mark.parametrize("case", ["read a file", "write a file", "hidden second statement"])
def test_the_sql_page_refuses_the_same(case, store, tmp_path):
    sql, message = REFUSED[case]
    with pytest.raises(queries.UserQueryError, match=message):
        queries.run_user_sql(store, sql.format(tmp=tmp_path))


def test_pipeline_sql_stops_at_its_time_limit(store):
    t0 = time.perf_counter()
    res = invoke("sql", RECURSIVE, "--store", store, "--timeout", "1")
    assert_refused(res, "time limit of 1 s")
    assert time.perf_counter() - t0 < 30


def test_read_statements_of_every_kind_run(store):
    for sql in (
        "SELECT 1 AS one",
        "WITH a AS (SELECT 2 AS two) SELECT * FROM a",
        "FROM variants",
        "DESCRIBE tradeoff",
        "SHOW TABLES",
        "SUMMARIZE variants",
        "EXPLAIN SELECT 1",
        "VALUES (1, 2)",
    ):
        res = invoke("sql", sql, "--store", store, "--format", "json")
        assert res.exit_code == 0, (sql, res.output)
        json.loads(res.stdout)


def test_allow_files_lets_a_person_export_and_read_files(store, tmp_path):
    out = tmp_path / "variants.csv"
    res = invoke("sql", f"COPY variants TO '{out}'", "--store", store, "--allow-files")
    assert res.exit_code == 0, res.output
    assert "kettle.cnn.w8" in out.read_text()
    res = invoke(
        "sql", f"SELECT count(*) AS n FROM read_csv('{out}')", "--store", store, "--allow-files"
    )
    assert res.exit_code == 0 and "1" in res.stdout
    # still one statement and no settings, even with files allowed
    assert_refused(invoke("sql", "SET threads = 1", "--store", store, "--allow-files"), "SET")


def test_output_formats_need_no_file_permission(store, tmp_path):
    out = tmp_path / "v.parquet"
    res = invoke(
        "sql", "SELECT * FROM variants", "--store", store, "--format", "parquet", "-o", out
    )
    assert res.exit_code == 0 and out.stat().st_size > 0
    res = invoke("sql", "SELECT * FROM variants", "--store", store, "--format", "csv")
    assert res.stdout.splitlines()[1].startswith("kettle.cnn.w8")


def test_sql_page_bounds_rows_and_says_so(store):
    df = queries.run_user_sql(store, "SELECT * FROM range(100000)", limit=50)
    assert len(df) == 50 and df.attrs["truncated"]
    df = queries.run_user_sql(store, "SELECT * FROM range(10)", limit=50)
    assert len(df) == 10 and not df.attrs["truncated"]


def test_sql_page_refuses_a_huge_cell_by_size(store):
    t0 = time.perf_counter()
    with pytest.raises(queries.UserQueryError, match="larger than"):
        queries.run_user_sql(store, "SELECT repeat('x', 200000000) AS s")
    assert time.perf_counter() - t0 < queries.SQL_TIME_LIMIT_S + 10


def test_sql_page_stops_at_its_time_limit(store):
    with pytest.raises(queries.UserQueryError, match="time limit"):
        queries.run_user_sql(store, RECURSIVE, timeout_s=1)


def test_a_long_sql_page_query_does_not_break_other_pages(store):
    """DuckDB refuses a second connection with another configuration to one file in one
    process; the SQL page's query runs elsewhere, so the other pages keep reading."""
    outcome = {}

    def long_query():
        try:
            queries.run_user_sql(store, RECURSIVE, timeout_s=4)
        except queries.UserQueryError as exc:
            outcome["sql"] = str(exc)

    worker = threading.Thread(target=long_query)
    worker.start()
    time.sleep(1.5)  # the user query is running now
    reads = 0
    while worker.is_alive():
        queries.tradeoff(store)
        queries.store_facts(store)
        reads += 1
    worker.join()
    assert reads > 0 and "time limit" in outcome["sql"]


def test_one_shared_rule_set():
    """The CLI and the page use the same checks (store.safe_sql); the page adds a size bound."""
    with pytest.raises(safe_sql.UnsafeQueryError, match="one statement"):
        safe_sql.check_query("SELECT 1; SELECT 2")
    assert safe_sql.check_query("EXPLAIN SELECT 1;") == "EXPLAIN SELECT 1"
    assert safe_sql.sandbox_config()["enable_external_access"] is False
    assert safe_sql.sandbox_config()["lock_configuration"] is True


def test_sql_page_workers_are_reused_and_a_stuck_one_is_replaced(store, monkeypatch):
    import os
    import signal

    from store import safe_sql, sql_workers

    def ask(sql, timeout_s=10.0):
        return sql_workers.run_query_isolated(
            store, sql, row_limit=10, timeout_s=timeout_s, max_bytes=1 << 20
        )

    sql_workers._POOL.close()
    ask("SELECT 1")
    (first,) = sql_workers._POOL.idle
    ask("SELECT 2")
    assert sql_workers._POOL.idle == [first] and first.served == 2  # no new process per query
    threads = ask("SELECT current_setting('threads') AS t").table.column("t").to_pylist()
    assert threads == [sql_workers.WORKER_THREADS] == [1]  # set at open: the config is locked
    with pytest.raises(safe_sql.UnsafeQueryError, match="time limit"):
        ask(RECURSIVE, timeout_s=1)  # interrupted inside the worker, which stays
    assert sql_workers._POOL.idle == [first]
    os.kill(first.proc.pid, signal.SIGSTOP)  # a worker that does not answer at all
    monkeypatch.setattr(sql_workers, "KILL_GRACE_S", 0.5)
    with pytest.raises(safe_sql.UnsafeQueryError, match="time limit"):
        ask("SELECT 3", timeout_s=1)
    assert first.proc.poll() is not None and sql_workers._POOL.idle == []  # killed, not reused
    assert ask("SELECT 42 AS x").table.column("x").to_pylist() == [42]


def test_a_query_gets_its_memory_budget_and_a_huge_one_fails_alone(store):
    """The bound is what a query may add to its worker: 10 M distinct values fit, every time;
    a query far past the budget fails with a clear message and only its worker is replaced."""
    from store import sql_workers

    def ask(sql):
        return sql_workers.run_query_isolated(
            store, sql, row_limit=10, timeout_s=60, max_bytes=1 << 20
        )

    sql_workers._POOL.close()
    huge = "SELECT length(string_agg(repeat('x', 1000), '')) AS n FROM range(10000000)"
    for _ in range(20):
        res = ask("SELECT count(DISTINCT range) AS n FROM range(10000000)")
        assert res.table.column("n").to_pylist() == [10_000_000]
        (worker,) = sql_workers._POOL.idle
        with pytest.raises(safe_sql.UnsafeQueryError, match="of memory a query may use"):
            ask(huge)
        assert worker.proc.poll() is not None and sql_workers._POOL.idle == []  # replaced
    assert ask("SELECT 42 AS x").table.column("x").to_pylist() == [42]


def test_a_sql_worker_keeps_its_connection_for_one_version_and_sees_the_next(store, tmp_path):
    """A worker reuses its open store between queries, but a republished store (a new file
    renamed over the path) is read at once, and a store that vanished is an error, not stale."""
    import os

    from store import sql_workers

    def marker_tables():
        res = sql_workers.run_query_isolated(
            store,
            "SELECT count(*) AS n FROM duckdb_tables() WHERE table_name = 'marker'",
            row_limit=10,
            timeout_s=30,
            max_bytes=1 << 20,
        )
        return res.table.column("n").to_pylist()[0]

    sql_workers._POOL.close()
    assert marker_tables() == 0
    assert marker_tables() == 0
    (worker,) = sql_workers._POOL.idle
    republish(store, tmp_path, "CREATE TABLE marker AS SELECT 42 AS v")
    assert marker_tables() == 1
    assert sql_workers._POOL.idle == [worker]  # the same process, reopened on the new version
    os.remove(store)
    with pytest.raises(Exception, match="store"):
        marker_tables()


def test_pipeline_sql_cuts_a_huge_cell_in_table_format(store):
    """Laying out a 50 MB cell as a table took minutes; the table shows its start and says so."""
    t0 = time.perf_counter()
    res = invoke("sql", "SELECT repeat('x', 50000000) AS big, 7 AS n", "--store", store)
    assert res.exit_code == 0, res.output
    assert time.perf_counter() - t0 < 30
    assert "… (cut, use --format csv)" in res.stdout and "1 cell(s) longer than" in res.stdout
    assert len(res.stdout) < 20_000
    res = invoke("sql", "SELECT repeat('x', 50000000) AS big", "--store", store, "--format", "csv")
    assert res.exit_code == 0 and res.stdout.splitlines()[1] == "x" * 50_000_000


# statements that would show where the store (or the server's home folder) lies: refused by
# name, or answered with the sandbox's neutral folders
PATH_PROBES = {
    "databases function": "SELECT * FROM duckdb_databases()",
    "databases view": "SELECT path FROM duckdb_databases",
    "database_list view": "SELECT * FROM pragma_database_list",
    "pragma database_list": "PRAGMA database_list",
    "settings function": "SELECT name, value FROM duckdb_settings()",
    "settings view": "SELECT * FROM pg_catalog.pg_settings",
    "temp_directory": "SELECT current_setting('temp_directory')",
    "allowed_paths": "SELECT current_setting('allowed_paths')",
    "a built setting name": "SELECT current_setting('allowed_' || 'paths')",
    "quoted name": 'SELECT * FROM "DuckDB_Databases"()',
    "query() around it": "SELECT * FROM query('SELECT * FROM duckdb_' || 'databases()')",
    "query_table() around it": "SELECT * FROM query_table('duckdb_databases')",
    "explained": "EXPLAIN SELECT * FROM duckdb_databases()",
    "extension error": "SELECT * FROM duckdb_extensions()",
    "secret error": "SELECT * FROM duckdb_secrets()",
    "repository error": "SELECT * FROM duckdb_extension_repositories()",
    "extension directory": "SELECT current_setting('extension_directory')",
}


def _no_server_path(text: str, store) -> None:
    from pathlib import Path

    for secret in (str(store.parent), str(Path.home())):
        assert secret not in text, f"{secret!r} shown in: {text[:300]}"


@pytest.mark.parametrize("case", list(PATH_PROBES))
def test_pipeline_sql_shows_no_server_path(case, store):
    res = invoke("sql", PATH_PROBES[case], "--store", store, "--format", "csv")
    _no_server_path(res.output, store)
    assert "Traceback" not in res.output


def test_the_sql_page_shows_no_server_path(store):
    for sql in PATH_PROBES.values():
        try:
            text = queries.run_user_sql(store, sql).to_csv()
        except queries.UserQueryError as exc:
            text = str(exc)
        _no_server_path(text, store)


def test_path_functions_are_refused_by_name_and_settings_still_read(store):
    with pytest.raises(safe_sql.UnsafeQueryError, match="shows the server's file paths"):
        safe_sql.check_query("SELECT * FROM duckdb_databases()")
    with pytest.raises(safe_sql.UnsafeQueryError, match="not a path"):
        safe_sql.check_query("SELECT current_setting('secret_directory')")
    res = safe_sql.run_query(
        store, "SELECT current_setting('threads') > 0 AS t, 'duckdb_settings' AS query"
    )
    assert res.table.column("query").to_pylist() == ["duckdb_settings"]
    with pytest.raises(safe_sql.UnsafeQueryError, match=safe_sql.NEUTRAL_HOME):
        safe_sql.run_query(store, "SELECT * FROM duckdb_secrets()")


def test_the_sql_page_keeps_a_repeatable_answer_for_its_store_version_only(store, tmp_path):
    """The same read on the same store version is answered once (a shared link opened by many);
    a republished store is read afresh, and a query whose answer can change (random(), now(),
    a table function) or a big answer is never kept."""

    from dashboard.queries.user_sql import repeatable
    from dashboard.store_reads import clear_caches

    assert repeatable("SELECT * FROM tradeoff ORDER BY f1 DESC LIMIT 50")
    assert repeatable("SELECT count(*), max(f1) FILTER (WHERE arch IN ('cnn')) FROM tradeoff")
    for changing in (
        "SELECT random()",
        "SELECT NOW()",
        "SELECT current_setting('threads')",
        "SELECT * FROM duckdb_memory()",
        "SELECT * FROM range (3)",
        "SELECT uuid() AS id",
        "SELECT current_timestamp",
        "select CURRENT_DATE, localtime",
        'SELECT "random"()',
        "SELECT random /* a comment */ ()",
        "SELECT * FROM reference_results USING SAMPLE 1 ROWS",
        "SELECT * FROM reference_results TABLESAMPLE 50%",
        "EXPLAIN ANALYZE SELECT 1",
    ):
        assert not repeatable(changing), changing
    clear_caches()
    sql = "SELECT count(*) AS n FROM duckdb_tables() WHERE table_name = 'marker'"
    assert not repeatable(sql)  # a table function: never kept
    count = "SELECT count(*) AS n FROM reference_results"
    first = queries.run_user_sql(store, count)
    again = queries.run_user_sql(store, count)
    assert not first.attrs["kept"] and again.attrs["kept"]
    assert again["n"].tolist() == first["n"].tolist()
    draws = {float(queries.run_user_sql(store, "SELECT random() AS r")["r"][0]) for _ in range(3)}
    assert len(draws) == 3  # run every time
    big = "SELECT lpad('', 2000, 'x') AS s FROM reference_results a, reference_results b LIMIT 3000"
    assert repeatable(big) and len(queries.run_user_sql(store, big)) == 3000
    assert not queries.run_user_sql(store, big).attrs["kept"]  # 6 MB, over 1 MB: not kept

    republish(
        store, tmp_path, "INSERT INTO reference_results SELECT * FROM reference_results LIMIT 1"
    )
    after = queries.run_user_sql(store, count)
    assert not after.attrs["kept"] and after["n"].tolist() == [first["n"][0] + 1]
