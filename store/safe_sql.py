"""Ad-hoc SQL from a person, run safely: the one implementation behind `pipeline sql` and the
dashboard's SQL page.

The rules: exactly one read statement (SELECT, WITH, FROM, VALUES, DESCRIBE, SHOW, SUMMARIZE,
EXPLAIN), a read-only connection that can reach no file and no network (DuckDB's
``enable_external_access = false``, locked so the query cannot turn it back on, extensions never
installed or loaded), a time limit (the connection is interrupted from a timer thread), and
optional limits on rows and bytes of the result. ``allow_files`` lifts the file rule (and admits
COPY ... TO / EXPORT) for a person's own exports from the command line; nothing else changes.

The dashboard runs each query in a separate worker process (`run_query_isolated`): DuckDB refuses
a second connection to one file with a different configuration inside one process, so a
sandboxed user query in the server process would break every other page's reads while it runs;
and a worker can be killed, and its memory is returned, whatever the query does.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import select
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

READ_STATEMENTS = {"SELECT", "EXPLAIN"}
FILE_STATEMENTS = {"COPY", "EXPORT"}
BATCH_ROWS = 2048
EXPLAIN_PREFIX = re.compile(r"^\s*EXPLAIN\s+(?:ANALYZE\s+|ANALYSE\s+|\([^)]*\)\s*)?", re.I)


class UnsafeQueryError(ValueError):
    """A query that is refused, fails or runs past a limit; the message is for the person."""


@dataclass
class QueryResult:
    table: pa.Table
    truncated: bool  # rows were cut at the row limit

    def to_df(self):
        df = self.table.to_pandas()
        df.attrs["truncated"] = self.truncated
        return df


def sandbox_config(allow_files: bool = False) -> dict:
    return {
        "enable_external_access": bool(allow_files),
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "allow_community_extensions": False,
        "lock_configuration": True,
    }


def check_query(sql: str, allow_files: bool = False) -> str:
    """The statement to run, or UnsafeQueryError saying why it is refused."""
    text = (sql or "").strip()
    if not text or not text.rstrip(";").strip():
        raise UnsafeQueryError("empty query: expected one SELECT statement")
    try:
        statements = duckdb.extract_statements(text)
    except duckdb.Error as exc:
        raise UnsafeQueryError(f"syntax error: {_first_line(exc)}") from exc
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
    if kind == "EXPLAIN":
        inner = EXPLAIN_PREFIX.sub("", text, count=1)
        check_query(inner, allow_files)
    return text.rstrip().rstrip(";")


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _mb(n: int) -> str:
    return f"{n / 1e6:.0f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"


def open_sandboxed(store: Path, allow_files: bool = False) -> duckdb.DuckDBPyConnection:
    from store.db import connect_readonly

    return connect_readonly(Path(store), config=sandbox_config(allow_files), check_version=False)


def run_query(
    store: Path,
    sql: str,
    *,
    row_limit: int | None = None,
    timeout_s: float = 30.0,
    max_bytes: int | None = None,
    allow_files: bool = False,
) -> QueryResult:
    """Run one checked statement in this process under the sandbox and the limits."""
    text = check_query(sql, allow_files)
    con = open_sandboxed(store, allow_files)
    timer = threading.Timer(timeout_s, con.interrupt)
    timer.daemon = True
    timer.start()
    try:
        return _fetch(con, text, row_limit, max_bytes)
    except duckdb.InterruptException as exc:
        raise UnsafeQueryError(f"query stopped after its time limit of {timeout_s:g} s") from exc
    except duckdb.Error as exc:
        raise UnsafeQueryError(f"{type(exc).__name__}: {_first_line(exc)}") from exc
    finally:
        timer.cancel()
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


# -- the dashboard's query processes ---------------------------------------------------------
# A few long-lived worker processes, started on first use and reused, answer the SQL page: each
# takes one request at a time, opens the store read-only for that query alone and closes it. A
# worker that runs past the time limit, dies, or grows past its memory bound is killed and
# replaced, so a runaway query costs one process, never the server. Reuse matters on a busy
# 2-core machine: starting Python and importing DuckDB costs about a second per process.
POOL_SIZE = max(2, os.cpu_count() or 1)
KILL_GRACE_S = 5.0  # past the query's own limit, a worker that has not answered is killed
CHILD_START_S = 10.0  # a new worker's start-up (Python + DuckDB import) on a busy machine
CHILD_MEMORY_BYTES = 3 << 30  # address space of one query process: a runaway query fails there
RECYCLE_RSS_BYTES = 512 << 20  # a worker holding more than this after a query is replaced
RECYCLE_AFTER = 500  # queries per worker before it is replaced anyway


class _Worker:
    def __init__(self) -> None:
        root = str(Path(__file__).resolve().parents[1])
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "store.safe_sql"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        self.pipe = _Pipe(self.proc.stdout.fileno())
        self.served = 0
        self.started = False  # has answered at least once (start-up time is paid)

    def ask(self, request: dict, timeout_s: float) -> tuple[dict, bytes]:
        """Send one request, wait for its answer; raise TimeoutError or EOFError."""
        grace = KILL_GRACE_S + (0.0 if self.started else CHILD_START_S)
        deadline = time.monotonic() + timeout_s + grace
        self.proc.stdin.write(json.dumps(request).encode() + b"\n")
        self.proc.stdin.flush()
        status = json.loads(self.pipe.line(deadline))
        body = self.pipe.exact(int(status.get("nbytes", 0)), deadline)
        self.served += 1
        self.started = True
        return status, body

    def healthy(self) -> bool:
        if self.proc.poll() is not None or self.served >= RECYCLE_AFTER:
            return False
        try:
            pages = int(Path(f"/proc/{self.proc.pid}/statm").read_text().split()[1])
        except (OSError, ValueError, IndexError):
            return True
        return pages * os.sysconf("SC_PAGE_SIZE") <= RECYCLE_RSS_BYTES

    def kill(self) -> None:
        try:
            self.proc.kill()
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            pass


class _Pipe:
    """Reads a worker's answers with a deadline: a line, then an exact number of bytes."""

    def __init__(self, fd: int) -> None:
        self.fd, self.buf = fd, bytearray()

    def line(self, deadline: float) -> bytes:
        while b"\n" not in self.buf:
            self._fill(deadline)
        head, _, rest = bytes(self.buf).partition(b"\n")
        self.buf = bytearray(rest)
        return head

    def exact(self, n: int, deadline: float) -> bytes:
        while len(self.buf) < n:
            self._fill(deadline)
        out, self.buf = bytes(self.buf[:n]), self.buf[n:]
        return out

    def _fill(self, deadline: float) -> None:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([self.fd], [], [], left)[0]:
            raise TimeoutError
        chunk = os.read(self.fd, 1 << 20)
        if not chunk:
            raise EOFError
        self.buf += chunk


