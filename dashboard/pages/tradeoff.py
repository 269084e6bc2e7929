"""Accuracy versus cost on one device: one panel per appliance, each with its own Pareto front,
intervals as error bars, baselines as reference lines, budgets on log scales."""

import urllib.parse

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, dcc, html

from dashboard import figures, power_flags, queries
from dashboard.callbacks import guarded, store_view
from dashboard.components import (
    chart,
    error_page,
    field,
    loading,
    notice,
    page_header,
    share_link,
    url_state,
)
from dashboard.device_controls import (
    budget_ranges,
    budgets_from,
    decide,
    device_controls,
    device_line,
    device_name,
    device_params,
    device_state,
    register_budget_sync,
)
from dashboard.grids import grid, interval_col, number_col, text_col
from dashboard.validate import one_of, some_of
from store.recommend import COSTS

dash.register_page(
    __name__, path="/tradeoff", name="Tradeoff", title="nilm-edge · accuracy versus cost", order=1
)

P = "to"
TITLE = "Accuracy versus cost"
METRICS = list(figures.TRADEOFF_METRICS)  # labels, units and direction: store/vocab.py METRICS
OLD_NAMES = {"mae": "mae_w", "mae_masked": "mae_masked_w"}  # links made before the rename
XAXES = [("latency (ms)", "latency_ms"), ("RAM (MB)", "ram_mb"), ("disk (MB)", "disk_mb")]
HINT = (
    "Click a point to open that variant. Colour is the mode, the symbol the architecture; grey "
    "points are over a budget (dashed line); the dotted line is each appliance's Pareto front; "
    "the star is the recommended variant; a red ring marks a model whose MAE or energy-per-day "
    "error is worse than a baseline's, whatever its F1; horizontal lines are the baselines; "
    "error bars are 95 % intervals."
)


SAMPLE_HINT = (
    "Each variant's accuracy is estimated on its level of the evaluation sample: 'full', or a "
    "nested sub-sample for the costlier files; 'on' windows are those where the appliance is "
    "on (an F1 from fewer than 20 of them is not used by the recommendation)."
)


def _figure_choices(metric: str, x: str, appliance: str, ref, apps) -> dbc.Row:
    """Accuracy metric, cost axis, appliance and the article's points."""
    metric_options = [{"label": figures.METRIC_LABELS.get(m, m), "value": m} for m in METRICS]
    app_options = [{"label": "all (one panel each)", "value": ""}] + [
        {"label": a, "value": a} for a in apps or []
    ]
    # Bootstrap's checklist: its input sits beside its label, not inside a labelled option
    # (dcc.Checklist's nesting was axe's one 'serious' finding, nested-interactive)
    article = dbc.Checklist(
        options=[{"label": "the article's published points", "value": "ref"}],
        value=["ref"] if ref else [],
        id="to-ref",
    )
    return dbc.Row(
        [
            field(
                "accuracy metric",
                "to-metric",
                dcc.Dropdown(metric_options, metric, id="to-metric", clearable=False),
                xs=12,
                md=4,
            ),
            field(
                "cost axis (log scale)",
                "to-x",
                dcc.Dropdown(
                    [{"label": a, "value": b} for a, b in XAXES], x, id="to-x", clearable=False
                ),
                xs=6,
                md=3,
            ),
            field(
                "appliance",
                "to-app",
                dcc.Dropdown(app_options, appliance or "", id="to-app", clearable=False),
                xs=6,
                md=3,
            ),
            dbc.Col(
                html.Div(article, role="group", **{"aria-label": "reference points"}),
                xs=12,
                md=2,
                className="pt-md-4",
            ),
        ],
        className="g-2 controls",
    )


