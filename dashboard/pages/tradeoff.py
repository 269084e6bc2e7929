"""Accuracy versus cost on one device: one panel per appliance, each with its own Pareto front,
intervals as error bars, baselines as reference lines, budgets on log scales."""

import urllib.parse

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, dcc, html

from dashboard import figures, queries
from dashboard.app import (
    decide,
    device_controls,
    device_line,
    device_name,
    device_params,
    device_state,
    guarded,
    loading,
    notice,
    one_connection,
    page_title,
    register_budget_sync,
    share_link,
    slider_range,
    url_state,
)
from store.recommend import COSTS, DEVICE_CLASSES

dash.register_page(
    __name__, path="/tradeoff", name="Tradeoff", title="nilm-edge · accuracy versus cost", order=1
)

P = "to"
METRICS = ["f1", "mcc", "acc", "mae_w", "mae_masked_w", "sae", "nde", "epd_error_pct"]
OLD_NAMES = {"mae": "mae_w", "mae_masked": "mae_masked_w"}  # links made before the rename
XAXES = [("latency (ms)", "latency_ms"), ("RAM (MB)", "ram_mb"), ("disk (MB)", "disk_mb")]


@one_connection
def layout(metric="f1", x="latency_ms", appliance="", ref="", **params):
    devices, err = guarded(queries.devices)
    if err:
        return html.Div([page_title("Accuracy versus cost"), notice(err)])
    apps, _ = guarded(queries.appliances)
    metric = OLD_NAMES.get(metric, metric)
    metric = metric if metric in METRICS else "f1"
    x = x if x in COSTS else "latency_ms"
    state = device_state(params, devices)
    ranges_raw, _ = guarded(queries.cost_ranges)
    presets = [v["budgets"] for v in DEVICE_CLASSES.values()]
    ranges = {
        c: slider_range((ranges_raw or {}).get(c, ()), [p[c] for p in presets]) for c in COSTS
    }
    return html.Div(
        [
            page_title("Accuracy versus cost"),
            html.Div(
                device_line(devices, state["device"]), id="to-device-line", className="device-line"
            ),
            device_controls(P, state, devices, ranges),
            dbc.Row(
                [
                    dbc.Col(
                        [
                            html.Label("accuracy metric", htmlFor="to-metric"),
                            dcc.Dropdown(
                                [
                                    {"label": figures.METRIC_LABELS.get(m, m), "value": m}
                                    for m in METRICS
                                ],
                                metric,
                                id="to-metric",
                                clearable=False,
                            ),
                        ],
                        xs=12,
                        md=4,
                    ),
                    dbc.Col(
                        [
                            html.Label("cost axis (log scale)", htmlFor="to-x"),
                            dcc.Dropdown(
                                [{"label": a, "value": b} for a, b in XAXES],
                                x,
                                id="to-x",
                                clearable=False,
                            ),
                        ],
                        xs=6,
                        md=3,
                    ),
                    dbc.Col(
                        [
                            html.Label("appliance", htmlFor="to-app"),
                            dcc.Dropdown(
                                [{"label": "all (one panel each)", "value": ""}]
                                + [{"label": a, "value": a} for a in apps or []],
                                appliance or "",
                                id="to-app",
                                clearable=False,
                            ),
                        ],
                        xs=6,
                        md=3,
                    ),
                    dbc.Col(
                        dcc.Checklist(
                            [{"label": " the article's published points", "value": "ref"}],
                            ["ref"] if ref else [],
                            id="to-ref",
                        ),
                        xs=12,
                        md=2,
                        className="pt-md-4",
                    ),
                ],
                className="g-2 controls",
            ),
            share_link("to-share"),
            html.Div(id="to-notes", className="hint"),
            loading(dcc.Graph(id="tradeoff-graph", config={"responsive": True})),
            html.Div(
                "Click a point to open that variant. Grey points are over a budget (dashed "
                "line); the dotted line is each appliance's Pareto front; the star is the "
                "recommended variant; horizontal lines are the baselines; error bars are 95 % "
                "intervals.",
                className="hint",
            ),
            dcc.Location(id="to-nav", refresh="callback-nav"),
        ]
    )


register_budget_sync(P)
url_state(
    "/tradeoff",
    "to-share",
    [
        ("metric", "to-metric", "value"),
        ("x", "to-x", "value"),
        ("appliance", "to-app", "value"),
        ("ref", "to-ref", "value"),
    ]
    + device_params(P),
)


@dash.callback(
    Output("tradeoff-graph", "figure"),
    Output("to-device-line", "children"),
    Output("to-notes", "children"),
    Input(f"{P}-device", "value"),
    Input(f"{P}-cost", "value"),
    Input(f"{P}-tol", "value"),
    Input("to-metric", "value"),
    Input("to-x", "value"),
    Input("to-app", "value"),
    Input("to-ref", "value"),
    [Input(f"{P}-{c}-in", "value") for c in COSTS],
)
@one_connection
def update(device_key, cost, tol, metric, x, appliance, ref, *budget_values):
    from dashboard.app import budgets_from

    devices, _ = guarded(queries.devices)
    line = device_line(devices, device_key)
    dev = queries.parse_device(device_key)
    df, err = guarded(queries.tradeoff, appliance or None, dev)
    if err:
        return figures.empty(err), line, ""
    baselines, _ = guarded(queries.baselines)
    _, decided, _ = decide(device_key, cost, tol, budget_values)
    notes = []
    reference = None
    if ref:
        reference, _ = guarded(queries.reference_points, metric)
        if reference is None or reference.empty:
            notes.append(
                f"The article publishes no {figures.METRIC_LABELS.get(metric, metric)} with this "
                "project's definition (its MAE/SAE/NDE are status-masked: choose the masked MAE "
                "to compare; its energy error uses its hourly rule)."
            )
            reference = None
        else:
            if appliance:
                reference = reference[reference["appliance"] == appliance]
            notes.append(
                "Crosses are the article's published numbers on its own hardware (x86 8 threads "
                "or Raspberry Pi 4, 4 threads) and protocol (see each point's hover); values the "
                "reference notes mark as errata are not drawn."
            )
    fig = figures.tradeoff(
        df,
        metric,
        x,
        budgets_from(budget_values),
        reference,
        baselines,
        decided,
        device=device_name(devices, device_key),
    )
    return fig, line, " ".join(notes)


@dash.callback(
    Output("to-nav", "href"), Input("tradeoff-graph", "clickData"), prevent_initial_call=True
)
def open_variant(click):
    try:
        vid = click["points"][0]["customdata"][0]
    except (TypeError, KeyError, IndexError):
        return dash.no_update
    if not isinstance(vid, str) or "." not in vid:
        return dash.no_update
    return "/variant?" + urllib.parse.urlencode({"id": vid})
