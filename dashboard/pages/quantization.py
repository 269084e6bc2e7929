"""Which layers quantize badly (rmse/scale per op type) and how each mode moves each metric
against the float model."""

import dash
from dash import Input, Output, dcc, html

from dashboard import figures, queries
from dashboard.callbacks import guarded, store_view
from dashboard.components import error_page, loading, page_header, share_link, url_state

dash.register_page(
    __name__,
    path="/quantization",
    name="Quantization",
    title="nilm-edge · quantization error",
    order=5,
)


@store_view
def layout(metric="f1", **_):
    summary, err = guarded(queries.layer_error_summary)
    threshold, _ = guarded(queries.suspect_threshold)
    if err:
        return error_page("Quantization", err)
    return html.Div(
        [
            *page_header("Which layers quantize badly"),
            html.P(
                "Mean rmse/scale per op type (0.289 is the ideal uniform rounding error; "
                + (
                    f"the run's recorded suspect threshold is {threshold:g})."
                    if threshold is not None
                    else "the run recorded no suspect threshold)."
                )
            ),
            dcc.Graph(id="qz-heatmap", figure=figures.layer_error_heatmap(summary)),
            html.H3("How each mode moves each metric against the float model"),
            html.Div(
                "Paired differences on the windows both saw, with 95 % intervals; hollow markers "
                "are not distinguishable from float.",
                className="hint",
            ),
            dcc.Dropdown(
                ["f1", "mcc", "mae", "sae", "nde", "epd_error_pct"],
                metric,
                id="qz-metric",
                clearable=False,
                style={"maxWidth": "240px"},
            ),
            share_link("qz-share"),
            loading(dcc.Graph(id="qz-deltas")),
        ]
    )


url_state("/quantization", "qz-share", [("metric", "qz-metric", "value")])


@dash.callback(Output("qz-deltas", "figure"), Input("qz-metric", "value"))
@store_view
def deltas(metric):
    df, err = guarded(queries.mode_deltas)
    return figures.empty(err) if err else figures.mode_deltas(df, metric)
