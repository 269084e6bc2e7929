import dash
from dash import Input, Output, State, dash_table, dcc, html

from dashboard import queries
from dashboard.app import guarded, link, notice, share_link

dash.register_page(__name__, path="/sql", name="SQL")

EXAMPLE = (
    "SELECT appliance, arch, mode, f1, latency_ms, ram_mb, disk_mb FROM tradeoff ORDER BY f1 DESC"
)


def layout(q=None, **_):
    schema, err = guarded(queries.schema)
    if err:
        return html.Div([html.H2("SQL"), notice(err)])
    tables = []
    for name, g in schema.groupby("table_name", sort=True):
        tables.append(
            html.Details(
                [
                    html.Summary(name),
                    html.Div(g["table_comment"].iloc[0] or "", className="hint"),
                    html.Ul(
                        [
                            html.Li(f"{r.column_name} ({r.data_type}): {r.column_comment or ''}")
                            for r in g.itertuples()
                        ]
                    ),
                ]
            )
        )
    return html.Div(
        [
            html.H2("SQL (read-only)"),
            html.Div(
                className="grid2",
                children=[
                    html.Div(
                        [
                            dcc.Textarea(
                                id="sql-text",
                                value=q or EXAMPLE,
                                style={
                                    "width": "100%",
                                    "height": "140px",
                                    "fontFamily": "monospace",
                                },
                            ),
                            html.Button("Run", id="sql-run", n_clicks=0),
                            share_link("sql-share"),
                            html.Div(
                                f"One SELECT at a time, at most {queries.SQL_ROW_LIMIT} rows and {queries.SQL_TIME_LIMIT_S:.0f} s; no file or network access.",
                                className="hint",
                            ),
                            html.Div(id="sql-result"),
                        ]
                    ),
                    html.Div(
                        [html.H4("Schema"), *tables],
                        style={"maxHeight": "80vh", "overflowY": "auto"},
                    ),
                ],
            ),
        ]
    )


@dash.callback(Output("sql-share", "href"), Input("sql-text", "value"))
def share(text):
    return link("/sql", q=text)


@dash.callback(
    Output("sql-result", "children"), Input("sql-run", "n_clicks"), State("sql-text", "value")
)
def run(n, text):
    if not n:
        return ""
    df, err = guarded(queries.run_user_sql, text)
    if err:
        return html.Div(err, className="error", id="sql-error")
    return html.Div(
        [
            html.Div(f"{len(df)} rows", id="sql-rows"),
            dash_table.DataTable(
                id="sql-table",
                data=df.astype(str).to_dict("records"),
                columns=[{"name": c, "id": c} for c in df.columns],
                page_size=25,
                export_format="csv",
                style_table={"overflowX": "auto"},
                style_cell={"fontSize": 12},
            ),
        ]
    )
