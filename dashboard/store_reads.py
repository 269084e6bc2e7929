"""How the dashboard reads the store: sessions over one shared DuckDB instance per version of the
store file, and answers kept per version.

A publish renames a new file over the store (store/db.py), so a version of the store is the
file's (device, inode, mtime, size): its *identity*. Every kept answer is keyed by it, so an
answer never outlives a republished store: the next read sees a new identity and misses.

DuckDB keeps one database instance per path in a process and gives it to every later connect
while any connection to it is open, even after the file was replaced: a plain connect after a
publish may read the old file. So every read goes through `READERS`, which opens an instance
only while no other is open on that path (with a configuration of its own: DuckDB refuses,
rather than shares, an instance someone else opened), checks the file did not change while it
opened, lets sessions of that version share it through cursors and closes it shortly after the
last one ends (no file stays open while the dashboard is idle).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import itertools
import os
import stat
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb

from dashboard.cache import ResultCache, freeze, fresh
from store import db

Identity = tuple[int, int, int, int]

QUERY_RESULTS = ResultCache(512)  # DataFrames and dicts from dashboard.queries
VIEWS = ResultCache(128)  # whole layouts and callback outputs (about 0.4 MB for a variant page)
# a page's whole HTTP answer, as bytes (dashboard/page_responses.py): about 10-70 kB each
PAGE_RESPONSES = ResultCache(256)
CACHES = (QUERY_RESULTS, VIEWS, PAGE_RESPONSES)


def store_identity(path: Path | str) -> Identity | None:
    """The store file's version, or None when there is no regular file there."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)


