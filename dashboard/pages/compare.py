"""Several variants side by side on one device, each with its float model beside it."""

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, dcc, html

from dashboard import figures, queries
from dashboard.callbacks import guarded, store_view
from dashboard.components import (
    error_page,
    field,
    loading,
    notice,
    page_header,
    share_link,
    url_state,
)
from dashboard.device_controls import device_line
from dashboard.grids import grid, interval_col, number_col, text_col

dash.register_page(
    __name__, path="/compare", name="Compare", title="nilm-edge · compare variants", order=3
)

COLUMNS = [
    text_col("variant_id", "variant", pinned="left", minWidth=210),
    text_col("role", "role", minWidth=120),
    interval_col("f1", "F1 [95 % CI]", "f1_lo", "f1_hi"),
    interval_col("mcc", "MCC [95 % CI]", "mcc_lo", "mcc_hi"),
    interval_col("mae", "MAE W [95 % CI]", "mae_lo", "mae_hi", 1),
    interval_col("mae_masked", "masked MAE W [95 % CI]", "mae_masked_lo", "mae_masked_hi", 1),
    number_col("sae", "SAE", 3),
    number_col("nde", "NDE", 3),
    interval_col(
        "epd_error_pct", "EpD error % [95 % CI]", "epd_error_pct_lo", "epd_error_pct_hi", 1
    ),
    number_col("latency_ms", "latency", 4, "ms"),
    number_col("ram_mb", "RAM", 1, "MB"),
    number_col("disk_mb", "disk", 2, "MB"),
    number_col("xnnpack_partitions", "XNNPACK partitions", 0),
    text_col("under_trained", "under-trained"),
    number_col("n_windows", "windows", 0),
]


def with_float_models(ids: list[str], known: set[str]) -> list[str]:
    """The chosen variants plus the float Keras model of each (the reference they quantize)."""
    out = []
    for vid in ids:
        parts = vid.split(".")
        float_id = ".".join(parts[:-1] + ["keras"]) if len(parts) >= 3 else None
        for v in (float_id, vid):
            if v in known and v not in out:
                out.append(v)
    return out


TITLE = "Compare variants"


@store_view
def layout(ids="", device=None, **_):
    opts, err = guarded(queries.variant_options)
    if err:
        return error_page(TITLE, err)
    devices, _ = guarded(queries.devices)
    known = set(opts["variant_id"])
    chosen = [i for i in (ids or "").split(",") if i in known]
    keys = list(devices["key"]) if devices is not None and len(devices) else []
    dev = device if device in keys else (keys[0] if keys else None)
    device_options = (
        [{"label": r.label, "value": r.key} for r in devices.itertuples()] if keys else []
    )
    variants = dcc.Dropdown(opts["variant_id"].tolist(), chosen, id="cmp-ids", multi=True)
    return html.Div(
        [
            *page_header(TITLE, device=("cmp-device-line", device_line(devices, dev))),
            dbc.Row(
                [
                    field("variants (two or more)", "cmp-ids", variants, xs=12, lg=8),
                    field(
                        "device for latency and RAM",
                        "cmp-device",
                        dcc.Dropdown(device_options, dev, id="cmp-device", clearable=False),
                        xs=12,
                        lg=4,
                    ),
                ],
                className="g-2 controls",
            ),
            share_link("cmp-share"),
            html.Div(
                "Each variant's float Keras model is added beside it; intervals are 95 %.",
                className="hint",
            ),
            loading(html.Div(id="cmp-body")),
        ]
    )


url_state(
    "/compare",
    "cmp-share",
    [("ids", "cmp-ids", "value"), ("device", "cmp-device", "value")],
)


@dash.callback(
    Output("cmp-body", "children"),
    Output("cmp-device-line", "children"),
    Input("cmp-ids", "value"),
    Input("cmp-device", "value"),
)
@store_view
def show(ids, device_key):
    devices, _ = guarded(queries.devices)
    line = device_line(devices, device_key)
    opts, err = guarded(queries.variant_options)
    if err:
        return notice(err), line
    all_ids = with_float_models(ids or [], set(opts["variant_id"]))
    if len(all_ids) < 2:
        return notice(
            "choose at least two variants (or one quantized variant and its float model)"
        ), line
    df, err = guarded(queries.compare, all_ids, queries.parse_device(device_key))
    if err:
        return notice(err), line
    order = {v: i for i, v in enumerate(all_ids)}
    df = df.assign(
        role=["chosen" if v in (ids or []) else "float model (added)" for v in df["variant_id"]],
        _o=df["variant_id"].map(order),
    ).sort_values("_o")
    ops, _ = guarded(queries.compare_ops, all_ids)
    return (
        html.Div(
            [
                grid("compare-grid", df.drop(columns="_o"), COLUMNS),
                html.H4("F1 with its interval"),
                dcc.Graph(id="cmp-f1", figure=figures.compare_metric(df, "f1")),
                html.H4("Per-op profile side by side"),
                dcc.Graph(
                    id="cmp-ops",
                    figure=figures.compare_ops(ops if ops is not None else df.iloc[0:0]),
                ),
            ]
        ),
        line,
    )
