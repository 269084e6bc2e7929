"""Callback inputs checked against the vocabulary before they reach a query or a figure.

A browser only sends what the page offers, but a request can carry anything: a number where a
name belongs, a list where a string belongs, an id the store never held. Each helper returns a
value of the expected type (or the default), so callbacks answer an empty update or a notice
instead of failing. ``install_guard`` is the last resort for what slips through: the error is
logged with its traceback and the request gets an empty update plus a notice, never a 500.
"""

from __future__ import annotations

import logging
import math

import dash
import flask
from werkzeug.exceptions import HTTPException, NotFound

LOG = logging.getLogger("dashboard.callbacks")
MAX_TEXT = 100_000  # characters of free text (the SQL box) a callback accepts


def text(value, default: str | None = None, max_len: int = MAX_TEXT) -> str | None:
    """A string of at most ``max_len`` characters, else ``default``."""
    return value if isinstance(value, str) and len(value) <= max_len else default


def one_of(value, allowed, default=None):
    """``value`` when it is a string among ``allowed``, else ``default``."""
    return value if isinstance(value, str) and value in set(allowed) else default


def some_of(values, allowed=None, limit: int = 50) -> list[str]:
    """The strings of ``values`` (a list, or one comma-separated string) that are ``allowed``,
    once each, in order; at most ``limit``."""
    if isinstance(values, str):
        values = values.split(",")
    if not isinstance(values, list | tuple):
        return []
    keep = set(allowed) if allowed is not None else None
    out: list[str] = []
    for v in values:
        if isinstance(v, str) and v not in out and (keep is None or v in keep):
            out.append(v)
    return out[:limit]


def number(value, default=None, lo: float = -math.inf, hi: float = math.inf):
    """A finite number within [lo, hi] (bools are not numbers), else ``default``."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return default
    try:
        v = float(value)
    except (TypeError, ValueError, OverflowError):
        return default
    return v if math.isfinite(v) and lo <= v <= hi else default


def count(value) -> int:
    """A click count: a non-negative whole number, else 0."""
    v = number(value, 0, 0, 1e12)
    return int(v)


def index(value, n: int) -> int | None:
    """A position in a list of ``n`` (0 .. n-1), else None."""
    v = number(value)
    return int(v) if v is not None and v == int(v) and 0 <= v < n else None


NOTICE_ID = "callback-notice"


def _on_error(err: Exception):
    """A callback failed: log it in full, tell the page, change nothing else."""
    LOG.error("callback failed: %s", type(err).__name__, exc_info=err)
    try:
        dash.set_props(
            NOTICE_ID,
            {
                "children": "That request could not be answered (its input was not understood); "
                "nothing was changed. The server logged the error."
            },
        )
    except Exception:  # no page context to write to: the empty update is enough
        LOG.debug("no notice area for the failed callback", exc_info=True)
    return None  # every output: no update


def _http_error(err: Exception):
    """Malformed callback requests answer 400 and paths outside the component suites 404;
    anything else keeps its usual 500 (and is logged by Flask)."""
    if isinstance(err, HTTPException):
        return err
    path = flask.request.path
    if path.endswith("/_dash-update-component"):
        LOG.warning("malformed callback request: %s: %s", type(err).__name__, err)
        return flask.jsonify({"error": "malformed callback request"}), 400
    if "/_dash-component-suites/" in path:
        return NotFound()
    LOG.error("request failed: %s", path, exc_info=err)
    return flask.Response("internal error", status=500)


def on_error(err: Exception):
    """Dash's app-wide callback error handler (``dash.Dash(on_error=...)``)."""
    return _on_error(err)


# properties Dash's own page router reads as text (a number or a list there is no address)
ADDRESS_PROPS = {"pathname", "search", "hash", "href"}


def _address(prop: str, value) -> bool:
    """An address part as a browser sends it: text, and a path from the root."""
    if value is None:
        return True
    return isinstance(value, str) and (prop != "pathname" or value.startswith("/"))


def _malformed(body) -> str | None:
    """Why a callback request body is not one a page could send (None: it could be)."""
    if not isinstance(body, dict) or not isinstance(body.get("output"), str):
        return "no output named"
    for key in ("inputs", "state"):
        items = body.get(key, [])
        if not isinstance(items, list):
            return f"{key} is not a list"
        for item in items:
            for one in item if isinstance(item, list) else [item]:
                if not isinstance(one, dict) or "id" not in one or "property" not in one:
                    return f"an entry of {key} names no id and property"
                if one["property"] in ADDRESS_PROPS and not _address(
                    one["property"], one.get("value")
                ):
                    return f"{one['property']} is not an address part"
    return None


def _check_callback_request():
    """Refuse, before Dash reads it, a callback request no page could send (400)."""
    if flask.request.method != "POST" or not flask.request.path.endswith("/_dash-update-component"):
        return None
    why = _malformed(flask.request.get_json(silent=True))
    if why is None:
        return None
    LOG.warning("malformed callback request refused: %s", why)
    return flask.jsonify({"error": f"malformed callback request: {why}"}), 400


def install_guard(app: dash.Dash) -> None:
    """Malformed callback requests become 400 and bad suite paths 404 (callback errors are
    handled by ``on_error``, given to the app when it is made)."""
    app.server.before_request(_check_callback_request)
    app.server.register_error_handler(Exception, _http_error)
