"""What every layout and callback shares: the store it reads, errors as messages, and whole
answers kept per version of the store (a republished store is never answered from the cache)."""

from __future__ import annotations

import functools
from pathlib import Path

import flask

from dashboard.progress import no_store_yet
from dashboard.store_reads import VIEWS, current_session, session
from store.db import StoreError


def store_path() -> Path:
    return Path(flask.current_app.config["NILM_STORE"])


def guarded(fn, *args, **kwargs):
    """Run a store read; return (value, None) or (None, friendly message) instead of a traceback.

    A message is never kept in the cache: the view that shows it is computed again next time.
    """
    try:
        return fn(store_path(), *args, **kwargs), None
    except StoreError as exc:
        message = no_store_yet(store_path(), str(exc))
    except ValueError as exc:  # UserQueryError and friends carry a message for the person
        message = str(exc)
    except Exception as exc:  # a store swapped mid-read, a missing artifact: say so, keep serving
        message = f"could not read the store ({type(exc).__name__}: {exc}); reload in a moment"
    s = current_session()
    if s is not None:
        s.tainted = True
    return None, message


def store_view(fn):
    """A layout or callback that reads the store: one session for all its queries, and its whole
    answer kept per store version and arguments (components and figures are never changed after
    they are returned, so one answer serves every client)."""
    name = f"{fn.__module__}.{fn.__qualname__}"

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with session(store_path()) as s:
            value = s.remember(VIEWS, name, args, kwargs, lambda: fn(*args, **kwargs))
            note_view(s.consistent)
        return value

    return wrapper


def note_view(kept: bool) -> None:
    """Record, for this request, whether a store view's answer came from one store version
    (dashboard/page_responses.py keeps a page's whole answer only when every view in it did)."""
    if flask.has_request_context():
        flask.g.nilm_views_seen = True
        flask.g.nilm_views_kept = kept and flask.g.get("nilm_views_kept", True)
