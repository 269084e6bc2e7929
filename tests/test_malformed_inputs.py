"""Hostile and broken inputs through the real CLI: each is refused with exit code 1 and one line
`error: <file or field>: <what was expected>`, never a traceback, and leaves the store as it was."""

from __future__ import annotations

import gzip
import json
import os
import shutil
from pathlib import Path

import pytest

from store import db

from .cli_support import SHA, VARIANT, assert_refused, invoke, run_count, tiny_store

DATA = Path(__file__).with_name("data")
BENCH_TEXT = (DATA / "benchmark_rpi4_w8.txt").read_text()


def _bench(tmp: Path, timings: str | None = None, op_avg: str | None = None) -> Path:
    text = BENCH_TEXT
    if timings is not None:
        lines = [
            f"Timings (microseconds): {timings}" if "Timings (microseconds)" in line else line
            for line in text.splitlines()
        ]
        text = "\n".join(lines)
    if op_avg is not None:
        text = text.replace("FULLY_CONNECTED", "FULLY_CONNECTED", 1)
        lines = text.splitlines()
        i = next(i for i, line in enumerate(lines) if "Run Order" in line)
        j = next(k for k in range(i + 1, len(lines)) if "FULLY_CONNECTED" in lines[k])
        cells = lines[j].split("\t")
        # the avg ms column of the run-order table (header: node type, first, avg ms, ...)
        header = [c.strip().strip("[]").lower() for c in lines[j - 1].split("\t")]
        cells[header.index("avg ms")] = op_avg
        lines[j] = "\t".join(cells)
        text = "\n".join(lines)
    path = tmp / "bench.txt"
    path.write_text(text)
    return path


def _kit(tmp: Path, doc) -> Path:
    path = tmp / "results.json"
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


def _result(**over):
    r = {
        "variant_id": VARIANT,
        "sha256": SHA,
        "threads": 1,
        "xnnpack": True,
        "latency": {
            "runs": 10,
            "mean_ms": 1.0,
            "median_ms": 1.0,
            "p90_ms": 1.2,
            "std_ms": 0.1,
            "min_ms": 0.9,
        },
    }
    r.update(over)
    return r


def _kit_doc(results):
    return {"format": "nilm-edge-kit-results/1", "host": {"host": "pi"}, "results": results}


def _wide_csv(tmp: Path, times: list[str]) -> Path:
    folder = tmp / "raw"
    folder.mkdir(exist_ok=True)
    rows = ["time,aggregate,kettle"] + [f"{t},{100 + i},{i % 2}" for i, t in enumerate(times)]
    (folder / "House1.csv").write_text("\n".join(rows) + "\n")
    return folder


def _data_args(store: Path, folder: Path):
    return ["data", "--source", "csv", "--path", folder, "--profile", "smoke"]


def _edge(doc_or_text):
    return lambda tmp, store: ["ingest-edge-kit", _kit(tmp, doc_or_text), "--store", store]


def _benchmark(threads="4", **kw):
    return lambda tmp, store: [
        "ingest-benchmark",
        _bench(tmp, **kw),
        "--host",
        "rpi4",
        "--variant",
        VARIANT,
        "--threads",
        threads,
        "--store",
        store,
    ]


def _kit_host(name, flag: str | None = None):
    """An edge kit whose host name is ``name``, in the file or (``flag``) given as --host."""
    doc = {**_kit_doc([_result()]), "host": {"host": "pi" if flag else name}}
    extra = ["--host", flag] if flag else []
    return lambda tmp, store: ["ingest-edge-kit", _kit(tmp, doc), *extra, "--store", store]


def _benchmark_host(name):
    return lambda tmp, store: [
        "ingest-benchmark",
        _bench(tmp),
        "--host",
        name,
        "--variant",
        VARIANT,
        "--store",
        store,
    ]


def _mixed_tz(tmp, store):
    folder = _wide_csv(
        tmp, ["2014-01-01 00:00:00+00:00", "2014-01-01 00:00:08", "2014-01-01 00:00:16+00:00"]
    )
    return [*_data_args(store, folder), "-a", "kettle", "--store", store]


