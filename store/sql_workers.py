"""The worker processes behind the dashboard's SQL page (see store/safe_sql.py for the rules).

A few long-lived worker processes, started on first use and reused, answer the SQL page: each
takes one request at a time on a read-only connection that it keeps while the store file stays
the same version and closes when idle (_OpenStore). A worker that runs past the time limit,
dies, runs out of its memory, or grows past its recycle bound is killed and replaced, so a runaway query costs one process, never the server. Reuse
matters on a busy 2-core machine: starting Python and importing DuckDB costs about a second per
process.

Memory: a query may use QUERY_MEMORY_BYTES on top of what its worker already holds. DuckDB
enforces that bound itself (its ``memory_limit``, locked), and the worker's address space is
capped at its own measured baseline (Python, DuckDB, Arrow and DuckDB's threads, after a warm-up
query) plus that budget plus HEADROOM_BYTES for what DuckDB does not count, so the cap never eats
into the promised budget. A query that needs more fails alone with a clear message, and its
worker is replaced.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import select
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow as pa

from store.file_checks import first_line
from store.safe_sql import (
    QueryMemoryError,
    QueryResult,
    UnsafeQueryError,
    _mb,
    check_query,
    open_sandboxed,
    run_query,
)

POOL_SIZE = max(2, os.cpu_count() or 1)
# one DuckDB thread per worker: the pool already runs one query per core, and the SQL page's
# typical query (the tradeoff view, 4k metric rows) is faster on one thread (17 vs 22 ms here)
# than split across cores the dashboard's server needs too
WORKER_THREADS = 1
KILL_GRACE_S = 5.0  # past the query's own limit, a worker that has not answered is killed
CHILD_START_S = 10.0  # a new worker's start-up (Python + DuckDB import) on a busy machine
QUERY_MEMORY_BYTES = 2 << 30  # what one query may add to its worker (DuckDB's memory_limit)
HEADROOM_BYTES = 1 << 30  # address space for what DuckDB does not count (Arrow, Python, stacks)
RECYCLE_RSS_BYTES = 512 << 20  # a worker holding more than this after a query is replaced
RECYCLE_AFTER = 500  # queries per worker before it is replaced anyway
IDLE_CLOSE_S = 5.0  # a worker with no query for this long closes its store connection
# past this after a query, the worker closes its connection before answering, so the memory
# DuckDB kept for it is returned and the worker stays under RECYCLE_RSS_BYTES
KEEP_OPEN_RSS_BYTES = RECYCLE_RSS_BYTES // 2
# glibc reserves 64 MB of address space per malloc arena, up to 8 per core: two are plenty for
# one query at a time, and keep the worker's baseline (and so its cap) small and predictable
WORKER_ENV = {"MALLOC_ARENA_MAX": "2"}


class _Worker:
    def __init__(self) -> None:
        root = str(Path(__file__).resolve().parents[1])
        env = {
            **os.environ,
            **WORKER_ENV,
            "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "store.sql_workers", str(QUERY_MEMORY_BYTES)],
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
    store: Path, sql: str, *, row_limit: int, timeout_s: float, max_bytes: int
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
            f"than the {_mb(QUERY_MEMORY_BYTES)} of memory a query may use"
        ) from None
    if status.get("replace"):  # it ran out of memory: a fresh process for the next query
        worker.kill()
    else:
        _POOL.give_back(worker)
    if "error" in status:
        if status.get("kind") == "store":
            from store.db import StoreError

            raise StoreError(status["error"])
        raise UnsafeQueryError(status["error"])
    table = pa.ipc.open_stream(body).read_all()
    return QueryResult(table, bool(status["truncated"]))


def _rss() -> int:
    """This process's resident memory in bytes (0 where /proc is missing)."""
    try:
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _address_space() -> int:
    """This process's address space in bytes (VmSize)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise OSError("no VmSize in /proc/self/status")


def _cap_memory(budget: int) -> None:
    """Cap the address space at this worker's baseline + ``budget`` + HEADROOM_BYTES.

    The baseline is measured after a warm-up query on an in-memory database with the sandbox's
    settings, so DuckDB's threads, their stacks and malloc arenas are in it, not in the budget.
    """
    import resource

    import duckdb

    from store.safe_sql import sandbox_config

    con = duckdb.connect(
        ":memory:", config=sandbox_config(memory_bytes=budget, threads=WORKER_THREADS)
    )
    try:
        con.execute("SELECT count(DISTINCT range) FROM range(100000)").fetchall()
        baseline = _address_space()
    finally:
        con.close()
    cap = baseline + budget + HEADROOM_BYTES
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


class _OpenStore:
    """The worker's sandboxed connection, kept open while the store file stays the same version.

    Opening the store costs ~20 ms, more than most of the SQL page's queries. A republished store
    is a new file renamed over the path, so a changed (device, inode, mtime, size) means another
    version: the connection is reopened. An idle worker closes it, so it never holds an old,
    renamed-over file for long. Only read statements run here (store.safe_sql) and the settings
    are locked, so one query cannot leave anything behind for the next.
    """

    def __init__(self) -> None:
        self.key: tuple | None = None
        self.con = None

    def connection(self, store: str, budget: int):
        try:
            st = os.stat(store)
            key = (store, st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)
        except OSError:
            key = None  # open_sandboxed says what is wrong
        if self.con is None or key is None or key != self.key:
            self.close()
            self.con = open_sandboxed(Path(store), memory_bytes=budget, threads=WORKER_THREADS)
            self.key = key
        return self.con

    def close(self) -> None:
        if self.con is not None:
            with contextlib.suppress(Exception):
                self.con.close()
        self.con, self.key = None, None


_OPEN = _OpenStore()


def _child_main() -> None:
    """A query worker: one JSON request per line on stdin, one answer each on stdout."""
    budget = int(sys.argv[1]) if len(sys.argv) > 1 else QUERY_MEMORY_BYTES
    with contextlib.suppress(OSError, ValueError):  # no /proc: DuckDB's memory_limit still holds
        _cap_memory(budget)
    stdin = sys.stdin.buffer
    while True:
        if not select.select([stdin], [], [], IDLE_CLOSE_S)[0]:
            _OPEN.close()  # idle: let go of the store file
            continue
        line = stdin.readline()
        if not line:
            return
        if line.strip():
            _answer(json.loads(line), budget)


def _memory_text(budget: int) -> str:
    return (
        f"the query needed more than the {_mb(budget)} of memory a query may use; "
        "aggregate or filter more, or select fewer or shorter columns"
    )


def _answer(req: dict, budget: int) -> None:
    from store.db import StoreError

    try:
        res = run_query(
            req["store"],
            req["sql"],
            row_limit=req["row_limit"],
            timeout_s=req["timeout_s"],
            max_bytes=req["max_bytes"],
            memory_bytes=budget,
            con=_OPEN.connection(req["store"], budget),
        )
    except StoreError as exc:
        _OPEN.close()
        _child_write({"error": str(exc), "kind": "store"})
        return
    except QueryMemoryError:
        _OPEN.close()
        _child_write({"error": _memory_text(budget), "replace": True})
        return
    except UnsafeQueryError as exc:
        _child_write({"error": str(exc)})
        return
    except (MemoryError, OSError) as exc:  # past the cap outside DuckDB (Arrow, Python)
        _OPEN.close()
        if isinstance(exc, MemoryError) or "memory" in str(exc).lower():
            _child_write({"error": _memory_text(budget), "replace": True})
        else:
            _child_write({"error": f"{type(exc).__name__}: {first_line(exc)}"})
        return
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, res.table.schema) as writer:
        writer.write_table(res.table)
    if _rss() > KEEP_OPEN_RSS_BYTES:  # a big query: let DuckDB give its memory back now
        _OPEN.close()
    _child_write({"truncated": res.truncated, "rows": res.table.num_rows}, sink.getvalue())


def _child_write(status: dict, body: bytes | pa.Buffer = b"") -> None:
    out = sys.stdout.buffer
    view = memoryview(body)
    out.write(json.dumps({**status, "nbytes": view.nbytes}).encode() + b"\n")
    out.write(view)
    out.flush()


if __name__ == "__main__":
    _child_main()
