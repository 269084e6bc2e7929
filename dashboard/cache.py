"""A small thread-safe LRU of computed answers, with one computation per key at a time.

Waitress answers requests on several threads: when twenty clients ask for the same page just
after the store was republished, one thread computes the answer and the others wait for it
instead of computing it nineteen more times. Keys are built by the caller (store_reads.py puts
the store file's identity in every key, so a republished store is never answered from here).
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

import pandas as pd


class ResultCache:
    """At most ``max_entries`` answers, the least recently used dropped first.

    ``compute()`` returns ``(value, keep)``: a value computed from something that may be stale
    or that carries an error message is returned to its caller but not kept.
    """

    def __init__(self, max_entries: int, wait_s: float = 30.0):
        self.max_entries = max_entries
        self.wait_s = wait_s  # how long a second asker waits for the first one's answer
        self._data: OrderedDict[Hashable, Any] = OrderedDict()
        self._flights: dict[Hashable, threading.Event] = {}
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._data)

    def _get(self, key: Hashable) -> tuple[bool, Any]:
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                self.hits += 1
                return True, self._data[key]
            return False, None

    def _put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)

    def peek(self, key: Hashable) -> Any | None:
        """The kept answer for ``key``, or None (nothing is computed)."""
        return self._get(key)[1]

    def put(self, key: Hashable, value: Any) -> None:
        self._put(key, value)

    def get_or_compute(self, key: Hashable, compute: Callable[[], tuple[Any, bool]]) -> Any:
        found, value = self._get(key)
        if found:
            return value
        with self._lock:
            flight = self._flights.get(key)
            leader = flight is None
            if leader:
                flight = self._flights[key] = threading.Event()
            self.misses += 1
        if not leader:
            flight.wait(self.wait_s)
            found, value = self._get(key)
            if found:
                return value
            # the first asker failed or kept nothing: compute this caller's own answer
        try:
            value, keep = compute()
            if keep:
                self._put(key, value)
            return value
        finally:
            if leader:
                with self._lock:
                    self._flights.pop(key, None)
                flight.set()

    def drop(self, predicate: Callable[[Hashable], bool]) -> int:
        """Forget every answer whose key matches; returns how many were dropped."""
        with self._lock:
            gone = [k for k in self._data if predicate(k)]
            for k in gone:
                del self._data[k]
        return len(gone)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


def freeze(value: Any) -> Hashable:
    """A hashable, type-exact form of callback arguments (lists, dicts, scalars) for a key.

    Types are kept (1, 1.0 and True are different keys); anything unhashable raises TypeError.
    """
    if isinstance(value, list | tuple):
        return (type(value).__name__, tuple(freeze(v) for v in value))
    if isinstance(value, dict):
        return ("dict", frozenset((freeze(k), freeze(v)) for k, v in value.items()))
    if isinstance(value, set | frozenset):
        return ("set", frozenset(freeze(v) for v in value))
    hash(value)
    return (type(value).__name__, value)


def fresh(value: Any) -> Any:
    """A copy of a kept answer that its caller may change without changing the kept one.

    DataFrames are copied shallowly (pandas copies on write, so changing the copy never reaches
    the kept frame); dicts and lists deeply; tuples element by element.
    """
    if isinstance(value, pd.DataFrame | pd.Series):
        return value.copy(deep=False)
    if isinstance(value, tuple):
        return tuple(fresh(v) for v in value)
    if isinstance(value, dict | list):
        return copy.deepcopy(value)
    return value
