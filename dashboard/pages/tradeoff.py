import urllib.parse

import dash
from dash import Input, Output, dcc, html

from dashboard import figures, queries
from dashboard.app import guarded, link, notice, share_link

dash.register_page(__name__, path="/tradeoff", name="Tradeoff")

METRICS = ["f1", "mcc", "acc", "mae", "sae", "nde", "mae_masked", "epd_error_pct"]
XAXES = [("latency (ms)", "latency_ms"), ("RAM (MB)", "ram_mb"), ("disk (MB)", "disk_mb")]


def layout(metric="f1", x="latency_ms", appliance="", **_):
    apps, err = guarded(queries.appliances)
    if err:
        return html.Div([html.H2("Tradeoff"), notice(err)])
    return html.Div(
        [
            html.H2("Accuracy versus cost"),
            html.Div(
                className="controls",
                children=[
                    html.Div(
                        [
                            html.Label("accuracy metric"),
                            dcc.Dropdown(METRICS, metric, id="to-metric", clearable=False),
                        ]
                    ),
                    html.Div(
                        [
                            html.Label("cost axis"),
                            dcc.Dropdown(
                                [{"label": a, "value": b} for a, b in XAXES],
                                x,
                                id="to-x",
                                clearable=False,
                            ),
                        ]
                    ),
                    html.Div(
                        [
                            html.Label("appliance"),
                            dcc.Dropdown(
                                [{"label": "all", "value": ""}]
                                + [{"label": a, "value": a} for a in apps],
                                appliance or "",
                                id="to-app",
                                clearable=False,
                            ),
                        ]
                    ),
                    html.Div(
                        [
                            dcc.Checklist(
                                [{"label": " article's published points", "value": "ref"}],
                                [],
                                id="to-ref",
                            )
                        ]
                    ),
                ],
            ),
            html.Div(
                className="controls",
                children=[
                    html.Div(
                        [
                            html.Label("latency budget (ms)"),
                            dcc.Slider(
                                0,
                                3,
                                value=3,
                                id="to-lat",
                                marks={i: f"{10**i:g}" for i in range(0, 4)},
                                step=0.1,
                            ),
                        ],
                        style={"width": "30%"},
                    ),
                    html.Div(
                        [html.Label("RAM budget (MB)"), dcc.Slider(0, 500, value=500, id="to-ram")],
                        style={"width": "30%"},
                    ),
                    html.Div(
                        [
                            html.Label("disk budget (MB)"),
                            dcc.Slider(0, 200, value=200, id="to-disk"),
                        ],
                        style={"width": "30%"},
                    ),
                ],
            ),
            share_link("to-share"),
            dcc.Graph(id="tradeoff-graph"),
            html.Div(
                "Click a point to open that variant. Grey points are over budget; the dotted line is the Pareto front.",
                className="hint",
            ),
            dcc.Location(id="to-nav", refresh=True),
        ]
    )


@dash.callback(
    Output("to-share", "href"),
    Input("to-metric", "value"),
    Input("to-x", "value"),
    Input("to-app", "value"),
)
def share(metric, x, appliance):
    return link("/tradeoff", metric=metric, x=x, appliance=appliance)


@dash.callback(
    Output("tradeoff-graph", "figure"),
    Input("to-metric", "value"),
    Input("to-x", "value"),
    Input("to-app", "value"),
    Input("to-ref", "value"),
    Input("to-lat", "value"),
    Input("to-ram", "value"),
    Input("to-disk", "value"),
)
def update(metric, x, appliance, ref, lat, ram, disk):
    df, err = guarded(queries.tradeoff, appliance or None)
    if err:
        return figures.empty(err)
    reference = None
    if ref:
        reference, _ = guarded(queries.reference_points, metric)
        if reference is not None and appliance:
            reference = reference[reference["appliance"] == appliance]
    budgets = {
        "latency_ms": 10**lat if lat is not None and lat < 3 else None,
        "ram_mb": ram if ram is not None and ram < 500 else None,
        "disk_mb": disk if disk is not None and disk < 200 else None,
    }
    return figures.tradeoff(df, metric, x, budgets, reference)


@dash.callback(
    Output("to-nav", "href"), Input("tradeoff-graph", "clickData"), prevent_initial_call=True
)
def open_variant(click):
    try:
        vid = click["points"][0]["customdata"][0]
    except (TypeError, KeyError, IndexError):
        return dash.no_update
    return "/variant?" + urllib.parse.urlencode({"id": vid})
