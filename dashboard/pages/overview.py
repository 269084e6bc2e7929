import dash
from dash import Input, Output, dash_table, dcc, html

from dashboard import queries
from dashboard.app import guarded, notice

dash.register_page(__name__, path="/", name="Overview")

COLUMNS = [
    "appliance",
    "arch",
    "mode",
    "host",
    "runtime",
    "threads",
    "f1",
    "mcc",
    "mae_w",
    "sae",
    "nde",
    "epd_error_pct",
    "latency_ms",
    "ram_mb",
    "disk_mb",
    "xnnpack_partitions",
]


def layout(**_):
    facts, err = guarded(queries.store_facts)
    if err:
        return html.Div([html.H2("Overview"), notice(err)])
    board, err = guarded(queries.leaderboard)
    last = facts.get("last_run")
    head = html.Div(
        [
            html.Span(f"refreshed {facts.get('refreshed_at', 'never')}"),
            html.Span(f"last run: {last[0]} ({last[1]}, {last[2]})" if last else "no run yet"),
            html.Span(
                f"{facts['n_models']} models, {facts['n_variants']} variants, {facts['n_latency']} latency rows"
            ),
        ],
        className="facts",
        id="overview-facts",
    )
    if err or board is None or board.empty:
        return html.Div(
            [
                html.H2("Overview"),
                head,
                notice(err or "The store has no measured variants yet: run `pipeline all`."),
            ]
        )
    return html.Div(
        [
            html.H2("Overview"),
            head,
            html.H3("Best variant per appliance within budgets"),
            html.Div(
                className="controls",
                children=[
                    html.Div(
                        [
                            html.Label("max latency (ms)"),
                            dcc.Input(id="ov-lat", type="number", value=50),
                        ]
                    ),
                    html.Div(
                        [
                            html.Label("max RAM (MB)"),
                            dcc.Input(id="ov-ram", type="number", value=100),
                        ]
                    ),
                    html.Div(
                        [
                            html.Label("max disk (MB)"),
                            dcc.Input(id="ov-disk", type="number", value=50),
                        ]
                    ),
                ],
            ),
            html.Div(id="ov-best"),
            html.H3("Leaderboard"),
            dash_table.DataTable(
                id="leaderboard",
                data=board.to_dict("records"),
                columns=[{"name": c, "id": c, "hideable": True} for c in COLUMNS],
                sort_action="native",
                filter_action="native",
                page_size=25,
                export_format="csv",
                style_table={"overflowX": "auto"},
                style_cell={"fontSize": 13, "padding": "3px 6px"},
            ),
        ]
    )


@dash.callback(
    Output("ov-best", "children"),
    Input("ov-lat", "value"),
    Input("ov-ram", "value"),
    Input("ov-disk", "value"),
)
def best(lat, ram, disk):
    board, err = guarded(queries.leaderboard)
    if err:
        return notice(err)
    ok = board[(board["threads"] == 1)]
    for col, limit in (("latency_ms", lat), ("ram_mb", ram), ("disk_mb", disk)):
        if limit is not None:
            ok = ok[ok[col] <= limit]
    if ok.empty:
        return notice("no variant fits these budgets")
    top = ok.sort_values(["f1", "latency_ms"], ascending=[False, True]).groupby("appliance").head(1)
    return dash_table.DataTable(
        id="best-table",
        data=top.to_dict("records"),
        columns=[
            {"name": c, "id": c}
            for c in [
                "appliance",
                "arch",
                "mode",
                "runtime",
                "f1",
                "mae_w",
                "latency_ms",
                "ram_mb",
                "disk_mb",
            ]
        ],
        style_cell={"fontSize": 13},
    )