def _corrupt_parquet(tmp, store):
    folder = tmp / "raw"
    folder.mkdir()
    (folder / "House1.parquet").write_bytes(b"PAR1" + os.urandom(2000) + b"PAR1")
    return [*_data_args(store, folder), "-a", "kettle", "--store", store]


def _truncated_gzip(tmp, store):
    folder = tmp / "raw"
    folder.mkdir()
    body = "time,aggregate,kettle\n" + "".join(
        f"2014-01-01 00:{i // 60 % 60:02d}:{i % 60:02d},{100 + i},0\n" for i in range(3000)
    )
    blob = gzip.compress(body.encode())
    (folder / "House1.csv.gz").write_bytes(blob[: len(blob) // 2])
    return [*_data_args(store, folder), "-a", "kettle", "--store", store]


def test_refit_error_names_the_file_line_counting_dropped_rows(tmp_path):
    """Lines 3-6 have empty cells and are dropped; the timestamp goes backwards on line 12."""
    from pipeline.data.reader_refit import read_refit_house
    from pipeline.errors import DataError
    from store.vocab import Appliance

    rows = ["Time,Unix,Aggregate,Appliance8,Issues"]
    for i in range(20):
        line = 2 + i
        agg = "" if 3 <= line <= 6 else "100"
        unix = 1388534400 + 8 * i if line != 12 else 1388534400
        rows.append(f"2014-01-01 00:00:00,{unix},{agg},1,0")
    path = tmp_path / "CLEAN_House2.csv"
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(DataError, match=r"CLEAN_House2.csv: line 12: timestamp goes backwards"):
        read_refit_house(path, {Appliance.KETTLE: 8})


def test_wide_error_names_the_file_line_counting_dropped_rows(tmp_path):
    from pipeline.data.reader_wide import read_wide_files
    from pipeline.errors import DataError

    rows = ["time,aggregate,kettle"]
    for i in range(20):
        line = 2 + i
        agg = "" if line in (4, 5) else "100"
        sec = 8 * i if line != 15 else 0
        rows.append(f"2014-01-01 00:{sec // 60:02d}:{sec % 60:02d},{agg},1")
    path = tmp_path / "House1.csv"
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(DataError, match=r"House1.csv: line 15: timestamp goes backwards"):
        read_wide_files([path], "1")


def _store_file(kind):
    def build(tmp, store):
        bad = tmp / "bad.duckdb"
        if kind == "text":
            bad.write_text("not a database\n" * 100)
        elif kind == "empty":
            bad.write_bytes(b"")
        elif kind == "folder":
            bad.mkdir()
        elif kind == "truncated":
            data = store.read_bytes()
            bad.write_bytes(data[: len(data) * 2 // 3])
        return ["status", "--store", bad]

    return build


def _sql_on(kind):
    def build(tmp, store):
        args = _store_file(kind)(tmp, store)
        return ["sql", "SELECT 1", "--store", args[-1]]

    return build


def _ingest_into_truncated(tmp, store):
    bad = tmp / "bad.duckdb"
    data = store.read_bytes()
    bad.write_bytes(data[: len(data) * 2 // 3])
    return ["ingest-edge-kit", _kit(tmp, _kit_doc([_result()])), "--store", bad]


def _ingest_store_under_a_file(tmp, store):
    return ["ingest-edge-kit", _kit(tmp, _kit_doc([_result()])), "--store", store / "x.duckdb"]


DATA_STAGE = (_mixed_tz, _corrupt_parquet, _truncated_gzip)

CASES = {
    # raw data
    "csv mixed time zones": (_mixed_tz, ["House1.csv", "line 3", "time zone"]),
    "corrupt parquet": (_corrupt_parquet, ["House1.parquet", "not a readable Parquet"]),
    "truncated gzip": (_truncated_gzip, ["House1.csv.gz", "truncated"]),
    # edge-kit JSON
    "edge kit: an array": (_edge([1, 2]), ["results.json", "expected a JSON object"]),
    "edge kit: null": (_edge("null"), ["results.json", "expected a JSON object"]),
    "edge kit: not JSON": (_edge("{'a': 1"), ["results.json", "not JSON"]),
    "edge kit: results not a list": (
        _edge({**_kit_doc([]), "results": {"a": 1}}),
        ["results", "expected a list"],
    ),
    "edge kit: missing threads": (
        _edge(_kit_doc([{k: v for k, v in _result().items() if k != "threads"}])),
        ["results[0].threads", "expected a whole number"],
    ),
    "edge kit: missing latency": (
        _edge(_kit_doc([{k: v for k, v in _result().items() if k != "latency"}])),
        ["results[0].latency", "expected an object"],
    ),
    "edge kit: threads 1e400": (
        _edge(json.dumps(_kit_doc([_result()])).replace('"threads": 1', '"threads": 1e400')),
        ["results[0].threads", "expected a whole number"],
    ),
    "edge kit: huge integer": (
        _edge(json.dumps(_kit_doc([_result()])).replace('"runs": 10', '"runs": ' + "9" * 200)),
        ["results[0].latency.runs", "expected a whole number"],
    ),
    "edge kit: integer past Python's digit limit": (
        _edge(json.dumps(_kit_doc([_result()])).replace('"runs": 10', '"runs": ' + "9" * 5000)),
        ["results.json", "unreadable JSON value"],
    ),
    "edge kit: string latency": (
        _edge(_kit_doc([_result(latency={**_result()["latency"], "median_ms": "fast"})])),
        ["results[0].latency.median_ms", "expected a number"],
    ),
    "edge kit: deep nesting": (_edge("[" * 100_000 + "]" * 100_000), ["results.json", "nested"]),
    "edge kit: unknown variant": (
        _edge(_kit_doc([_result(variant_id="nope")])),
        ["results[0].variant_id", "not in the store"],
    ),
    # host names: stored verbatim, they name the machine on every page and in file names
    "edge kit: host ../../etc": (_kit_host("../../etc"), ["results.json", "host.host", "path"]),
    "edge kit: host ..": (_kit_host(".."), ["results.json", "host.host", "'..'"]),
    "edge kit: host with a backslash": (_kit_host("a\\b"), ["host.host", "path separator"]),
    "edge kit: host with U+202E": (_kit_host("pi\u202egnp.exe"), ["host.host", "U+202E"]),
    "edge kit: host with a zero-width space": (_kit_host("pi\u200b"), ["U+200B"]),
    "edge kit: host with a newline": (_kit_host("pi\nerror: forged"), ["U+000A"]),
    "edge kit: host with NUL": (_kit_host("pi\x00"), ["U+0000"]),
    "edge kit: blank host": (_kit_host("   "), ["host.host", "expected a host name"]),
    "edge kit: host not a string": (_kit_host(42), ["host.host", "expected a host name"]),
    "edge kit: over-long host": (_kit_host("p" * 101), ["host.host", "more than 100"]),
    "edge kit: --host ../x": (_kit_host("", flag="../x"), ["results.json", "--host", "path"]),
    "benchmark: --host ../../x": (_benchmark_host("../../x"), ["bench.txt", "--host", "path"]),
    "benchmark: --host with U+202E": (_benchmark_host("a\u202eb"), ["--host", "U+202E"]),
    "benchmark: empty --host": (_benchmark_host(""), ["bench.txt", "--host", "expected a host"]),
    # benchmark_model output
    "benchmark: avg 1e308": (
        _benchmark(timings="count=10 first=1 curr=1 min=1 max=2 avg=1e308 std=0"),
        ["bench.txt", "avg", "expected a number"],
    ),
    "benchmark: count -5": (
        _benchmark(timings="count=-5 first=1 curr=1 min=1 max=2 avg=3 std=0"),
        ["bench.txt", "count", "expected a number"],
    ),
    "benchmark: NaN op time": (_benchmark(op_avg="nan"), ["bench.txt", "avg ms", "expected"]),
    "benchmark: --threads -3": (_benchmark(threads="-3"), ["--threads", "expected"]),
    # the store itself
    "store: not a DuckDB file": (_store_file("text"), ["bad.duckdb", "not a DuckDB"]),
    "store: empty file": (_store_file("empty"), ["bad.duckdb", "empty file"]),
    "store: a folder": (_store_file("folder"), ["bad.duckdb", "folder"]),
    "store: truncated (status)": (_store_file("truncated"), ["bad.duckdb", "truncated"]),
    "store: truncated (sql)": (_sql_on("truncated"), ["bad.duckdb", "truncated"]),
    "store: truncated (ingest)": (_ingest_into_truncated, ["bad.duckdb", "truncated"]),
    "store: under a file (ingest)": (_ingest_store_under_a_file, ["x.duckdb"]),
    "store: missing (status)": (
        lambda tmp, store: ["status", "--store", tmp / "typo" / "nilm.duckdb"],
        ["nilm.duckdb", "no store here"],
    ),
    # queries
    "sql: empty query": (lambda tmp, store: ["sql", "", "--store", store], ["empty query"]),
    "sql: only a comment": (
        lambda tmp, store: ["sql", "/* nothing */ ;", "--store", store],
        ["query"],
    ),
    "config: unknown --set key": (
        lambda tmp, store: ["convert", "--profile", "smoke", "--set", "nope=1", "--store", store],
        ["nope", "valid keys"],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_malformed_input_is_refused_in_one_line(case, tmp_path):
    build, fragments = CASES[case]
    store = tiny_store(tmp_path / "nilm.duckdb")
    before = store.read_bytes()
    res = invoke(*build(tmp_path, store))
    if case == "config: unknown --set key":
        # the message lists every valid key on its own lines after the first
        assert res.exit_code == 1 and isinstance(res.exception, SystemExit)
        assert "nope" in res.stderr and "valid keys" in res.stderr
        assert "Traceback" not in res.output
    else:
        assert_refused(res, *fragments)
    assert db.query_df(store, "SELECT count(*) FROM latency").iloc[0, 0] == 0
    assert db.query_df(store, "SELECT count(*) FROM datasets").iloc[0, 0] == 0
    if build in DATA_STAGE:  # bad data is found by the data stage: its run is recorded as failed
        statuses = db.query_df(store, "SELECT status FROM runs")["status"].tolist()
        assert statuses == ["failed"]
    else:  # refused before anything ran: no run recorded, the file unchanged
        assert run_count(store) == 0 and store.read_bytes() == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_folder_is_a_clear_error(tmp_path):
    store = tiny_store(tmp_path / "ro" / "nilm.duckdb")
    kit = _kit(tmp_path, _kit_doc([_result()]))
    os.chmod(store.parent, 0o555)
    try:
        assert_refused(invoke("ingest-edge-kit", kit, "--store", store), "nilm.duckdb")
    finally:
        os.chmod(store.parent, 0o755)


def test_mistyped_store_creates_nothing(tmp_path):
    typo = tmp_path / "typo" / "nilm.duckdb"
    for args in (
        ["status"],
        ["sql", "SELECT 1"],
        ["export-edge-kit", tmp_path / "kit"],
        ["export-model-explorer", VARIANT, "--out", tmp_path / "me"],
        ["ingest-edge-kit", _kit(tmp_path, _kit_doc([_result()]))],
    ):
        assert_refused(invoke(*args, "--store", typo), "nilm.duckdb", "no store here")
    assert not typo.parent.exists() and not (tmp_path / "kit").exists()


def test_valid_inputs_still_load(tmp_path):
    """The checks refuse what is broken, not what is merely unusual."""
    store = tiny_store(tmp_path / "nilm.duckdb")
    doc = _kit_doc([_result(threads=2.0, phases={"baseline": 30.0, "peak": 42.5})])
    res = invoke("ingest-edge-kit", _kit(tmp_path, doc), "--store", store)
    assert res.exit_code == 0, res.output
    t = db.query_df(store, "SELECT * FROM tradeoff WHERE host = 'pi'")
    assert len(t) == 1 and t["threads"].iloc[0] == 2 and t["ram_mb"].iloc[0] == 12.5
    shutil.rmtree(tmp_path / "raw", ignore_errors=True)