class _Instance:
    """One DuckDB instance opened on one version of the store (identity None: unknown version)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, identity: Identity | None):
        self.con, self.identity = con, identity
        self.holders: Counter[int] = Counter()  # thread id -> sessions of that thread using it
        self.idle = 0  # counts the times it fell idle: a close timer acts on its own idle spell
        self.closed = False


class _CloseLater(threading.Timer):
    """A daemon timer that ends quietly when its thread is stopped from outside (test servers
    stop every thread they did not start with SystemExit)."""

    def __init__(self, *args):
        super().__init__(*args)
        self.daemon = True

    def run(self) -> None:
        with contextlib.suppress(SystemExit):
            super().run()


class StoreReaders:
    """At most one open DuckDB instance per store path, shared by the sessions of its version.

    An instance nobody uses stays open ``linger_s`` seconds (a page load's layout and its
    callbacks arrive one after the other) and is closed at once when another version is asked.
    """

    def __init__(self, drain_timeout_s: float = 10.0, linger_s: float = 2.0):
        self.drain_timeout_s = drain_timeout_s
        self.linger_s = linger_s
        self._cond = threading.Condition()
        self._open: dict[str, _Instance] = {}
        self._serial = itertools.count(1)

    def acquire(self, path: str, want: Identity | None) -> tuple[_Instance, Identity | None]:
        """An instance on the store at ``path`` and the identity of what it reads.

        Shares the open instance when it reads version ``want``; otherwise waits until the
        sessions using it end, then opens the file as it is now. A thread that itself holds the
        other instance (or one that waited too long) shares it as an unknown version.
        """
        if want is None:  # no store file now: say so (StoreError) rather than read an old one
            db.check_store_file(Path(path))
        me = threading.get_ident()
        deadline = time.monotonic() + self.drain_timeout_s
        with self._cond:
            while True:
                inst = self._open.get(path)
                if inst is None:
                    inst = self._open[path] = self._connect(path)
                    return self._lease(inst, me), inst.identity
                if inst.identity is not None and inst.identity == want:
                    return self._lease(inst, me), inst.identity
                if not inst.holders:  # an idle instance on another version
                    self._close(path, inst)
                    continue
                left = deadline - time.monotonic()
                if inst.holders[me] or left <= 0:
                    return self._lease(inst, me), None
                self._cond.wait(left)

    def release(self, path: str, inst: _Instance) -> None:
        me = threading.get_ident()
        with self._cond:
            inst.holders[me] -= 1
            if inst.holders[me] <= 0:
                del inst.holders[me]
            if inst.holders:
                return
            inst.idle += 1
            if inst.identity is None or self.linger_s <= 0 or self._open.get(path) is not inst:
                self._close(path, inst)
                return
            _CloseLater(self.linger_s, self._close_if_idle, (path, inst, inst.idle)).start()

    def _close_if_idle(self, path: str, inst: _Instance, spell: int) -> None:
        with self._cond:
            if not inst.holders and inst.idle == spell:
                self._close(path, inst)

    def _close(self, path: str, inst: _Instance) -> None:
        """Close an instance nobody holds (caller holds the lock)."""
        if self._open.get(path) is inst:
            del self._open[path]
        if not inst.closed:
            inst.closed = True
            inst.con.close()
        self._cond.notify_all()

    @staticmethod
    def _lease(inst: _Instance, me: int) -> _Instance:
        inst.holders[me] += 1
        return inst

    def _connect(self, path: str) -> _Instance:
        before = store_identity(path)
        config = {"custom_user_agent": f"nilm-edge-dashboard/{next(self._serial)}"}
        try:
            con = db.connect_readonly(Path(path), config=config)
        except db.StoreError as exc:
            if "different configuration" not in str(exc):
                raise
            # someone else in this process holds the file open: share theirs, version unknown
            return _Instance(db.connect_readonly(Path(path)), None)
        after = store_identity(path)
        return _Instance(con, before if before is not None and before == after else None)


READERS = StoreReaders()


class StoreSession:
    """Everything one layout or callback reads from one store: a version and, once needed, a
    shared instance on it. Answers are kept only when they come from the version the session
    started on and nothing it showed was an error."""

    def __init__(self, path: str):
        self.path = path
        self.started = self.identity = store_identity(path)
        self.tainted = False  # an error message was shown: do not keep this view
        self._inst: _Instance | None = None

    @contextlib.contextmanager
    def cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        if self._inst is None:
            self._inst, got = READERS.acquire(self.path, self.identity)
            self.identity = got  # another version (or an unknown one) from now on
        cur = self._inst.con.cursor()
        try:
            yield cur
        finally:
            cur.close()

    def close(self) -> None:
        if self._inst is not None:
            READERS.release(self.path, self._inst)
            self._inst = None

    @property
    def consistent(self) -> bool:
        """Everything read so far came from the version the session started on, without error."""
        return self.started is not None and self.identity == self.started and not self.tainted

    def remember(self, cache: ResultCache, name: str, args, kwargs, compute: Callable[[], Any]):
        """compute()'s answer for (name, args) on this session's version, kept in ``cache``."""
        version = self.identity
        if version is None:
            return compute()
        try:
            key = (name, self.path, version, freeze(args), freeze(kwargs))
        except TypeError:  # an argument that cannot be a key: nothing is kept
            return compute()

        def run():
            value = compute()
            keep = self.identity == version and (cache is not VIEWS or self.consistent)
            return value, keep

        return cache.get_or_compute(key, run)


_SESSION: contextvars.ContextVar[StoreSession | None] = contextvars.ContextVar(
    "store_session", default=None
)
_LATEST: dict[str, Identity] = {}
_LATEST_LOCK = threading.Lock()


def _forget_older_versions(path: str, identity: Identity | None) -> None:
    """On the first sight of a new version, drop the answers kept for the others."""
    if identity is None:
        return
    with _LATEST_LOCK:
        if _LATEST.get(path) == identity:
            return
        _LATEST[path] = identity
    for cache in CACHES:
        cache.drop(lambda k: k[1] == path and k[2] != identity)


def current_session() -> StoreSession | None:
    return _SESSION.get()


@contextlib.contextmanager
def session(store: Path | str) -> Iterator[StoreSession]:
    """One session for everything read from ``store`` inside the block (nested blocks share it).

    Opening the store costs more than most queries, so a session opens it once and only when a
    query is not already answered from the cache.
    """
    path = str(store)
    outer = _SESSION.get()
    if outer is not None and outer.path == path:
        yield outer
        return
    s = StoreSession(path)
    _forget_older_versions(path, s.started)
    token = _SESSION.set(s)
    try:
        yield s
    finally:
        _SESSION.reset(token)
        s.close()


@contextlib.contextmanager
def reading(store: Path | str) -> Iterator[duckdb.DuckDBPyConnection]:
    """A cursor on the store for one query (the current session's, or a session of its own)."""
    with session(store) as s, s.cursor() as cur:
        yield cur


def cached_read(fn: Callable) -> Callable:
    """Keep ``fn(store, ...)``'s answer per store version and arguments; callers get a copy."""
    name = f"{fn.__module__}.{fn.__qualname__}"

    @functools.wraps(fn)
    def wrapper(store, *args, **kwargs):
        with session(store) as s:
            value = s.remember(
                QUERY_RESULTS, name, args, kwargs, lambda: fn(store, *args, **kwargs)
            )
        return fresh(value)

    wrapper.uncached = fn
    return wrapper


def clear_caches() -> None:
    """Forget every kept answer (tests and benchmarks measure a cold start with it)."""
    for cache in CACHES:
        cache.clear()
    with _LATEST_LOCK:
        _LATEST.clear()
