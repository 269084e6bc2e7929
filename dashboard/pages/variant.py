"""One variant: its files (with sha256), the kernels it runs on, its metrics with intervals and
its paired difference from the float model, latency, per-op profile, quantization error."""

import json

import dash
import dash_bootstrap_components as dbc
import pandas as pd
from dash import Input, Output, dcc, html

from dashboard import figures, metric_rows, power_flags, queries
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
from dashboard.device_controls import with_device_class
from dashboard.downloads import download_href
from dashboard.grids import grid, interval_col, number_col, text_col
from dashboard.quant_cause import cause_section
from store import ids
from store.recommend_rule import is_missing

dash.register_page(__name__, path="/variant", name="Variant", title="nilm-edge · variant", order=2)

TITLE = "Variant"


# the inspection's details, one tab at a time: only the chosen tab is drawn (six charts at once
# were most of this page's load), none before the tabs are scrolled into view, and the tab is
# part of the page's address
TABS = {
    "ops": "Per-op profile",
    "qerr": "Quantization error per tensor",
    "memory": "Memory by phase",
    "census": "Op census",
    "training": "Training curve",
    "provenance": "Converter settings and provenance",
}


@store_view
def layout(id=None, tab=None, **_):
    opts, err = guarded(queries.variant_options)
    if err:
        return error_page(TITLE, err)
    if opts is None or opts.empty:
        return error_page(TITLE, "no variants yet: run `pipeline all`")
    ids = opts["variant_id"].tolist()
    vid = id if id in ids else default_variant(ids)
    chooser = dcc.Dropdown(variant_choices(ids), vid, id="var-id", clearable=False)
    return html.Div(
        [
            *page_header(TITLE),
            dbc.Row(field("variant", "var-id", chooser, xs=12, md=8, lg=6), className="controls"),
            share_link("var-share"),
            loading(html.Div(id="var-body")),
            html.H3("Inspection", className="mt-3"),
            # below the fold: the first tab is chosen (and drawn) when the tabs come into view,
            # or at once when the address names one (assets/lazy_tabs.js)
            html.Div(
                dcc.Tabs(
                    [
                        dcc.Tab(label=label, value=key, id=f"var-tab-{key}")
                        for key, label in TABS.items()
                    ],
                    id="var-tabs",
                    value=tab if tab in TABS else "",  # "": none chosen (None means the first)
                ),
                **{
                    "data-lazy-tabs": "var-tabs",
                    "data-lazy-first": "ops",
                    "data-lazy-after": "var-body",
                },
            ),
            loading(html.Div(id="var-tab-body", className="card-variant")),
        ]
    )


url_state("/variant", "var-share", [("id", "var-id", "value"), ("tab", "var-tabs", "value")])

METRIC_COLUMNS = [
    text_col("metric", "metric", pinned="left", minWidth=170, tooltipField="name"),
    text_col("value", "value [95 % CI]", minWidth=170),
    text_col("unit", "unit", minWidth=80),
    text_col("float_value", "float model"),
    text_col("delta", "minus float [paired 95 % CI]", minWidth=190),
    text_col("verdict", "versus float", minWidth=240),
    number_col("n_windows", "windows", 0),
    text_col("reason", "why undefined"),
]
HOUSE_COLUMNS = [
    text_col("house", "test house", pinned="left"),
    interval_col("f1", "F1 [95 % CI]", "f1_lo", "f1_hi", 3),
    interval_col("mcc", "MCC [95 % CI]", "mcc_lo", "mcc_hi", 3),
    interval_col("mae", "MAE W [95 % CI]", "mae_lo", "mae_hi", 1),
    number_col("n_windows", "sampled windows", 0),
]


verdict = metric_rows.verdict  # beyond a stated practical margin only (dashboard/metric_rows.py)


def kernel_facts(v: dict, k: dict) -> list:
    """Which kernels the variant runs on, from the conversion, the profile and the evaluation."""
    items = []
    parts = v.get("xnnpack_partitions")
    if v.get("mode") == "keras":
        items.append("Keras float model (TensorFlow kernels)")
    elif is_missing(parts):
        items.append("XNNPACK delegation not recorded")
    elif parts == 0:
        items.append("XNNPACK takes none of the graph: builtin (or reference) kernels only")
    else:
        items.append(f"XNNPACK delegate: {int(parts)} partition(s) of the graph")
    ops = k.get("ops") or {}
    if ops and (ops.get("xnnpack_ops") or ops.get("builtin_ops")):
        items.append(
            f"profiled ops on {ops.get('host')}: {int(ops['xnnpack_ops'])} on XNNPACK, "
            f"{int(ops['builtin_ops'])} on builtin kernels"
        )
    ev = k.get("evaluation")
    if ev:
        items.append(
            f"metrics computed with {ev['runtime']}, XNNPACK {'on' if ev['xnnpack'] else 'off'} "
            f"({ev['subset']} sample, {int(ev['n_windows']):,} windows)"
        )
        if (on := ev.get("on_windows")) is not None and on == on:  # what its F1 rests on
            items.append(f"{int(on):,} of its sampled windows have the appliance on")
        if v.get("sha256") and ev.get("file_sha256") and ev["file_sha256"] != v["sha256"]:
            items.append("warning: the evaluated file's sha256 differs from this file's")
    else:
        items.append("evaluation interpreter not recorded")
    return [html.Li(i) for i in items]


