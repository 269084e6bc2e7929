"""The Dash app: a navigation bar built from the page registry over pages that read the store
read-only (dashboard/pages/), and the download route.

Where things live: components.py (page header, notices, URL state), grids.py (tables),
device_controls.py (device, budgets, the rule), callbacks.py (store reads as messages, answers
kept per store version), store_reads.py (sessions on the store), queries/ and figures/.
"""

from __future__ import annotations

from pathlib import Path

import dash
import dash_ag_grid  # noqa: F401  (registered before dbc: the page's script order)
import dash_bootstrap_components as dbc
from dash import Input, Output, State, dcc, html

from dashboard import (
    grids,  # noqa: F401  (its CSV export callback serves every page's grids)
    page_responses,
    progress,
)
from dashboard.downloads import register_downloads
from dashboard.validate import NOTICE_ID, install_guard, on_error


def navbar() -> dbc.Navbar:
    pages = sorted(
        (p for p in dash.page_registry.values() if p.get("nav", True)),
        key=lambda p: (p.get("order") if p.get("order") is not None else 99, p["name"]),
    )
    links = [
        dbc.NavItem(
            dbc.NavLink(
                p["name"],
                href=p["relative_path"],
                active="exact",
                id=f"nav-{p['name'].lower()}",
            )
        )
        for p in pages
    ]
    return dbc.Navbar(
        dbc.Container(
            [
                dbc.NavbarBrand("nilm-edge", href="/"),
                dbc.NavbarToggler(id="nav-toggle", n_clicks=0),
                dbc.Collapse(dbc.Nav(links, navbar=True), id="nav-collapse", navbar=True),
            ],
            fluid=True,
        ),
        color="dark",
        dark=True,
        expand="lg",
        className="mb-2",
    )


@dash.callback(
    Output("nav-collapse", "is_open"),
    Input("nav-toggle", "n_clicks"),
    State("nav-collapse", "is_open"),
    prevent_initial_call=True,
)
def _toggle_nav(n, is_open):
    return not is_open


@dash.callback(Output(NOTICE_ID, "children"), Input("url", "pathname"))
def _clear_notice(_pathname):
    """A notice about a failed request is about this page only: a new page starts without."""
    return ""


def create_app(store: Path) -> dash.Dash:
    app = dash.Dash(
        __name__,
        use_pages=True,
        pages_folder=str(Path(__file__).with_name("pages")),
        suppress_callback_exceptions=True,
        title="nilm-edge",
        meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
        on_error=on_error,
    )
    app.index_string = app.index_string.replace("<html>", '<html lang="en">', 1)
    install_guard(app)
    page_responses.install(app.server)
    app.server.config["NILM_STORE"] = str(Path(store).resolve())
    register_downloads(app.server)
    progress.register(app)
    app.layout = html.Div(
        [
            dcc.Location(id="url"),
            navbar(),
            dbc.Container(
                [
                    *progress.panel(),
                    html.Div(id=NOTICE_ID, role="status", className="callback-notice"),
                    dash.page_container,
                ],
                fluid=True,
                className="main",
            ),
        ]
    )
    return app
