"""Disaggregation traces: aggregate, ground truth and predictions over a contiguous stretch of
the test house, downsampled on the server (zooming, or moving the range slider, asks for the
visible range again), with the energy of the visible window beside the truth's."""

import dash
import dash_bootstrap_components as dbc
import pandas as pd
from dash import Input, Output, State, dcc, html

from dashboard import figures, queries
from dashboard.callbacks import guarded, store_view
from dashboard.components import (
    chart,
    error_page,
    field,
    loading,
    notice,
    page_header,
    share_link,
    url_state,
)
from dashboard.validate import one_of, some_of
from store.ids import mode_of
from store.vocab import Mode

dash.register_page(
    __name__, path="/traces", name="Traces", title="nilm-edge · disaggregation traces", order=4
)


TITLE = "Disaggregation traces"
HINT = (
    "A contiguous stretch of the test house (split test_trace). Zoomed out, each bucket shows "
    "its minimum and maximum at the times they happened. Drag on the chart or move the range "
    "slider below it to zoom; double-click to see the whole trace again."
)


def _zoom_param(zoom) -> list[str] | None:
    """A zoom range from the address (?zoom=start,end), when both ends are times."""
    parts = zoom.split(",") if isinstance(zoom, str) else []
    if len(parts) != 2:
        return None
    try:
        return [str(pd.Timestamp(p)) for p in parts]
    except (ValueError, TypeError):
        return None


@store_view
def layout(appliance=None, variants=None, zoom=None, **_):
    apps, err = guarded(queries.appliances)
    if err:
        return error_page(TITLE, err)
    if not apps:
        return error_page(TITLE, "no traces yet: run `pipeline all`")
    app = appliance if appliance in apps else apps[0]
    return html.Div(
        [
            *page_header(TITLE, hint=HINT),
            dbc.Row(
                [
                    field(
                        "appliance",
                        "tr-app",
                        dcc.Dropdown(apps, app, id="tr-app", clearable=False),
                        xs=12,
                        md=4,
                    ),
                    field(
                        "variants (and baselines)",
                        "tr-variants",
                        dcc.Dropdown([], [], id="tr-variants", multi=True),
                        xs=12,
                        md=8,
                    ),
                ],
                className="g-2 controls",
            ),
            dcc.Store(id="tr-initial", data=variants.split(",") if variants else None),
            dcc.Store(id="tr-zoom", data=_zoom_param(zoom)),
            share_link("tr-share"),
            loading(chart(dcc.Graph(id="trace-graph"), "power over time")),
            html.Div(id="trace-info", className="hint"),
            html.H2("Energy of the visible window", className="h5"),
            html.Div(id="trace-energy"),
            html.H2("Unmasked energy per calendar day", id="energy-title", className="h5"),
            html.Div(id="energy-note", className="hint"),
            loading(chart(dcc.Graph(id="energy-graph"), "energy per day")),
        ]
    )


def sub_sampled(appliance) -> dict[str, str]:
    """Variants whose test_trace metrics come from fewer windows than the stretch holds,
    {id: 'n of N windows'}."""
    df, err = guarded(queries.trace_variants, appliance)
    if err or df is None or df.empty:
        return {}
    few = df[df["trace_windows"] < df["stretch_windows"]]
    return {
        r.variant_id: f"{int(r.trace_windows):,} of {int(r.stretch_windows):,} windows"
        for r in few.itertuples()
    }


def _choices(appliance) -> tuple[dict, dict, list[str]]:
    """Variants with a trace {id: path}, constant-rule baselines {id: W}, and baselines that
    cannot be drawn (their prediction depends on each window)."""
    df, err = guarded(queries.trace_variants, appliance)
    paths = {} if err or df is None else dict(zip(df["variant_id"], df["path"], strict=True))
    b, err = guarded(queries.trace_baselines, appliance)
    constants, undrawable = {}, {}
    for r in b.itertuples() if b is not None and not err else []:
        if pd.notna(r.power_w):
            constants[r.variant_id] = float(r.power_w)
        elif r.mode == "mean_power":
            undrawable[r.variant_id] = "its training power is not recorded"
        else:
            undrawable[r.variant_id] = "a rule on each window's aggregate, scored on windows only"
    return paths, constants, undrawable


