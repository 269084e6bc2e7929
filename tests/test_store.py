import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time

import duckdb
import pytest

from store import db


def test_schema_applies_to_fresh_file_and_everything_is_commented(store_path):
    db.ensure_store(store_path)
    con = db.connect_readonly(store_path)
    try:
        assert db.schema_version(con) == db.SCHEMA_VERSION
        tables = con.execute(
            "SELECT table_name, comment FROM duckdb_tables() WHERE schema_name = 'main'"
        ).fetchall()
        views = con.execute(
            "SELECT view_name, comment FROM duckdb_views() WHERE schema_name = 'main' AND NOT internal"
        ).fetchall()
        uncommented_cols = con.execute(
            "SELECT c.table_name, c.column_name FROM duckdb_columns() c "
            "WHERE c.schema_name = 'main' AND NOT c.internal AND (c.comment IS NULL OR c.comment = '')"
        ).fetchall()
        refs = con.execute("SELECT count(*) FROM reference_results").fetchall()[0][0]
    finally:
        con.close()
    assert len(tables) >= 15
    assert all(comment for _, comment in tables), tables
    assert {"tradeoff", "metrics_wide", "op_type_summary", "memory_peak", "throughput"} <= {
        v for v, _ in views
    }
    assert all(comment for _, comment in views)
    assert uncommented_cols == []
    assert refs > 200  # the article's published numbers ship with the project


def test_tradeoff_on_empty_store_has_columns_and_no_rows(store_path):
    db.ensure_store(store_path)
    df = db.query_df(store_path, "SELECT * FROM tradeoff")
    assert df.empty
    assert {
        "variant_id",
        "f1",
        "latency_ms",
        "ram_mb",
        "disk_mb",
        "host",
        "runtime",
        "threads",
    } <= set(df.columns)


def test_the_views_metric_columns_are_the_registry_flags(store_path):
    """metrics_wide pivots the registry's ``wide`` metrics, the tradeoff view shows its
    ``tradeoff`` columns: a metric flagged there and missing from the SQL (or the reverse) fails."""
    from store.vocab import METRICS, TRADEOFF_COLUMNS, WIDE_METRICS

    db.ensure_store(store_path)
    names = {m.value for m in METRICS}
    wide = set(db.query_df(store_path, "SELECT * FROM metrics_wide").columns)
    assert wide & names == set(WIDE_METRICS)
    tradeoff = set(db.query_df(store_path, "SELECT * FROM tradeoff").columns)
    assert set(TRADEOFF_COLUMNS) <= tradeoff
    assert tradeoff & (names | {f"{m}_w" for m in names}) == set(TRADEOFF_COLUMNS)


def test_failed_write_leaves_store_untouched(store_path):
    db.ensure_store(store_path)
    before = store_path.read_bytes()
    with pytest.raises(RuntimeError), db.write_store(store_path) as con:
        con.execute("INSERT INTO meta VALUES ('marker', 'x')")
        raise RuntimeError("boom")
    assert store_path.read_bytes() == before
    assert not [p for p in store_path.parent.iterdir() if p.name.endswith(".tmp")]


def test_store_of_other_schema_version_is_refused(store_path):
    db.ensure_store(store_path)
    con = duckdb.connect(str(store_path))
    con.execute("UPDATE meta SET value = '0' WHERE key = 'schema_version'")
    con.close()
    with pytest.raises(db.StoreError, match="schema version"):
        db.connect_readonly(store_path)


def _reader(path, stop_at, out):
    errors, reads = [], 0
    while time.time() < stop_at:
        try:
            con = db.connect_readonly(path)
            n = con.execute("SELECT count(*) FROM meta WHERE key LIKE 'k%'").fetchall()[0][0]
            con.close()
            if n % 100:  # every write adds 100 keys in one swap: a reader sees all or none
                errors.append(f"partial state: {n}")
            reads += 1
        except Exception as exc:  # noqa: BLE001
            errors.append(repr(exc))
    out.put((reads, errors))


def test_readers_in_another_process_never_block_or_see_half_writes(store_path):
    db.ensure_store(store_path)
    q = mp.get_context("spawn").Queue()
    p = mp.get_context("spawn").Process(target=_reader, args=(store_path, time.time() + 4, q))
    p.start()
    for i in range(8):
        with db.write_store(store_path) as con:
            con.executemany("INSERT INTO meta VALUES (?, 'v')", [[f"k{i}_{j}"] for j in range(100)])
            time.sleep(0.05)
    reads, errors = q.get(timeout=30)
    p.join()
    assert errors == []
    assert reads > 5


KILL_SCRIPT = """
import sys, time
from store import db
with db.write_store(sys.argv[1]) as con:
    con.executemany("INSERT INTO meta VALUES (?, 'x')", [[f"junk{i}"] for i in range(1000)])
    print("writing", flush=True)
    time.sleep(60)
"""


def test_sigkill_mid_write_leaves_old_store_readable(store_path):
    db.ensure_store(store_path)
    proc = subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT, str(store_path)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "writing"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    con = db.connect_readonly(store_path)
    try:
        assert con.execute("SELECT count(*) FROM meta WHERE key LIKE 'junk%'").fetchall()[0][0] == 0
    finally:
        con.close()
    # the next writer is not blocked by the dead one and publishes normally
    with db.write_store(store_path) as con:
        con.execute("INSERT INTO meta VALUES ('after', 'ok')")
    assert db.query_df(store_path, "SELECT value FROM meta WHERE key = 'after'").iloc[0, 0] == "ok"


def test_copies_left_by_a_killed_writer_are_cleaned(store_path):
    db.ensure_store(store_path)
    stale = store_path.with_name(f".{store_path.name}.999999.deadbeef.tmp")
    stale.write_bytes(b"junk")
    with db.write_store(store_path):
        pass
    assert not stale.exists()


def test_new_store_files_use_a_storage_format_duckdb_1x_reads(tmp_path):
    import struct

    store = tmp_path / "compat.duckdb"
    db.ensure_store(store)
    with db.write_store(store) as con:  # a later publish keeps the format
        con.execute("INSERT INTO meta VALUES ('k', 'v')")
    head = store.read_bytes()[:20]
    assert head[8:12] == b"DUCK"
    # storage version numbers 64-67 are what DuckDB 1.0-1.4 read; 2.x's own format is 999
    assert 64 <= struct.unpack("<Q", head[12:20])[0] <= 67
