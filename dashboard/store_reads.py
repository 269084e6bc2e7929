"""How the dashboard reads the store: sessions over one shared DuckDB instance per version of the
store file, and answers kept per version.

A publish renames a new file over the store (store/db.py), so a version of the store is the
file's (device, inode, mtime, size): its *identity*. Every kept answer is keyed by it, so an
answer never outlives a republished store: the next read sees a new identity and misses.

DuckDB keeps one database instance per path in a process and gives it to every later connect
while any connection to it is open, even after the file was replaced: a plain connect after a
publish may read the old file. So every read goes through `READERS`, which ATTACHes each version
in a private instance of its own, checks the file did not change while it opened, lets the
sessions of that version share it through cursors and closes it once they are done (the newest
shortly after its last session: no file stays open while the dashboard is idle).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import hashlib
import itertools
import os
import pickle
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
# a person's SQL (dashboard/queries/user_sql.py): the same text on the same version, small
# answers only
USER_SQL = ResultCache(64)
CACHES = (QUERY_RESULTS, VIEWS, PAGE_RESPONSES, USER_SQL)
# the newest answer of each view with what it read, by (name, path, arguments): a view whose
# reads all give the same answers in a new version of the store is that version's answer too
CARRIED = ResultCache(128)


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
    """One open DuckDB instance per version of a store, shared by the sessions of that version.

    Each version is ATTACHed in an instance of its own (db.attach_readonly), so a publish never
    makes a reader wait: sessions that began on the old file finish on it while new sessions
    open the new one. The newest instance of a path stays open ``linger_s`` seconds after its
    last session ends (a page load's layout and its callbacks arrive one after the other); an
    older one closes as soon as its last session ends.
    """

    ALIAS = "store"  # the store's catalog name inside its private instance

    def __init__(self, linger_s: float = 2.0, open_timeout_s: float = 30.0):
        self.linger_s = linger_s
        self.open_timeout_s = open_timeout_s
        self._cond = threading.Condition()
        self._open: dict[str, _Instance] = {}  # the newest instance per path
        self._opening: set[str] = set()  # paths a thread is opening now
        self._serial = itertools.count(1)

    def acquire(self, path: str, want: Identity | None) -> tuple[_Instance, Identity | None]:
        """An instance on the store at ``path`` and the identity of what it reads.

        Shares the newest instance when it reads version ``want`` or the file as it is now;
        otherwise opens the file as it is now (one thread opens, the others wait for it).
        """
        if want is None:  # no store file now: say so (StoreError) rather than read an old one
            db.check_store_file(Path(path))
        me = threading.get_ident()
        deadline = time.monotonic() + self.open_timeout_s
        with self._cond:
            while True:
                inst = self._open.get(path)
                if (
                    inst is not None
                    and inst.identity is not None
                    and inst.identity in (want, store_identity(path))
                ):
                    return self._lease(inst, me), inst.identity
                if path not in self._opening or time.monotonic() > deadline:
                    break
                self._cond.wait(max(0.0, deadline - time.monotonic()))
            self._opening.add(path)
        try:
            new = self._connect(path)
        except BaseException:
            with self._cond:
                self._opening.discard(path)
                self._cond.notify_all()
            raise
        with self._cond:  # one block: a waiter sees the new instance, never a gap
            self._opening.discard(path)
            self._cond.notify_all()
            old = self._open.get(path)
            self._open[path] = new
            if old is not None and not old.holders:
                self._close(path, old)
            return self._lease(new, me), new.identity

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
        con = db.attach_readonly(Path(path), self.ALIAS, config=config)
        after = store_identity(path)
        return _Instance(con, before if before is not None and before == after else None)


READERS = StoreReaders()


def _digest(value: Any) -> bytes | None:
    """A fingerprint of a query's answer (None: it cannot be compared, so it never matches)."""
    try:
        return hashlib.blake2b(pickle.dumps(value, protocol=5), digest_size=16).digest()
    except Exception:  # noqa: BLE001 (an unpicklable answer is simply not comparable)
        return None


class _Reads:
    """What one view's computation read: each kept query with its arguments and answer's
    fingerprint, and whether everything it read went through kept queries (``tracked``)."""

    def __init__(self):
        self.deps: list[tuple] = []
        self.tracked = True

    def add(self, dep: tuple) -> None:
        if dep[-1] is None:
            self.tracked = False
        self.deps.append(dep)


class StoreSession:
    """Everything one layout or callback reads from one store: a version and, once needed, a
    shared instance on it. Answers are kept only when they come from the version the session
    started on and nothing it showed was an error."""

    def __init__(self, path: str):
        self.path = path
        self.started = self.identity = store_identity(path)
        self.tainted = False  # an error message was shown: do not keep this view
        self._inst: _Instance | None = None
        self._reads: list[_Reads] = []  # the views being computed, innermost last
        self._in_query = 0  # > 0 while a kept query (cached_read) computes its answer

    @contextlib.contextmanager
    def cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        if not self._in_query:
            self.untracked()
        if self._inst is None:
            self._inst, got = READERS.acquire(self.path, self.identity)
            self.identity = got  # another version (or an unknown one) from now on
        cur = self._inst.con.cursor()
        try:
            cur.execute(f"USE {StoreReaders.ALIAS}")
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

    def untracked(self) -> None:
        """The views being computed read something other than kept queries: they are computed
        again for every new version of the store (never carried over)."""
        for reads in self._reads:
            reads.tracked = False

    def note_read(self, dep: tuple) -> None:
        """A kept query (function, args, kwargs, answer's fingerprint) the views being computed
        depend on."""
        for reads in self._reads:
            reads.add(dep)

    def remember(self, cache: ResultCache, name: str, args, kwargs, compute: Callable[[], Any]):
        """compute()'s answer for (name, args) on this session's version, kept in ``cache``.

        A view (``cache`` is VIEWS) not yet kept for this version is first looked up among the
        answers of earlier versions: when every kept query it read answers the same now, its
        earlier answer is this version's too, and only those queries run (a republish that
        changed other tables does not make the page compute again)."""
        version = self.identity
        if version is None:
            return compute()
        try:
            frozen = (freeze(args), freeze(kwargs))
        except TypeError:  # an argument that cannot be a key: nothing is kept
            self.untracked()
            return compute()
        key = (name, self.path, version, *frozen)
        if cache is not VIEWS:

            def run():
                return compute(), self.identity == version

            return cache.get_or_compute(key, run)
        carry_key = (name, self.path, *frozen)

        def run_view():
            value = self._carried(carry_key)
            if value is None:
                reads = _Reads()
                self._reads.append(reads)
                try:
                    value = compute()
                finally:
                    self._reads.pop()
                keep = self.identity == version and self.consistent
                if keep and reads.tracked:
                    CARRIED.put(carry_key, (tuple(reads.deps), value))
                return value, keep
            return value, self.identity == version and self.consistent

        value = cache.get_or_compute(key, run_view)
        if self._reads:  # a view inside a view: the outer one depends on what this one read
            entry = CARRIED.peek(carry_key)
            if entry is not None and entry[1] is value:
                for dep in entry[0]:
                    self.note_read(dep)
            else:
                self.untracked()
        return value

    def _carried(self, carry_key: tuple) -> Any | None:
        """An earlier version's answer of this view when every query it read answers the same
        on this version (those answers are kept for this version on the way), else None."""
        entry = CARRIED.peek(carry_key)
        if entry is None:
            return None
        deps, value = entry
        try:
            for fn, args, kwargs, digest in deps:
                if digest is None or fn.digested(self.path, *args, **kwargs)[1] != digest:
                    return None
        except Exception:  # noqa: BLE001 (the view computes afresh and shows its own message)
            return None
        return value


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


def read_elsewhere() -> None:
    """Say that the views being computed read the store by another way than kept queries (a
    person's SQL in a worker process): they are never carried over to a new version."""
    s = _SESSION.get()
    if s is not None:
        s.untracked()


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

    def compute(store, args, kwargs):
        value = fn(store, *args, **kwargs)
        return value, _digest(value)

    def digested(store, *args, **kwargs) -> tuple[Any, bytes | None]:
        """The kept answer and its fingerprint; the views being computed depend on it."""
        with session(store) as s:
            s._in_query += 1
            try:
                value, digest = s.remember(
                    QUERY_RESULTS, name, args, kwargs, lambda: compute(store, args, kwargs)
                )
            finally:
                s._in_query -= 1
            s.note_read((wrapper, args, kwargs, digest))
        return value, digest

    @functools.wraps(fn)
    def wrapper(store, *args, **kwargs):
        return fresh(digested(store, *args, **kwargs)[0])

    wrapper.uncached = fn
    wrapper.digested = digested
    return wrapper


def clear_caches() -> None:
    """Forget every kept answer (tests and benchmarks measure a cold start with it)."""
    for cache in (*CACHES, CARRIED):
        cache.clear()
    with _LATEST_LOCK:
        _LATEST.clear()