@dash.callback(
    Output("tr-variants", "options"),
    Output("tr-variants", "value"),
    Input("tr-app", "value"),
    State("tr-initial", "data"),
)
@store_view
def variants(appliance, initial):
    appliance = one_of(appliance, guarded(queries.appliances)[0] or [])
    paths, constants, undrawable = _choices(appliance)
    ids = list(paths)
    if not ids:
        return [], []
    few = sub_sampled(appliance)
    options = [
        {"label": f"{i} (scored on a sub-sample: {few[i]})" if i in few else i, "value": i}
        for i in ids
    ]
    options += [{"label": f"{i} (baseline rule)", "value": i} for i in constants]
    options += [
        {"label": f"{i} (no trace: {why})", "value": i, "disabled": True}
        for i, why in undrawable.items()
    ]
    chosen = some_of(initial, ids + list(constants))
    default = chosen or [i for i in ids if mode_of(i) in (Mode.KERAS, Mode.W8_A8)][:3] or ids[:2]
    return options, default


url_state(
    "/traces",
    "tr-share",
    [
        ("appliance", "tr-app", "value"),
        ("variants", "tr-variants", "value"),
        ("zoom", "tr-zoom", "data"),
    ],
)


def _selection(appliance, chosen) -> tuple[dict, dict, list[str]]:
    """The chosen variants' trace files (the first variant's when none is chosen: the truth
    comes with a trace file), the chosen constant-rule baselines, and the chosen baselines that
    cannot be drawn."""
    apps, _ = guarded(queries.appliances)
    paths, constants, undrawable = _choices(one_of(appliance, apps or []))
    chosen = some_of(chosen)
    files = {c: paths[c] for c in chosen if c in paths} or dict(list(paths.items())[:1])
    rules = {c: constants[c] for c in chosen if c in constants}
    return files, rules, [f"{c} ({undrawable[c]})" for c in chosen if c in undrawable]


def _window(relayout, zoom) -> tuple[list[str] | None, bool]:
    """The visible range from a zoom, a range-slider move or a reset; else the kept one.
    Returns (range or None for the whole trace, whether the relayout said anything)."""
    if not isinstance(relayout, dict):
        return zoom if isinstance(zoom, list) else None, False
    if relayout.get("xaxis.autorange") is True:
        return None, True
    ends = relayout.get("xaxis.range")
    if not isinstance(ends, list):
        ends = [relayout.get("xaxis.range[0]"), relayout.get("xaxis.range[1]")]
    if len(ends) == 2 and all(isinstance(e, str) for e in ends):
        try:
            return [str(pd.Timestamp(e)) for e in ends], True
        except (ValueError, TypeError):
            pass
    return zoom if isinstance(zoom, list) else None, False


def _trigger():
    """The id of the input that fired the callback (None outside a callback)."""
    try:
        return dash.ctx.triggered_id
    except Exception:  # called directly, as the tests and benchmarks do
        return None


def _pct(pred: float, truth: float) -> str:
    if not truth or truth != truth or pred != pred:
        return "undefined (no true energy)"
    return f"{100 * (pred - truth) / truth:+.1f} %"


def energy_table(energy: dict, hours: float, span: dict | None = None) -> html.Div:
    """Each series' energy over the visible window and its error against the truth's; a
    variant that covers only part of the window (``span``: its truth energy and hours) is
    compared with the truth of that part, and says so."""
    if not energy:
        return notice("no samples in the visible window")
    truth = energy.get("ground truth", float("nan"))
    span = span or {}

    def error(name: str, wh: float) -> str:
        if name == "ground truth":
            return ""
        own_truth, own_hours = span.get(name, (truth, hours))
        if own_hours < hours - 1e-6:
            return (
                f"{_pct(wh, own_truth)} (over the {own_hours:,.1f} h it predicted; truth there "
                f"{own_truth:,.1f} Wh)"
            )
        return _pct(wh, truth)

    rows = [
        html.Tr([html.Td(name), html.Td(f"{wh:,.1f} Wh"), html.Td(error(name, wh))])
        for name, wh in energy.items()
    ]
    head = html.Thead(html.Tr([html.Th("series"), html.Th("energy"), html.Th("error vs truth")]))
    caption = html.Caption(f"energy of the visible window ({hours:,.1f} h), unmasked")
    return html.Div(
        dbc.Table(
            [caption, head, html.Tbody(rows)], size="sm", striped=True, className="energy-table"
        ),
        id="trace-energy-table",
    )