def downloads(v: dict) -> list:
    rows = []
    if isinstance(v.get("file_path"), str):
        rows.append(
            html.Li(
                [
                    html.A(
                        f"download {v['variant_id']}.tflite",
                        href=download_href(v["variant_id"], "tflite"),
                        id="dl-tflite",
                    ),
                    f" ({(v.get('file_bytes') or 0) / 1e6:.3f} MB) sha256 ",
                    html.Span(v.get("sha256") or "not recorded", className="sha", id="sha-tflite"),
                ]
            )
        )
    if isinstance(v.get("keras_path"), str):
        rows.append(
            html.Li(
                [
                    html.A(
                        "download the float model " + ids.float_variant_id(v["model_id"]),
                        href=download_href(v["variant_id"], "keras"),
                        id="dl-keras",
                    ),
                    " sha256 ",
                    html.Span(v.get("keras_sha256") or "not recorded", className="sha"),
                ]
            )
        )
    return rows or [html.Li("no file (a baseline is a rule, not a model)")]


LATENCY_COLUMNS = [
    text_col("host", "host", pinned="left"),
    text_col("device_class", "device class", minWidth=200),
    text_col("runtime", "runtime"),
    number_col("threads", "threads", 0),
    text_col("xnnpack", "XNNPACK"),
    number_col("batch", "batch", 0),
    number_col("median_ms", "median", 4, "ms"),
    number_col("p90_ms", "p90", 4, "ms"),
    number_col("runs", "runs", 0),
    text_col("error", "error"),
]
CENSUS_COLUMNS = [
    text_col("op_type", "op type", pinned="left"),
    text_col("input_dtypes", "inputs"),
    text_col("output_dtypes", "outputs"),
    number_col("count", "count", 0),
]


def _read(vid: str) -> dict:
    """Everything the variant's card shows besides the variant row and the tabs (None: not
    there)."""
    reads = {
        "metrics": (queries.metrics_vs_float, vid),
        "kernels": (queries.kernels, vid),
        "latency": (queries.latency, vid),
        "houses": (queries.per_house, vid),
        "best": (queries.best_baselines,),
    }
    return {name: guarded(*call)[0] for name, call in reads.items()}


def _table(name: str, df, columns: list[dict], missing: str):
    return grid(name, df, columns) if df is not None and not df.empty else notice(missing)


def power_flag(v: dict, metrics, best) -> html.Div | str:
    """Said above its metrics when the variant's MAE or energy-per-day error is worse than a
    baseline's (always off, mean power, threshold rule), whatever its F1."""
    if metrics is None or metrics.empty:
        return ""
    values = dict(zip(metrics["metric"], metrics["value"], strict=True))
    row = {
        "appliance": v.get("appliance"),
        "kind": v.get("kind"),
        "mae_w": values.get("mae"),
        "epd_error_pct": values.get("epd_error_pct"),
    }
    text = power_flags.flag(row, power_flags.by_appliance(best))
    if not text:
        return ""
    return html.Div(
        f"Power and energy: worse than a baseline, whatever its F1: {text}.",
        className="not-measured",
        id="var-power-flag",
    )


def _facts(v: dict, vid: str) -> html.Div:
    params = v.get("parameters")
    return html.Div(
        [
            html.Span(f"kind {v['kind']}"),
            html.Span(f"mode {v['mode']}"),
            html.Span(f"{int(params):,} parameters" if not is_missing(params) else ""),
            html.Span(f"disk {((v['file_bytes'] or 0) / 1e6):.3f} MB")
            if not is_missing(v.get("file_bytes"))
            else "",
            html.Span(f"float compute ops {v['float_compute_ops']}")
            if not is_missing(v.get("float_compute_ops"))
            else "",
            html.Span("model flagged UNDER-TRAINED: never recommended", className="text-danger")
            if v.get("under_trained") is True
            else "",
            dcc.Link(
                "compare with its float model",
                href=link("/compare", ids=vid),
                id="var-compare-link",
            ),
        ],
        className="facts",
    )


def _per_house(houses) -> list:
    """Each test house alone, when the test span holds several (how the model transfers)."""
    if houses is None or houses.empty:
        return []
    return [
        html.H3("Per test house (each house the model never saw, alone)"),
        grid("var-houses", houses, HOUSE_COLUMNS),
    ]


