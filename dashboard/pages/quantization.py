"""What breaks each quantized model (the tensor ranked first end to end), which layers quantize
badly (rmse/scale per op type, a panel per appliance) and how each mode moves each metric
against the float model."""

import dash
from dash import Input, Output, dcc, html

from dashboard import figures, queries
from dashboard.callbacks import guarded, store_view
from dashboard.components import (
    chart,
    error_page,
    loading,
    notice,
    page_header,
    share_link,
    url_state,
)
from dashboard.figures.quant_cause import layer_error_panels
from dashboard.grids import grid, number_col, text_col
from dashboard.queries.quant_cause import first_causes, layer_error_by_op
from store.vocab import QUANT_DELTA_METRICS

dash.register_page(
    __name__,
    path="/quantization",
    name="Quantization",
    title="nilm-edge · quantization error",
    order=5,
)


CAUSE_COLUMNS = [
    text_col("appliance", "appliance", pinned="left"),
    text_col("arch", "arch"),
    text_col("op_name", "op ranked first"),
    text_col("tensor_name", "tensor", minWidth=260),
    number_col("range", "range", 4),
    number_col("scale", "step", 4),
    number_col("p99_over_scale", "p99 |x| / step", 3),
    number_col("zero_share", "zero share", 3),
    text_col("range_blowup", "range blow-up"),
    number_col("output_rmse_quant", "output RMSE int8", 4),
    number_col("output_rmse_kept_float", "output RMSE, it in float", 4),
    number_col("recovered_share", "recovered", 3),
    number_col("flip_share_quant", "on/off flipped int8", 3),
    number_col("flip_share_kept_float", "flipped, it in float", 3),
    number_col("protected_tensors", "protected", 0),
]


def _causes() -> list:
    causes, err = guarded(first_causes)
    if err or causes is None or causes.empty:
        return [notice(err or "no end-to-end ranking yet: run `pipeline convert`")]
    return [grid("qz-causes", causes, CAUSE_COLUMNS)]


@store_view
def layout(metric="f1", **_):
    summary, err = guarded(layer_error_by_op)
    threshold, _ = guarded(queries.suspect_threshold)
    if err:
        return error_page("Quantization", err)
    return html.Div(
        [
            *page_header("What breaks each quantized model"),
            html.P(
                "For each model's w8_a8 file: the tensor that, kept alone in float, recovers "
                "most of the output error (RMSE against the float model on training windows), "
                "with its range, its int8 step and how its typical values sit on that grid. "
                "w8_a8_selective keeps the protected tensors in float, w8_a8_mixed16 gives "
                "them int16; the Variant page shows each model's whole ranking."
            ),
            *_causes(),
            html.H2("Which layers quantize badly", className="h3"),
            html.P(
                "Mean rmse/scale per op type, log colour scale centred on "
                + (
                    f"the run's recorded suspect threshold {threshold:g}"
                    if threshold is not None
                    else "0.7 (the run recorded no suspect threshold)"
                )
                + "; 0.289 is the ideal uniform rounding error; blank: the file has no such op."
            ),
            chart(
                dcc.Graph(id="qz-heatmap", figure=layer_error_panels(summary, threshold)),
                "quantization error per op type, a panel per appliance",
            ),
            html.H2("How each mode moves each metric against the float model", className="h3"),
            html.Div(
                "Paired differences on the windows both saw, with 95 % intervals; hollow markers "
                "are not distinguishable from float.",
                className="hint",
            ),
            dcc.Dropdown(
                list(QUANT_DELTA_METRICS),
                metric,
                id="qz-metric",
                clearable=False,
                style={"maxWidth": "240px"},
            ),
            share_link("qz-share"),
            loading(
                chart(
                    dcc.Graph(id="qz-deltas"),
                    "each mode's paired difference from the float model",
                )
            ),
        ]
    )


url_state("/quantization", "qz-share", [("metric", "qz-metric", "value")])


@dash.callback(Output("qz-deltas", "figure"), Input("qz-metric", "value"))
@store_view
def deltas(metric):
    df, err = guarded(queries.mode_deltas)
    return figures.empty(err) if err else figures.mode_deltas(df, metric)