class _Pool:
    def __init__(self, size: int) -> None:
        self.slots = threading.BoundedSemaphore(size)
        self.idle: list[_Worker] = []
        self.lock = threading.Lock()

    def take(self) -> _Worker:
        with self.lock:
            if self.idle:
                return self.idle.pop()
        return _Worker()

    def give_back(self, worker: _Worker) -> None:
        if worker.healthy():
            with self.lock:
                self.idle.append(worker)
        else:
            worker.kill()

    def close(self) -> None:
        with self.lock:
            workers, self.idle = self.idle, []
        for w in workers:
            w.kill()


_POOL = _Pool(POOL_SIZE)
atexit.register(_POOL.close)


def run_query_isolated(
    store: Path,
    sql: str,
    *,
    row_limit: int,
    timeout_s: float,
    max_bytes: int,
) -> QueryResult:
    """`run_query` in a worker process that is killed at the time limit; a few at a time."""
    check_query(sql)  # refuse early, without a process
    if not _POOL.slots.acquire(timeout=timeout_s):
        raise UnsafeQueryError("the server is busy with other SQL queries; try again in a moment")
    try:
        request = {
            "store": str(store),
            "sql": sql,
            "row_limit": row_limit,
            "timeout_s": timeout_s,
            "max_bytes": max_bytes,
        }
        return _ask_a_worker(request, timeout_s)
    finally:
        _POOL.slots.release()


def _ask_a_worker(request: dict, timeout_s: float) -> QueryResult:
    worker = _POOL.take()
    try:
        status, body = worker.ask(request, timeout_s)
    except TimeoutError:
        worker.kill()
        raise UnsafeQueryError(f"query stopped after its time limit of {timeout_s:g} s") from None
    except (EOFError, OSError, ValueError) as exc:
        worker.kill()
        raise UnsafeQueryError(
            f"the query process failed ({type(exc).__name__}); the query may have needed more "
            f"than {_mb(CHILD_MEMORY_BYTES)} of memory"
        ) from None
    _POOL.give_back(worker)
    if "error" in status:
        if status.get("kind") == "store":
            from store.db import StoreError

            raise StoreError(status["error"])
        raise UnsafeQueryError(status["error"])
    table = pa.ipc.open_stream(body).read_all()
    return QueryResult(table, bool(status["truncated"]))


def _child_main() -> None:
    """A query worker: one JSON request per line on stdin, one answer each on stdout."""
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (CHILD_MEMORY_BYTES, CHILD_MEMORY_BYTES))
    for line in sys.stdin.buffer:
        if line.strip():
            _answer(json.loads(line))


def _answer(req: dict) -> None:
    from store.db import StoreError

    try:
        res = run_query(
            req["store"],
            req["sql"],
            row_limit=req["row_limit"],
            timeout_s=req["timeout_s"],
            max_bytes=req["max_bytes"],
        )
    except StoreError as exc:
        _child_write({"error": str(exc), "kind": "store"})
        return
    except UnsafeQueryError as exc:
        _child_write({"error": str(exc)})
        return
    except (MemoryError, OSError) as exc:  # DuckDB's out-of-memory surfaces as an OSError
        if isinstance(exc, MemoryError) or "memory" in str(exc).lower():
            text = (
                f"query or result larger than the {_mb(CHILD_MEMORY_BYTES)} of memory a query "
                "may use; select fewer or shorter columns"
            )
        else:
            text = f"{type(exc).__name__}: {_first_line(exc)}"
        _child_write({"error": text})
        return
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, res.table.schema) as writer:
        writer.write_table(res.table)
    _child_write({"truncated": res.truncated, "rows": res.table.num_rows}, sink.getvalue())


def _child_write(status: dict, body: bytes | pa.Buffer = b"") -> None:
    out = sys.stdout.buffer
    view = memoryview(body)
    out.write(json.dumps({**status, "nbytes": view.nbytes}).encode() + b"\n")
    out.write(view)
    out.flush()


if __name__ == "__main__":
    _child_main()
