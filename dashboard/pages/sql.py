"""Ad-hoc read-only SQL over the store, with examples, a row/size/time limit and shareable links.

The rules (one read statement, no file or network access, limits) are store.safe_sql's, the same
as `pipeline sql`'s. A link `/sql?q=...` opens the page with that query and runs it.
"""

import time

import dash
import dash_bootstrap_components as dbc
import numpy as np
import pandas as pd
from dash import Input, Output, State, dcc, html, no_update

from dashboard import queries
from dashboard.callbacks import guarded, store_view
from dashboard.components import error_page, link, loading, page_header, share_link
from dashboard.grids import grid, number_col, text_col
from dashboard.validate import count, index
from dashboard.validate import text as valid_text

dash.register_page(__name__, path="/sql", name="SQL", title="nilm-edge · SQL")

# (label, query): questions people ask of the store, over its views
EXAMPLES = [
    (
        "Accuracy beside cost, every variant (tradeoff)",
        "SELECT appliance, arch, mode, host, threads, f1, mae_w, latency_ms, ram_mb, disk_mb\n"
        "FROM tradeoff ORDER BY appliance, f1 DESC",
    ),
    (
        "Best F1 per appliance under 5 ms and 10 MB",
        "SELECT appliance, arg_max(variant_id, f1) AS variant_id, max(f1) AS f1\n"
        "FROM tradeoff WHERE latency_ms <= 5 AND disk_mb <= 10\n"
        "GROUP BY appliance ORDER BY appliance",
    ),
    (
        "What quantization costs in F1, paired on the same windows (metric_deltas)",
        "SELECT variant_id, reference_id, round(delta, 4) AS f1_change, round(ci_low, 4) AS lo,\n"
        "       round(ci_high, 4) AS hi, distinguishable, n_windows\n"
        "FROM metric_deltas WHERE metric = 'f1' AND split = 'test' ORDER BY delta",
    ),
    (
        "Slowest op types of one variant (op_type_summary)",
        "SELECT variant_id, host, op_type, xnnpack, nodes, total_ms, share\n"
        "FROM op_type_summary WHERE variant_id = (SELECT min(variant_id) FROM op_profile)\n"
        "ORDER BY total_ms DESC",
    ),
    (
        "Ops XNNPACK did not take (op_profile)",
        "SELECT variant_id, op_type, count(*) AS nodes, sum(latency_ms) AS ms\n"
        "FROM op_profile WHERE NOT xnnpack GROUP BY ALL ORDER BY ms DESC",
    ),
    (
        "The article's published latencies (reference_results)",
        "SELECT appliance, arch, mode, host, value AS latency_ms, conditions\n"
        "FROM reference_results WHERE metric = 'latency_ms' ORDER BY ALL",
    ),
    (
        "Latest runs",
        "SELECT run_id, command, profile, status, started_at, finished_at\nFROM runs ORDER BY started_at DESC LIMIT 20",
    ),
    ("Columns of the tradeoff view", "DESCRIBE tradeoff"),
]
DEFAULT_QUERY = EXAMPLES[0][1]


def _schema_panel():
    schema, err = guarded(queries.schema)
    if err:
        return None, err
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
    return tables, None


@store_view
def layout(q=None, **_):
    tables, err = _schema_panel()
    if err:
        return error_page("SQL", err)
    limits = (
        f"One read statement (SELECT, WITH, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN) at a time; at most "
        f"{queries.SQL_ROW_LIMIT} rows, {queries.SQL_MAX_BYTES / 1e6:.0f} MB and "
        f"{queries.SQL_TIME_LIMIT_S:.0f} s; no file or network access. For bigger exports: "
        "`pipeline sql --format parquet -o FILE`."
    )
    editor = [
        dcc.Dropdown(
            id="sql-example",
            options=[{"label": label, "value": i} for i, (label, _) in enumerate(EXAMPLES)],
            placeholder="Example queries…",
            clearable=True,
            className="mb-2",
        ),
        html.Label("query", htmlFor="sql-text", className="visually-hidden"),
        dcc.Textarea(
            id="sql-text",
            value=q or DEFAULT_QUERY,
            style={"width": "100%", "height": "140px", "fontFamily": "monospace"},
        ),
        # a shared link (?q=...) runs its query on load
        dbc.Button("Run", id="sql-run", n_clicks=1 if q else 0, size="sm", className="me-2"),
        html.Span("or Ctrl+Enter in the box", className="hint me-3"),
        share_link("sql-share"),
        html.Div(limits, className="hint"),
    ]
    schema = html.Div(
        [html.H2("Schema", className="h5"), *tables],
        style={"maxHeight": "80vh", "overflowY": "auto"},
    )
    return html.Div(
        [
            *page_header("SQL (read-only)"),
            dbc.Row([dbc.Col(editor, lg=8), dbc.Col(schema, lg=4)]),
            html.H2("Result", className="h5 mt-2"),
            loading(html.Div(id="sql-result", className="sql-result")),
        ]
    )


