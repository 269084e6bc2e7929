"""The article's published numbers against ours, like for like: same metric definition, same
unit, each side's protocol said, known errata listed and not plotted."""

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, dcc, html

from dashboard import figures, queries
from dashboard.callbacks import guarded, store_view
from dashboard.components import chart, field, loading, notice, page_header, share_link, url_state
from dashboard.grids import grid, interval_col, number_col, text_col
from dashboard.validate import one_of

dash.register_page(
    __name__, path="/article", name="Article", title="nilm-edge · against the article", order=6
)

METRICS = [
    ("F1", "f1"),
    ("MCC", "mcc"),
    ("accuracy", "acc"),
    ("MAE, status-masked (W)", "mae_masked"),
    ("SAE, status-masked", "sae_masked"),
    ("NDE, status-masked", "nde_masked"),
    ("energy-per-day error, the article's hourly rule (%)", "epd_article_error_pct"),
]
SPLITS = [
    ("whole test span (our stratified sample)", "test"),
    ("contiguous stretch scored the article's way", "test_trace"),
]

COLUMNS = [
    text_col("appliance", "appliance", pinned="left"),
    text_col("arch", "arch"),
    text_col("mode", "mode"),
    number_col("article_value", "article", 4),
    interval_col("our_value", "ours [95 % CI]", "our_lo", "our_hi", 4),
    text_col("note", "known erratum (not plotted)", minWidth=260, wrapText=True, autoHeight=True),
    text_col(
        "article_protocol", "article's protocol", minWidth=300, wrapText=True, autoHeight=True
    ),
    text_col("our_protocol", "our protocol", minWidth=240, wrapText=True, autoHeight=True),
    text_col("table_ref", "article table"),
]


HINT = (
    "Only metrics with the same definition are compared: the article's MAE, SAE and NDE are "
    "status-masked, so they stand beside our masked ones (our plain MAE is not comparable); "
    "sizes are decimal MB. The article's quantized tables are on the first 432,000 windows of "
    "the test house with 8 threads; its float tables on the whole test house. Accuracy does "
    "not depend on the device."
)


def layout(metric="f1", split="test", **_):
    metric = metric if metric in dict((v, k) for k, v in METRICS) else "f1"
    split = split if split in ("test", "test_trace") else "test"
    metric_options = [{"label": a, "value": b} for a, b in METRICS]
    split_options = [{"label": a, "value": b} for a, b in SPLITS]
    return html.Div(
        [
            *page_header("Against the article", hint=HINT, hint_class="hint mb-2"),
            dbc.Row(
                [
                    field(
                        "metric",
                        "art-metric",
                        dcc.Dropdown(metric_options, metric, id="art-metric", clearable=False),
                        xs=12,
                        md=6,
                    ),
                    field(
                        "our numbers from",
                        "art-split",
                        dcc.Dropdown(split_options, split, id="art-split", clearable=False),
                        xs=12,
                        md=6,
                    ),
                ],
                className="g-2 controls",
            ),
            share_link("art-share"),
            loading(chart(dcc.Graph(id="art-graph"), "the article's value against ours")),
            loading(html.Div(id="art-table")),
        ]
    )


url_state(
    "/article", "art-share", [("metric", "art-metric", "value"), ("split", "art-split", "value")]
)


@dash.callback(
    Output("art-graph", "figure"),
    Output("art-table", "children"),
    Input("art-metric", "value"),
    Input("art-split", "value"),
)
@store_view
def update(metric, split):
    metric = one_of(metric, [b for _, b in METRICS], "f1")
    split = one_of(split, [b for _, b in SPLITS], "test")
    df, err = guarded(queries.article_comparison, metric, split)
    if err:
        return figures.empty(err), notice(err)
    return figures.article_comparison(df, metric), grid("article-grid", df, COLUMNS)