@dash.callback(
    Output("trace-graph", "figure"),
    Output("trace-info", "children"),
    Output("trace-energy", "children"),
    Output("tr-zoom", "data"),
    Input("tr-variants", "value"),
    State("trace-graph", "relayoutData"),
    State("tr-app", "value"),
    State("tr-zoom", "data"),
)
@store_view
def draw(chosen, relayout, appliance, zoom=None):
    """The chart for the chosen series (a new choice keeps the zoom the address holds)."""
    said = relayout if _trigger() is None else None  # a new choice: the zoom the address holds
    return _render(chosen, appliance, _window(said, zoom)[0])


# A zoom or pan is its own callback: the empty chart's first autosize relayout used to re-fire
# `draw` while its first answer was in flight, and Dash kept only the later no-op answer, leaving
# the chart empty. Now a relayout that names no range changes nothing and cancels nothing.
@dash.callback(
    Output("trace-graph", "figure", allow_duplicate=True),
    Output("trace-info", "children", allow_duplicate=True),
    Output("trace-energy", "children", allow_duplicate=True),
    Output("tr-zoom", "data", allow_duplicate=True),
    Input("trace-graph", "relayoutData"),
    State("tr-variants", "value"),
    State("tr-app", "value"),
    State("tr-zoom", "data"),
    prevent_initial_call=True,
)
@store_view
def rezoom(relayout, chosen, appliance, zoom=None):
    window, said = _window(relayout, zoom)
    if not said:  # a legend click or a resize: nothing to read
        raise dash.exceptions.PreventUpdate
    return _render(chosen, appliance, window)


def _render(chosen, appliance, window):
    files, rules, dropped = _selection(appliance, chosen)
    if not files:
        return figures.empty("no trace"), "", "", dash.no_update
    start, end = window or (None, None)
    df, err = guarded(queries.trace_window, files, start, end, constants=rules)
    if err:
        return figures.empty(err), notice(err), "", window
    span, _ = guarded(queries.trace_span, next(iter(files.values())))
    whole = (span["start"], span["end"]) if span else None
    fig = figures.trace(df, [*files, *rules], span=whole, window=window)
    where = f" for {start} .. {end}" if start else " (whole trace)"
    info = [html.Span(f"{len(df):,} points drawn{where}", id="trace-points")]
    few = {v: n for v, n in sub_sampled(appliance).items() if v in files}
    if few:
        info.append(
            html.Span(
                "; scored on a sub-sample of the stretch (its trace metrics, e.g. on the Article "
                "page, cover only those windows): "
                + ", ".join(f"{v} ({n})" for v, n in few.items()),
                id="trace-sub-sampled",
            )
        )
    if dropped:
        info.append(
            html.Span(
                f"; no trace for {'; '.join(dropped)}",
                id="trace-dropped",
            )
        )
    table = energy_table(
        df.attrs.get("energy_wh", {}), df.attrs.get("hours", 0.0), df.attrs.get("energy_span")
    )
    return fig, info, table, window


@dash.callback(
    Output("energy-graph", "figure"),
    Output("energy-title", "children"),
    Output("energy-note", "children"),
    Input("tr-variants", "value"),
    State("tr-app", "value"),
)
@store_view
def energy(chosen, appliance):
    files, rules, _ = _selection(appliance, chosen)
    df, err = guarded(queries.daily_energy_unmasked, files)
    if err:
        return figures.empty(err), "Energy", err
    if df is not None and not df.empty and rules:
        first = df[df["variant_id"] == df["variant_id"].iloc[0]]
        extra = [
            first.assign(variant_id=v, pred_wh=w * first["coverage"] * 24) for v, w in rules.items()
        ]
        df = pd.concat([df, *extra], ignore_index=True)
    fig = figures.daily_energy(df if df is not None else pd.DataFrame())
    note = (fig.layout.meta or {}).get("note", "") if isinstance(fig.layout.meta, dict) else ""
    title = (
        "Unmasked energy of the shown stretch"
        if note
        else "Unmasked energy per calendar day (hatched: partial day)"
    )
    return fig, title, note
