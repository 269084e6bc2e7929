import dash
from dash import Input, Output, dcc, html

from dashboard import figures, queries
from dashboard.app import guarded, link, notice, share_link

dash.register_page(__name__, path="/quantization", name="Quantization")


def layout(metric="f1", **_):
    summary, err = guarded(queries.layer_error_summary)
    if err:
        return html.Div([html.H2("Quantization"), notice(err)])
    return html.Div(
        [
            html.H2("Which layers quantize badly"),
            html.P(
                "Mean rmse/scale per op type (0.289 is the ideal uniform rounding error; the suspect threshold is 0.7)."
            ),
            dcc.Graph(id="qz-heatmap", figure=figures.layer_error_heatmap(summary)),
            html.H2("How each mode moves each metric against the float model"),
            dcc.Dropdown(
                ["f1", "mcc", "mae", "sae", "nde", "epd_error_pct"],
                metric,
                id="qz-metric",
                clearable=False,
                style={"width": "240px"},
            ),
            share_link("qz-share"),
            dcc.Graph(id="qz-deltas"),
        ]
    )


@dash.callback(Output("qz-share", "href"), Input("qz-metric", "value"))
def share(metric):
    return link("/quantization", metric=metric)


@dash.callback(Output("qz-deltas", "figure"), Input("qz-metric", "value"))
def deltas(metric):
    df, err = guarded(queries.mode_deltas)
    return figures.empty(err) if err else figures.mode_deltas(df, metric)