@store_view
def layout(metric="f1", x="latency_ms", appliance="", ref="", **params):
    devices, err = guarded(queries.devices)
    if err:
        return error_page(TITLE, err)
    apps, _ = guarded(queries.appliances)
    metric = OLD_NAMES.get(metric, metric)
    metric = metric if metric in METRICS else "f1"
    x = x if x in COSTS else "latency_ms"
    state = device_state(params, devices)
    ranges_raw, _ = guarded(queries.cost_ranges)
    return html.Div(
        [
            *page_header(
                TITLE,
                device=("to-device-line", device_line(devices, state["device"], state["preset"])),
            ),
            device_controls(P, state, devices, budget_ranges(ranges_raw)),
            _figure_choices(metric, x, appliance, ref, apps),
            share_link("to-share"),
            html.Div(id="to-notes", className="hint"),
            loading(
                chart(
                    dcc.Graph(id="tradeoff-graph", config={"responsive": True}),
                    "accuracy against cost, a panel per appliance",
                )
            ),
            html.Ul(id="to-key", className="chart-key", **{"aria-label": "key to the chart"}),
            html.Div(HINT, className="hint"),
            html.H2("Every variant on this device, with its evaluation sample", className="h5"),
            html.Div(SAMPLE_HINT, className="hint"),
            loading(html.Div(id="to-table")),
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


def _article_points(metric: str, appliance: str):
    """The article's points for the figure (or None) and a note on what they are."""
    reference, _ = guarded(queries.reference_points, metric)
    if reference is None or reference.empty:
        return None, (
            f"The article publishes no {figures.METRIC_LABELS.get(metric, metric)} with this "
            "project's definition (its MAE/SAE/NDE are status-masked: choose the masked MAE "
            "to compare; its energy error uses its hourly rule)."
        )
    if appliance:
        reference = reference[reference["appliance"] == appliance]
    return reference, (
        "Crosses are the article's published numbers on its own hardware (x86 8 threads "
        "or Raspberry Pi 4, 4 threads) and protocol (see each point's hover); values the "
        "reference notes mark as errata are not drawn."
    )


def chart_key(entries: list[dict], article: bool) -> list:
    """The key as list items: a coloured glyph (decorative) and its label."""
    if article:
        entries = [*entries, {"label": "the article's point", "color": "#777777", "glyph": "×"}]
    return [
        html.Li(
            [
                html.Span(e["glyph"], style={"color": e["color"]}, **{"aria-hidden": "true"}),
                e["label"],
            ],
            className=f"key-{e.get('group', 'mark')}",
        )
        for e in entries
    ]


@dash.callback(
    Output("tradeoff-graph", "figure"),
    Output("to-device-line", "children"),
    Output("to-notes", "children"),
    Output("to-key", "children"),
    Input(f"{P}-device", "value"),
    Input(f"{P}-cost", "value"),
    Input(f"{P}-tol", "value"),
    Input("to-metric", "value"),
    Input("to-x", "value"),
    Input("to-app", "value"),
    Input("to-ref", "value"),
    Input(f"{P}-preset", "value"),
    [Input(f"{P}-{c}-in", "value") for c in COSTS],
)
@store_view
def update(device_key, cost, tol, metric, x, appliance, ref, preset, *budget_values):
    devices, _ = guarded(queries.devices)
    line = device_line(devices, device_key, preset)
    metric, x = one_of(metric, METRICS, "f1"), one_of(x, COSTS, "latency_ms")
    apps, _ = guarded(queries.appliances)
    appliance = one_of(appliance, apps or [], None)
    ref = bool(some_of(ref, ["ref"]))
    df, err = guarded(flagged_tradeoff, appliance, queries.parse_device(device_key))
    if err:
        return figures.empty(err), line, "", []
    baselines, _ = guarded(queries.baselines)
    _, decided, _ = decide(device_key, cost, tol, budget_values)
    reference, notes = _article_points(metric, appliance) if ref else (None, "")
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
    budgets = budgets_from(budget_values)
    key = chart_key(figures.tradeoff_key(df, budgets), reference is not None and len(reference))
    return fig, line, notes, key


def flagged_tradeoff(store, appliance, device):
    """The tradeoff rows with each model's power flag (MAE or energy error worse than a
    baseline, dashboard/power_flags.py)."""
    df = queries.tradeoff(store, appliance, device)
    best = queries.best_baselines(store)
    return df.assign(power_flag=power_flags.flags(df, best))


def _table_columns(metric: str) -> list[dict]:
    label = figures.METRIC_LABELS.get(metric, metric)
    lo_hi = figures.INTERVALS.get(metric)
    value = interval_col(metric, label, *lo_hi) if lo_hi else number_col(metric, label, 4)
    return [
        text_col("appliance", "appliance", pinned="left", minWidth=110),
        text_col("variant", "variant", cellRenderer="markdown", minWidth=220),
        value,
        text_col("power_flag", power_flags.FLAG_HEADER, width=360, tooltipField="power_flag"),
        number_col("n_windows", "windows (n)", 0),
        text_col("sample_level", "sample level"),
        number_col("on_windows", "'on' windows", 0),
        number_col("latency_ms", "latency", 3, "ms"),
        number_col("ram_mb", "RAM", 1, "MB"),
        number_col("disk_mb", "disk", 2, "MB"),
    ]


@dash.callback(
    Output("to-table", "children"),
    Input(f"{P}-device", "value"),
    Input("to-metric", "value"),
    Input("to-app", "value"),
)
@store_view
def table(device_key, metric, appliance):
    """The plotted variants as a table: accuracy, costs and the sample each was scored on."""
    metric = one_of(metric, METRICS, "f1")
    apps, _ = guarded(queries.appliances)
    appliance = one_of(appliance, apps or [], None)
    df, err = guarded(flagged_tradeoff, appliance, queries.parse_device(device_key))
    if err:
        return notice(err)
    df = df.assign(variant=[f"[{v}](/variant?id={v})" for v in df["variant_id"]])
    return grid("tradeoff-table", df, _table_columns(metric))


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
