import json

import dash
from dash import Input, Output, dash_table, dcc, html

from dashboard import figures, queries
from dashboard.app import guarded, link, notice, share_link

dash.register_page(__name__, path="/variant", name="Variant")


def layout(id=None, compare=None, **_):
    ids, err = guarded(queries.variant_ids)
    if err:
        return html.Div([html.H2("Variant"), notice(err)])
    if not ids:
        return html.Div([html.H2("Variant"), notice("no variants yet: run `pipeline all`")])
    vid = id if id in ids else ids[0]
    return html.Div(
        [
            html.H2("Variant"),
            html.Div(
                className="controls",
                children=[
                    html.Div(
                        [
                            html.Label("variant"),
                            dcc.Dropdown(ids, vid, id="var-id", clearable=False),
                        ],
                        style={"width": "40%"},
                    ),
                    html.Div(
                        [
                            html.Label("compare with"),
                            dcc.Dropdown(
                                ids, compare if compare in ids else None, id="var-compare"
                            ),
                        ],
                        style={"width": "40%"},
                    ),
                ],
            ),
            share_link("var-share"),
            html.Div(id="var-body"),
        ]
    )


def _table(df, tid):
    if df is None or df.empty:
        return notice("nothing recorded")
    return dash_table.DataTable(
        id=tid,
        data=df.round(6).to_dict("records"),
        columns=[{"name": c, "id": c} for c in df.columns],
        style_cell={"fontSize": 12},
        page_size=20,
        sort_action="native",
    )


def section(vid: str, suffix: str):
    v, err = guarded(queries.variant, vid)
    if err or v is None:
        return notice(err or f"unknown variant {vid}")
    metrics, _ = guarded(queries.metrics_vs_float, vid)
    ops, _ = guarded(queries.op_profile, vid)
    totals, _ = guarded(queries.op_totals, vid)
    stats, _ = guarded(queries.layer_stats, vid)
    mem, _ = guarded(queries.memory, vid)
    census, _ = guarded(queries.census, vid)
    lat, _ = guarded(queries.latency, vid)
    hist, _ = guarded(queries.history, v["model_id"])
    faithful = ""
    if totals is not None and not totals.empty:
        t = totals.iloc[0]
        faithful = f"sum of isolated op times {t['sum_ops_ms']:.4f} ms vs whole model {t['whole_model_ms']:.4f} ms (ratio {t['ratio']:.2f})"
    settings = v.get("converter_settings") or "{}"
    return html.Div(
        [
            html.H3(vid),
            html.Div(
                [
                    html.Span(f"mode {v['mode']}"),
                    html.Span(f"{v['parameters']:,} parameters"),
                    html.Span(f"disk {((v['file_bytes'] or 0) / 1e6):.3f} MB"),
                    html.Span(f"XNNPACK partitions {v['xnnpack_partitions']}"),
                    html.Span(f"float compute ops {v['float_compute_ops']}"),
                ],
                className="facts",
            ),
            html.H4("Metrics against the float model"),
            _table(metrics, f"metrics-{suffix}"),
            html.H4("Latency"),
            _table(lat, f"latency-{suffix}"),
            html.H4(
                "Per-op profile (isolated per-op latency; green = XNNPACK, red = builtin kernel)"
            ),
            html.Div(faithful),
            dcc.Graph(id=f"ops-type-{suffix}", figure=figures.op_profile_by_type(ops)),
            dcc.Graph(id=f"ops-node-{suffix}", figure=figures.op_profile_by_node(ops)),
            html.H4("Per-tensor quantization error"),
            dcc.Graph(id=f"qerr-{suffix}", figure=figures.layer_error(stats)),
            html.H4("Memory by phase"),
            dcc.Graph(id=f"mem-{suffix}", figure=figures.memory_phases(mem)),
            html.H4("Op census"),
            _table(census, f"census-{suffix}"),
            html.H4("Training curve"),
            dcc.Graph(id=f"hist-{suffix}", figure=figures.training_curve(hist)),
            html.H4("Converter settings and provenance"),
            html.Pre(
                json.dumps(
                    {
                        "converter_settings": json.loads(settings),
                        "file": v["file_path"],
                        "sha256": v["sha256"],
                        "model": v["model_id"],
                        "profile": v["profile"],
                        "loss": v["loss_variant"],
                        "train_config": json.loads(v["train_config"] or "{}"),
                        "status": v["status"],
                        "error": v["error"],
                    },
                    indent=1,
                )
            ),
        ],
        className="card",
    )


@dash.callback(Output("var-share", "href"), Input("var-id", "value"), Input("var-compare", "value"))
def share(vid, compare):
    return link("/variant", id=vid, compare=compare)


@dash.callback(
    Output("var-body", "children"), Input("var-id", "value"), Input("var-compare", "value")
)
def show(vid, compare):
    if not vid:
        return notice("choose a variant")
    if compare:
        return html.Div([section(vid, "a"), section(compare, "b")], className="grid2")
    return section(vid, "a")