def _profile(ops, totals) -> list:
    """The per-op profile: how faithful the isolated times are, by op type and by node."""
    faithful = ""
    if totals is not None and not totals.empty:
        t = totals.iloc[0]
        faithful = (
            f"Sum of isolated op times {t['sum_ops_ms']:.4f} ms vs whole-model latency "
            f"{t['whole_model_ms']:.4f} ms (ratio {t['ratio']:.2f}). They differ because each op "
            "is timed alone here, with its own call overhead, cold inputs and no fusion, while "
            "the whole-graph latency runs all ops back to back in one invocation: read this "
            "chart for where time goes, and the latency table for what the model costs."
        )
    return [
        html.H3("Per-op profile (isolated per-op latency; blue = XNNPACK, orange = builtin)"),
        html.Div(faithful, className="hint"),
        chart(
            dcc.Graph(id="ops-type-a", figure=figures.op_profile_by_type(ops)),
            "isolated latency by op type",
        ),
        chart(
            dcc.Graph(id="ops-node-a", figure=figures.op_profile_by_node(ops)),
            "isolated latency of the slowest nodes",
        ),
    ]


def _quantization_error(stats, threshold) -> list:
    return [
        html.H3("Per-tensor quantization error"),
        html.Div(
            f"suspect threshold {threshold:g} as recorded in the run's configuration"
            if threshold is not None
            else "the run did not record a suspect threshold",
            className="hint",
        ),
        chart(
            dcc.Graph(id="qerr-a", figure=figures.layer_error(stats, threshold)),
            "quantization error per tensor",
        ),
    ]


def _provenance(v: dict) -> html.Pre:
    settings = v.get("converter_settings") or "{}"
    facts = {
        "converter_settings": json.loads(settings),
        "file": v["file_path"],
        "sha256": v["sha256"],
        "model": v["model_id"],
        "profile": v.get("profile"),
        "loss": v.get("loss_variant"),
        "train_config": json.loads(v.get("train_config") or "{}"),
        "stop_reason": v.get("stop_reason"),
        "status": v["status"],
        "error": v["error"],
    }
    return html.Pre(json.dumps(facts, indent=1, default=str))


def tab_section(vid: str, tab: str):
    """One tab of the inspection (TABS) of a variant."""
    v, err = guarded(queries.variant, vid)
    if err or v is None:
        return notice(err or f"unknown variant {vid}")

    def read(fn, *args):
        value = guarded(fn, *args)[0]
        return pd.DataFrame() if value is None else value  # not there: drawn as "no ..."

    if tab == "qerr":
        threshold = guarded(queries.suspect_threshold)[0]
        return _quantization_error(read(queries.layer_stats, vid), threshold)
    if tab == "memory":
        figure = figures.memory_phases(read(queries.memory, vid))
        return chart(dcc.Graph(id="mem-a", figure=figure), "memory by phase")
    if tab == "census":
        return _table("var-census", read(queries.census, vid), CENSUS_COLUMNS, "no op census")
    if tab == "training":
        figure = figures.training_curve(read(queries.history, v["model_id"]))
        return chart(dcc.Graph(id="hist-a", figure=figure), "training curve")
    if tab == "provenance":
        return _provenance(v)
    return _profile(read(queries.op_profile, vid), read(queries.op_totals, vid))


def section(vid: str):
    v, err = guarded(queries.variant, vid)
    if err or v is None:
        return notice(err or f"unknown variant {vid}")
    r = _read(vid)
    metrics = metric_rows.metric_table(r["metrics"])
    return html.Div(
        [
            html.H2(vid, id="var-title"),
            _facts(v, vid),
            *cause_section(vid),
            html.H3("Files"),
            html.Ul(downloads(v)),
            html.H3("Kernels"),
            html.Ul(kernel_facts(v, r["kernels"] or {}), id="var-kernels"),
            html.H3("Metrics (test split) against the float model"),
            power_flag(v, r["metrics"], r["best"]),
            html.Div(metric_rows.MARGIN_TEXT, className="hint"),
            _table("var-metrics", metrics, METRIC_COLUMNS, "no metrics recorded"),
            *_per_house(r["houses"]),
            html.H3("Latency (every device it was measured on)"),
            _table(
                "var-latency",
                with_device_class(r["latency"]),
                LATENCY_COLUMNS,
                "no latency measured",
            ),
        ],
        className="card-variant",
    )


@dash.callback(Output("var-body", "children"), Input("var-id", "value"))
@store_view
def show(vid):
    if not isinstance(vid, str) or not vid or len(vid) > 300:
        return notice("choose a variant")
    return section(vid)


@dash.callback(
    Output("var-tab-body", "children"), Input("var-id", "value"), Input("var-tabs", "value")
)
@store_view
def show_tab(vid, tab):
    if not isinstance(vid, str) or not vid or len(vid) > 300:
        return ""
    if tab not in TABS:  # not chosen yet: drawn when the tabs come into view
        return html.Div(
            "Drawn when scrolled into view, or choose a tab: " + ", ".join(TABS.values()) + ".",
            className="hint",
        )
    return tab_section(vid, tab)
