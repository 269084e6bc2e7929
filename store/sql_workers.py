"""The worker processes behind the dashboard's SQL page (see store/safe_sql.py for the rules).

A few long-lived worker processes, started on first use and reused, answer the SQL page: each
takes one request at a time, opens the store read-only for that query alone and closes it. A
worker that runs past the time limit, dies, or grows past its memory bound is killed and
replaced, so a runaway query costs one process, never the server. Reuse matters on a busy
2-core machine: starting Python and importing DuckDB costs about a second per process.
"""

from __future__ import annotations

import atexit
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
from store.safe_sql import QueryResult, UnsafeQueryError, _mb, run_query

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
            [sys.executable, "-m", "store.sql_workers"],
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


def run(store: Path, sql: str, *, row_limit: int, timeout_s: float, max_bytes: int) -> QueryResult:
    """`run_query` in a worker process that is killed at the time limit; a few at a time."""
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
            text = f"{type(exc).__name__}: {first_line(exc)}"
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
