"""The article's published numbers against ours, like for like: same metric definition, same
unit, each side's protocol said, known errata listed and not plotted."""

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, dcc, html

from dashboard import figures, queries
from dashboard.callbacks import guarded, store_view
from dashboard.components import chart, field, loading, notice, page_header, share_link, url_state
from dashboard.grids import grid, number_col, text_col
from dashboard.validate import one_of
from store.vocab import ARTICLE_LABELS

dash.register_page(
    __name__, path="/article", name="Article", title="nilm-edge · against the article", order=6
)

# (label, metric) of each metric the article publishes with our definition (the registry's flags)
METRICS = [(label, metric) for metric, label in ARTICLE_LABELS.items()]
COLUMNS = [
    text_col("appliance", "appliance", pinned="left"),
    text_col("arch", "arch"),
    text_col("mode", "mode"),
    number_col("article_value", "article", 4),
    number_col("our_value", "ours (test_trace)", 4),
    number_col("our_windows", "our windows", 0),
    text_col("note", "known erratum (not plotted)", minWidth=260, wrapText=True, autoHeight=True),
    text_col(
        "article_protocol", "article's protocol", minWidth=300, wrapText=True, autoHeight=True
    ),
    text_col("our_protocol", "our protocol", minWidth=300, wrapText=True, autoHeight=True),
    text_col("table_ref", "article table"),
]


HINT = (
    "Like for like: our numbers here are from split test_trace only, a contiguous stretch of "
    "the test house scored under the article's protocol (on/off status by its minimum on and "
    "off durations, its status-masked MAE, SAE and NDE, its energy per day by hourly chunks). "
    "The whole-span estimates of the other pages (split test, status by threshold alone) are "
    "not compared with the article. Our plain MAE has no counterpart there; sizes are decimal "
    "MB. The article's quantized tables are on the first 432,000 windows of the test house "
    "with 8 threads, its float tables on the whole test house. Accuracy does not depend on "
    "the device."
)
NO_TRACE_ROWS = (
    "No variant has metrics on split test_trace in this store, so there is nothing to set "
    "beside the article: only that contiguous stretch is scored under the article's protocol "
    "(the whole-span sample is not). Run `pipeline evaluate` (or `pipeline all`), which scores "
    "the stretch for every variant."
)


def layout(metric="f1", **_):
    metric = metric if metric in dict((v, k) for k, v in METRICS) else "f1"
    metric_options = [{"label": a, "value": b} for a, b in METRICS]
    return html.Div(
        [
            *page_header("Against the article", hint=HINT, hint_class="hint mb-2"),
            dbc.Row(
                field(
                    "metric",
                    "art-metric",
                    dcc.Dropdown(metric_options, metric, id="art-metric", clearable=False),
                    xs=12,
                    md=6,
                ),
                className="g-2 controls",
            ),
            share_link("art-share"),
            loading(chart(dcc.Graph(id="art-graph"), "the article's value against ours")),
            loading(html.Div(id="art-table")),
        ]
    )


url_state("/article", "art-share", [("metric", "art-metric", "value")])


@dash.callback(
    Output("art-graph", "figure"),
    Output("art-table", "children"),
    Input("art-metric", "value"),
)
@store_view
def update(metric):
    metric = one_of(metric, [b for _, b in METRICS], "f1")
    df, err = guarded(queries.article_comparison, metric)
    if err:
        return figures.empty(err), notice(err)
    if df is not None and not df.empty and df["our_value"].isna().all():
        why = NO_TRACE_ROWS
        if df["split_rows"].iloc[0]:
            why = (
                f"No variant of ours has {dict((v, k) for k, v in METRICS)[metric]} on split "
                "test_trace for a model and mode the article publishes."
            )
        return figures.empty(why), html.Div([notice(why), grid("article-grid", df, COLUMNS)])
    return figures.article_comparison(df, metric), grid("article-grid", df, COLUMNS)
