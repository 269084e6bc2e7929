"""The Dash app: a navigation bar over six pages, each reading the store read-only."""

from __future__ import annotations

from pathlib import Path

import dash
import flask
from dash import dcc, html

from store.db import StoreError

PAGES = [
    ("Overview", "/"),
    ("Tradeoff", "/tradeoff"),
    ("Variant", "/variant"),
    ("Traces", "/traces"),
    ("Quantization", "/quantization"),
    ("SQL", "/sql"),
]


def store_path() -> Path:
    return Path(flask.current_app.config["NILM_STORE"])


def guarded(fn, *args, **kwargs):
    """Run a store read; return (value, None) or (None, friendly message) instead of a traceback."""
    try:
        return fn(store_path(), *args, **kwargs), None
    except StoreError as exc:
        return None, str(exc)
    except ValueError as exc:  # UserQueryError and friends carry a message for the person
        return None, str(exc)
    except Exception as exc:  # a store swapped mid-read, a missing artifact: say so, keep serving
        return None, f"could not read the store ({type(exc).__name__}: {exc}); reload in a moment"


def share_link(link_id: str) -> html.Div:
    """A link carrying the page's current selections, to bookmark or send."""
    return html.Div(html.A("link to this view", id=link_id, href=""), className="share")


def link(path: str, **params) -> str:
    import urllib.parse

    query = urllib.parse.urlencode(
        {k: v for k, v in params.items() if v not in (None, "", [])}, doseq=True
    )
    return path + ("?" + query if query else "")


def notice(message: str) -> html.Div:
    return html.Div(message, className="notice")


def create_app(store: Path) -> dash.Dash:
    app = dash.Dash(
        __name__,
        use_pages=True,
        pages_folder=str(Path(__file__).with_name("pages")),
        suppress_callback_exceptions=True,
        title="nilm-edge",
    )
    app.server.config["NILM_STORE"] = str(Path(store).resolve())
    app.layout = html.Div(
        [
            dcc.Location(id="url"),
            html.Nav(
                [html.Span("nilm-edge", className="brand")]
                + [
                    dcc.Link(name, href=path, className="nav-link", id=f"nav-{name.lower()}")
                    for name, path in PAGES
                ],
                className="nav",
            ),
            html.Main(dash.page_container, className="main"),
        ]
    )
    return app
