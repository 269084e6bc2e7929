"""Several variants side by side on one device, each with its float model beside it."""

import dash
import dash_bootstrap_components as dbc
import pandas as pd
from dash import Input, Output, dcc, html

from dashboard import figures, power_flags, queries
from dashboard.callbacks import guarded, store_view
from dashboard.components import (
    chart,
    default_variant,
    error_page,
    field,
    link,
    loading,
    notice,
    page_header,
    share_link,
    url_state,
    variant_choices,
)
from dashboard.device_controls import device_line
from dashboard.grids import grid, interval_col, number_col, text_col
from dashboard.validate import some_of
from store import ids
from store.recommend_rule import is_missing
from store.vocab import Mode

dash.register_page(
    __name__, path="/compare", name="Compare", title="nilm-edge · compare variants", order=3
)

COLUMNS = [
    text_col("variant_id", "variant", pinned="left", minWidth=210),
    text_col("role", "role", minWidth=220, wrapText=True, autoHeight=True),
    interval_col("f1", "F1 [95 % CI]", "f1_lo", "f1_hi"),
    text_col("power_flag", power_flags.FLAG_HEADER, minWidth=220, wrapText=True, autoHeight=True),
    interval_col("f1_vs", "F1 minus float [paired 95 % CI]", "f1_vs_lo", "f1_vs_hi"),
    text_col(
        "cost_vs", "costs minus float TFLite file", minWidth=300, wrapText=True, autoHeight=True
    ),
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


def float_ids(vid: str) -> tuple[str | None, str | None]:
    """A model variant's float references: its Keras model (accuracy) and its float32 TFLite
    file, convert_only (costs: a Keras model has no TFLite latency, RAM or file size)."""
    return ids.float_references(vid)


def with_float_models(ids: list[str], known: set[str]) -> list[str]:
    """The chosen variants, each after its float reference (Keras model and float TFLite file),
    every id once: the rows the comparison reads."""
    out = []
    for vid in ids:
        for v in (*float_ids(vid), vid):
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
    variants = dcc.Dropdown(variant_choices(opts["variant_id"]), chosen, id="cmp-ids", multi=True)
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
                "Each variant's float reference is added before it: the Keras model's accuracy "
                "with the costs of its float32 TFLite file (convert_only); intervals are 95 %.",
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


COST_COLUMNS = ("latency_ms", "ram_mb", "disk_mb", "xnnpack_partitions")


def _cost_change(row: dict, ref: dict) -> str:
    """A variant's costs against its float TFLite file's: 'latency -0.05 ms (-31 %) · ...'."""
    parts = []
    for col, name, unit in (
        ("latency_ms", "latency", "ms"),
        ("ram_mb", "RAM", "MB"),
        ("disk_mb", "disk", "MB"),
    ):
        a, b = row.get(col), ref.get(col)
        if is_missing(a) or is_missing(b):
            parts.append(f"{name} –")
            continue
        pct = f" ({100 * (a - b) / b:+.0f} %)" if b else ""
        parts.append(f"{name} {a - b:+.3g} {unit}{pct}")
    return " · ".join(parts)


def _f1_change(row: dict, ref: dict) -> dict:
    """F1 minus the float model's: the stored paired difference and interval, else the plain
    difference without one."""
    if not is_missing(row.get("f1_delta")):
        return {
            "f1_vs": row["f1_delta"],
            "f1_vs_lo": row.get("f1_delta_lo"),
            "f1_vs_hi": row.get("f1_delta_hi"),
        }
    a, b = row.get("f1"), ref.get("f1")
    plain = None if is_missing(a) or is_missing(b) else a - b
    return {"f1_vs": plain, "f1_vs_lo": None, "f1_vs_hi": None}


def _reference_row(rows: dict, keras_id: str | None, tflite_id: str | None) -> dict | None:
    """The float reference: the Keras model's accuracy with its float TFLite file's costs."""
    acc, cost = rows.get(keras_id), rows.get(tflite_id)
    if acc is None and cost is None:
        return None
    ref = dict(acc if acc is not None else cost)
    for c in COST_COLUMNS:
        ref[c] = cost.get(c) if cost is not None else None
    source = (
        f"costs of {tflite_id} (float32 TFLite)"
        if cost is not None
        else "no float TFLite file measured"
    )
    ref["role"] = f"float reference: {'Keras accuracy, ' if acc is not None else ''}{source}"
    ref["variant_id"] = keras_id if acc is not None else tflite_id
    ref["cost_vs"] = "reference"
    return ref


def comparison_rows(df: pd.DataFrame, ids: list[str]) -> pd.DataFrame:
    """Each chosen variant after its float reference, with its differences from it."""
    rows = {r["variant_id"]: r for r in df.to_dict("records")}
    out, seen = [], set()
    for vid in ids:
        if vid not in rows:
            continue
        ref = _reference_row(rows, *float_ids(vid))
        if ref is not None and ref["variant_id"] not in seen:
            out.append(ref)
            seen.add(ref["variant_id"])
        if vid in seen:
            continue
        row = dict(rows[vid], role="chosen")
        if ref is not None and vid != ref["variant_id"]:
            row.update(_f1_change(row, ref))
            row["cost_vs"] = _cost_change(row, ref)
        out.append(row)
        seen.add(vid)
    return pd.DataFrame(out)


def empty_state(known: list[str]) -> html.Div:
    """What to do when nothing (or one float model) is chosen."""
    example = default_variant([i for i in known if ids.mode_of(i) != Mode.KERAS] or known)
    steps = [
        "Choose variants in the box above: two or more, or one quantized variant (its float "
        "reference is added beside it). ",
    ]
    if example:
        steps += [
            "For example, ",
            dcc.Link(
                f"{example} against its float model",
                href=link("/compare", ids=example),
                id="cmp-example",
            ),
            ". From a variant's page, “compare with its float model” opens the same view.",
        ]
    return html.Div(steps, className="notice", id="cmp-empty")


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
    known = opts["variant_id"].tolist()
    ids = some_of(ids, known)
    all_ids = with_float_models(ids, set(known))
    if len(all_ids) < 2:
        return empty_state(known), line
    df, err = guarded(queries.compare, all_ids, queries.parse_device(device_key))
    if err:
        return notice(err), line
    table = comparison_rows(df, ids)
    if not table.empty:
        table = table.assign(
            power_flag=power_flags.flags(table, guarded(queries.best_baselines)[0])
        )
    ops, _ = guarded(queries.compare_ops, all_ids)
    return (
        html.Div(
            [
                grid("compare-grid", table, COLUMNS),
                html.H2("F1 with its interval", className="h5"),
                chart(
                    dcc.Graph(id="cmp-f1", figure=figures.compare_metric(table, "f1")),
                    "F1 of each variant with its 95 % interval",
                ),
                html.H2("Per-op profile side by side", className="h5"),
                chart(
                    dcc.Graph(
                        id="cmp-ops",
                        figure=figures.compare_ops(ops if ops is not None else df.iloc[0:0]),
                    ),
                    "isolated latency by op type of each variant",
                ),
            ]
        ),
        line,
    )
