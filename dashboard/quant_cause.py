"""The Variant page's "what breaks this model" panel: the end-to-end sensitivity ranking of the
variant (or of its model's w8_a8 file) and what keeping each tensor in float recovers."""

from __future__ import annotations

from dash import dcc, html

from dashboard.callbacks import guarded
from dashboard.components import notice
from dashboard.figures.quant_cause import cause_lead, recovery_bars
from dashboard.grids import grid, number_col, text_col
from dashboard.queries.quant_cause import sensitivity

COLUMNS = [
    number_col("rank", "rank", 0, pinned="left"),
    text_col("op_name", "op"),
    text_col("tensor_name", "tensor", minWidth=260),
    number_col("range", "range", 4),
    number_col("scale", "step", 4),
    number_col("p99_over_scale", "p99 |x| / step", 3),
    number_col("zero_share", "zero share", 3),
    text_col("range_blowup", "range blow-up"),
    number_col("output_rmse_kept_float", "output RMSE, kept float", 4),
    number_col("recovered_share", "recovered", 3),
    number_col("flip_share_kept_float", "on/off flipped, kept float", 3),
    text_col("protected", "protected"),
    text_col("why", "why", minWidth=320),
]


def cause_section(vid: str) -> list:
    """H4, the lead sentence, the recovery chart and the ranking table (nothing for a file
    whose model has no ranking, such as the Keras model's)."""
    ranking, err = guarded(sensitivity, vid)
    if err or ranking is None or ranking.empty:
        return []
    ranked = ranking["variant_id"].iloc[0]
    note = (
        ""
        if ranked == vid
        else f"Ranked on {ranked}, whose tensors this file's protected set was chosen from. "
    )
    return [
        html.H4("What breaks this model (end-to-end sensitivity)"),
        html.P(cause_lead(ranking), id="var-cause-lead"),
        html.Div(
            note + "Each tensor (a range blow-up, or among the worst by local error) kept alone "
            "in float, re-quantized from the same calibration; ranked by the model output error "
            "left on training windows. Protected tensors (vermillion) are what w8_a8_selective "
            "keeps float and w8_a8_mixed16 gives int16.",
            className="hint",
        ),
        dcc.Graph(id="var-cause", figure=recovery_bars(ranking)),
        grid("var-cause-table", ranking, COLUMNS) if len(ranking) else notice("no ranking"),
    ]
