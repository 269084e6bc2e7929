"""Disaggregation traces: aggregate, ground truth and predictions over a contiguous stretch of
the test house, downsampled on the server (zooming asks for the visible range again)."""

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, dcc, html

from dashboard import figures, queries
from dashboard.callbacks import guarded, store_view
from dashboard.components import (
    error_page,
    field,
    loading,
    notice,
    page_header,
    share_link,
    url_state,
)

dash.register_page(
    __name__, path="/traces", name="Traces", title="nilm-edge · disaggregation traces", order=4
)


TITLE = "Disaggregation traces"
HINT = (
    "A contiguous stretch of the test house (split test_trace). Zoomed out, each bucket shows "
    "its minimum and maximum at the times they happened."
)


@store_view
def layout(appliance=None, variants=None, **_):
    apps, err = guarded(queries.appliances)
    if err:
        return error_page(TITLE, err)
    if not apps:
        return error_page(TITLE, "no traces yet: run `pipeline all`")
    app = appliance if appliance in apps else apps[0]
    return html.Div(
        [
            *page_header(TITLE, hint=HINT),
            dbc.Row(
                [
                    field(
                        "appliance",
                        "tr-app",
                        dcc.Dropdown(apps, app, id="tr-app", clearable=False),
                        xs=12,
                        md=4,
                    ),
                    field(
                        "variants",
                        "tr-variants",
                        dcc.Dropdown([], [], id="tr-variants", multi=True),
                        xs=12,
                        md=8,
                    ),
                ],
                className="g-2 controls",
            ),
            dcc.Store(id="tr-initial", data=variants.split(",") if variants else None),
            share_link("tr-share"),
            loading(dcc.Graph(id="trace-graph")),
            html.Div(id="trace-info"),
            html.H4("Unmasked energy per calendar day (hatched: partial day)"),
            loading(dcc.Graph(id="energy-graph")),
        ]
    )


@dash.callback(
    Output("tr-variants", "options"),
    Output("tr-variants", "value"),
    Input("tr-app", "value"),
    State("tr-initial", "data"),
)
@store_view
def variants(appliance, initial):
    df, err = guarded(queries.trace_variants, appliance)
    if err or df is None or df.empty:
        return [], []
    ids = df["variant_id"].tolist()
    chosen = [i for i in (initial or []) if i in ids]
    default = chosen or [i for i in ids if i.endswith((".keras", ".w8_a8"))][:3] or ids[:2]
    return ids, default


url_state(
    "/traces",
    "tr-share",
    [("appliance", "tr-app", "value"), ("variants", "tr-variants", "value")],
)


def _paths(appliance, chosen):
    df, err = guarded(queries.trace_variants, appliance)
    if err or df is None or df.empty:
        return {}
    paths = dict(zip(df["variant_id"], df["path"], strict=True))
    chosen = [c for c in (chosen or []) if c in paths] or list(paths)[:1]
    return {c: paths[c] for c in chosen}


@dash.callback(
    Output("trace-graph", "figure"),
    Output("trace-info", "children"),
    Input("tr-variants", "value"),
    Input("trace-graph", "relayoutData"),
    State("tr-app", "value"),
)
@store_view
def draw(chosen, relayout, appliance):
    paths = _paths(appliance, chosen)
    if not paths:
        return figures.empty("no trace"), ""
    start = end = None
    if relayout and "xaxis.range[0]" in relayout:
        start, end = relayout["xaxis.range[0]"], relayout["xaxis.range[1]"]
    df, err = guarded(queries.trace_window, paths, start, end)
    if err:
        return figures.empty(err), notice(err)
    info = f"{len(df):,} points drawn" + (f" for {start} .. {end}" if start else " (whole trace)")
    return figures.trace(df, list(paths)), html.Span(info, id="trace-points")


@dash.callback(
    Output("energy-graph", "figure"), Input("tr-variants", "value"), State("tr-app", "value")
)
@store_view
def energy(chosen, appliance):
    paths = _paths(appliance, chosen)
    df, err = guarded(queries.daily_energy_unmasked, paths)
    return figures.empty(err) if err else figures.daily_energy(df)
