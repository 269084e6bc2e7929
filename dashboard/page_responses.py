"""A page's whole HTTP answer, kept as bytes per store version.

Opening a page is one callback request (Dash's page router) whose answer is the page's layout.
The layout itself is kept per store version (callbacks.store_view), but Dash still turns it
into JSON for every request: for twenty people on the same pages that serialisation was a
quarter of the server's time. So the router's answer is kept too, keyed by the store file's
identity and the exact request body (path and query string), and served as is.

An answer is kept only when the page's layout is a store view that read one store version
throughout (``callbacks.note_view``) and the store file is still that version when the answer
leaves; a page that shows anything else (the Overview's empty state follows a live run's
progress file) calls no store view on that path and so is never kept. The person's own SQL
and every other callback are answered fresh each time.
"""

from __future__ import annotations

import json

import flask

from dashboard.callbacks import store_path
from dashboard.store_reads import PAGE_RESPONSES, store_identity

ROUTER_OUTPUT = ".._pages_content.children..._pages_store.data.."  # Dash's page router
UPDATE_PATH = "/_dash-update-component"


def _key() -> tuple | None:
    """This request's key when it is a page-router request on a readable store, else None."""
    req = flask.request
    if req.method != "POST" or req.path != UPDATE_PATH:
        return None
    body = req.get_data(cache=True)
    try:
        if json.loads(body).get("output") != ROUTER_OUTPUT:
            return None
    except (ValueError, AttributeError):
        return None  # the request guard answers malformed bodies
    path = str(store_path())
    identity = store_identity(path)
    return None if identity is None else ("page-response", path, identity, body)


def _lookup():
    key = _key()
    if key is None:
        return None
    kept = PAGE_RESPONSES.peek(key)
    if kept is not None:
        return flask.Response(kept, mimetype="application/json")
    flask.g.nilm_page_key = key
    return None


def _keep(response: flask.Response) -> flask.Response:
    key = flask.g.pop("nilm_page_key", None)
    if (
        key is not None
        and response.status_code == 200
        and not response.direct_passthrough
        and flask.g.get("nilm_views_seen", False)
        and flask.g.get("nilm_views_kept", False)
        and store_identity(key[1]) == key[2]
    ):
        PAGE_RESPONSES.put(key, response.get_data())
    return response


def install(server: flask.Flask) -> None:
    """After the request guard (dashboard/validate.py): only well-formed requests get here."""
    server.before_request(_lookup)
    server.after_request(_keep)