@dash.callback(
    Output("sql-text", "value"), Input("sql-example", "value"), prevent_initial_call=True
)
def pick_example(i):
    k = index(i, len(EXAMPLES))
    return no_update if k is None else EXAMPLES[k][1]


@dash.callback(Output("sql-share", "href"), Input("sql-text", "value"))
def share(text):
    return link("/sql", q=valid_text(text, ""))


def rows_line(df) -> str:
    if df.attrs.get("truncated"):
        return (
            f"{len(df)} rows shown: the result was cut at the row limit of "
            f"{queries.SQL_ROW_LIMIT}; add a WHERE or LIMIT, or export with `pipeline sql`"
        )
    return f"{len(df)} rows"


@dash.callback(
    Output("sql-result", "children"), Input("sql-run", "n_clicks"), State("sql-text", "value")
)
def run(n, text):
    if not count(n):
        return ""
    text = valid_text(text)
    if text is None:
        return html.Div("the query must be text", className="error", id="sql-error")
    t0 = time.perf_counter()
    df, err = guarded(queries.run_user_sql, text)
    took = f" in {(time.perf_counter() - t0) * 1000:,.0f} ms"
    if err:
        return html.Div(err + f" (after{took})", className="error", id="sql-error")
    truncated = bool(df.attrs.get("truncated"))
    if df.attrs.get("kept"):
        took += " (this query's answer on this version of the store, kept)"
    rows, columns = result_grid(df)
    return html.Div(
        [
            html.Div(
                rows_line(df) + took, id="sql-rows", className="notice" if truncated else "hint"
            ),
            grid("sql-table", rows, columns),
        ]
    )


def _text(v) -> str:
    try:
        missing = v is None or bool(pd.isna(v))
    except (TypeError, ValueError):  # a list or struct cell
        missing = False
    return "" if missing else str(v)


def result_grid(df: pd.DataFrame) -> tuple[pd.DataFrame, list[dict]]:
    """Rows and column definitions for the grid: positional field names (a result may repeat a
    column name, as in SELECT 1, 1); numbers stay numbers (sortable), anything else is text."""
    out, columns = {}, []
    for i, name in enumerate(df.columns):
        col, field = df.iloc[:, i], f"c{i}"
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            values = col.to_numpy(dtype="float64", na_value=np.nan)
            cells = values.astype(object)
            cells[np.isnan(values)] = None
            out[field] = cells
            columns.append(number_col(field, str(name), digits=6))
        else:
            out[field] = [_text(v) for v in col.to_numpy(dtype=object)]
            columns.append(text_col(field, str(name)))
    return pd.DataFrame(out, index=df.index), columns


# after Run, the address carries the query that ran (a reload or a shared link runs it again)
dash.clientside_callback(
    """
    function(n, text) {
        if (!n || typeof text !== 'string') return window.dash_clientside.no_update;
        const href = '/sql?' + new URLSearchParams({q: text}).toString();
        if (window.location.pathname === '/sql') {
            window.history.replaceState(window.history.state, '', href);
        }
        return window.dash_clientside.no_update;
    }
    """,
    Output("sql-run", "title"),
    Input("sql-run", "n_clicks"),
    State("sql-text", "value"),
    prevent_initial_call=True,
)
