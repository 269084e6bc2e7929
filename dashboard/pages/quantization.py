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


# the answer first (which tensor, how much of the error keeping it in float recovers), then
# why (its range, step and where its values sit on the grid); long headers wrap, so the answer
# and the op's range and step fit a 1400 px window without a horizontal scroll
_WRAP = {"wrapHeaderText": True, "autoHeaderHeight": True}
CAUSE_COLUMNS = [
    text_col("appliance", "appliance", pinned="left"),
    text_col("arch", "arch"),
    # a long tensor name wraps within 260 px (the whole name stays in the cell)
    text_col("tensor_name", "tensor ranked first", width=260, wrapText=True, autoHeight=True),
    number_col("recovered_share", "error recovered", 3, **_WRAP),
    number_col("output_rmse_quant", "output RMSE int8", 4, **_WRAP),
    number_col("output_rmse_kept_float", "output RMSE, it in float", 4, **_WRAP),
    number_col("flip_share_quant", "on/off flipped int8", 3, **_WRAP),
    number_col("flip_share_kept_float", "flipped, it in float", 3, **_WRAP),
    text_col("op_name", "op", tooltipField="op_name", **_WRAP),
    number_col("range", "range", 4),
    number_col("scale", "int8 step", 4, **_WRAP),
    number_col("p99_over_scale", "p99 |x| / step", 3, **_WRAP),
    number_col("zero_share", "zero share", 3, **_WRAP),
    text_col("range_blowup", "range blow-up", **_WRAP),
    number_col("protected_tensors", "tensors protected", 0, **_WRAP),
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
