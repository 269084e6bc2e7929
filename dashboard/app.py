"""The Dash app: a navigation bar built from the page registry over pages that read the store
read-only, plus shared pieces every page uses (device and budget controls, tables, URL state)."""

from __future__ import annotations

import functools
import json
import math
import urllib.parse
from pathlib import Path

import dash
import dash_ag_grid as dag
import dash_bootstrap_components as dbc
import flask
import pandas as pd
from dash import MATCH, Input, Output, State, dcc, html

from store.db import StoreError
from store.recommend import COSTS, DEFAULT_TOLERANCE, DEVICE_CLASSES, fmt


def store_path() -> Path:
    return Path(flask.current_app.config["NILM_STORE"])


def guarded(fn, *args, **kwargs):
    """Run a store read; return (value, None) or (None, friendly message) instead of a traceback."""
    try:
        return fn(store_path(), *args, **kwargs), None
    except StoreError as exc:
        return None, str(exc)
    except ValueError as exc:  # UserQueryError and friends carry a message for the person
        return None, str(exc)
    except Exception as exc:  # a store swapped mid-read, a missing artifact: say so, keep serving
        return None, f"could not read the store ({type(exc).__name__}: {exc}); reload in a moment"


def one_connection(fn):
    """Run a layout or callback with one read-only connection for all its queries."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from dashboard import queries

        with queries.session(store_path()):
            return fn(*args, **kwargs)

    return wrapper


def share_link(link_id: str) -> html.Div:
    """A link carrying the page's current selections (the address bar carries them too)."""
    return html.Div(html.A("link to this view", id=link_id, href=""), className="share")


def link(path: str, **params) -> str:
    query = urllib.parse.urlencode(
        {k: v for k, v in params.items() if v not in (None, "", [])}, doseq=True
    )
    return path + ("?" + query if query else "")


def notice(message: str, **kwargs) -> html.Div:
    return html.Div(message, className="notice", **kwargs)


def page_title(text: str, device: str | None = None) -> html.Div:
    return html.Div(
        [html.H2(text, className="mb-1")]
        + ([html.Div(device, className="device-line")] if device is not None else []),
        className="mb-2",
    )


def loading(child, **kwargs) -> dcc.Loading:
    return dcc.Loading(child, type="circle", delay_show=250, **kwargs)


# ---------------------------------------------------------------- URL state


def url_state(path: str, link_id: str, params: list[tuple[str, str, str]]) -> None:
    """Keep a page's state in its address: every change rewrites the query (replaceState, so no
    reload and no history spam) and the share link; the page's layout() reads it back."""
    names = json.dumps([p[0] for p in params])
    dash.clientside_callback(
        f"""
        function(...values) {{
            const names = {names};
            const q = new URLSearchParams();
            names.forEach((n, i) => {{
                const v = values[i];
                if (v === null || v === undefined || v === '' || (Array.isArray(v) && !v.length)) return;
                q.set(n, Array.isArray(v) ? v.join(',') : String(v));
            }});
            const s = q.toString();
            const href = '{path}' + (s ? '?' + s : '');
            if (window.location.pathname === '{path}' &&
                window.location.pathname + window.location.search !== href) {{
                window.history.replaceState(window.history.state, '', href);
            }}
            return href;
        }}
        """,
        Output(link_id, "href"),
        [Input(cid, prop) for _, cid, prop in params],
    )


def as_float(value, default=None):
    try:
        v = float(value)
    except (TypeError, ValueError):
        return default
    return v if math.isfinite(v) and v > 0 else default


# ---------------------------------------------------------------- device and budgets

BUDGET_LABELS = {c: f"{name} budget ({unit})" for c, (name, unit) in COSTS.items()}
BUDGET_PARAMS = {"latency_ms": "lat", "ram_mb": "ram", "disk_mb": "disk"}


def device_state(params: dict, devices) -> dict:
    """A page's device, preset, budgets, cost and tolerance from its URL, with defaults."""
    keys = list(devices["key"]) if devices is not None and len(devices) else []
    device = params.get("device") if params.get("device") in keys else (keys[0] if keys else None)
    machine = None
    if device is not None:
        machine = devices.loc[devices["key"] == device, "machine"].iloc[0]
    from store.recommend import preset_for_machine

    preset = params.get("preset")
    if preset not in DEVICE_CLASSES:
        preset = preset_for_machine(machine if isinstance(machine, str) else None)
    budgets = {}
    for col, p in BUDGET_PARAMS.items():
        if p in params:  # present but empty = no limit
            budgets[col] = as_float(params[p])
        else:
            budgets[col] = DEVICE_CLASSES[preset]["budgets"][col]
    cost = params.get("cost") if params.get("cost") in COSTS else "latency_ms"
    tol = as_float(params.get("tol"), DEFAULT_TOLERANCE)
    return {"device": device, "preset": preset, "budgets": budgets, "cost": cost, "tol": tol}


def slider_range(values, extra=()) -> tuple[int, int]:
    """Whole decades covering the data and the presets: a log scale over the real range."""
    vals = [float(v) for v in list(values) + list(extra) if v is not None and v == v and v > 0]
    if not vals:
        return -2, 3
    lo, hi = math.floor(math.log10(min(vals))), math.ceil(math.log10(max(vals)))
    return lo, max(hi, lo + 1)


def budget_control(prefix: str, col: str, value, rng: tuple[int, int]) -> html.Div:
    lo, hi = rng
    pos = math.log10(value) if value else hi
    return html.Div(
        [
            html.Label(BUDGET_LABELS[col], htmlFor=f"{prefix}-{col}-in"),
            dbc.Input(
                id=f"{prefix}-{col}-in",
                type="number",
                value=value,
                min=0,
                step="any",
                debounce=True,
                placeholder="no limit",
                size="sm",
            ),
            dcc.Slider(
                lo,
                hi,
                step=0.01,
                value=min(max(pos, lo), hi),
                id=f"{prefix}-{col}-sl",
                marks={i: fmt(10.0**i) for i in range(lo, hi + 1)},
                tooltip={"transform": "pow10", "placement": "bottom"},
                updatemode="mouseup",
                allow_direct_input=False,  # its box would show the exponent; ours shows the value
                className="log-slider",
            ),
        ],
        className="budget",
    )


def device_controls(prefix: str, state: dict, devices, ranges: dict) -> dbc.Row:
    """Device first: which host x runtime x threads, which device class's budgets, which cost."""
    options = (
        [{"label": r.label, "value": r.key} for r in devices.itertuples()]
        if devices is not None
        else []
    )
    return dbc.Row(
        [
            dbc.Col(
                [
                    html.Label("device (host · runtime · threads)", htmlFor=f"{prefix}-device"),
                    dcc.Dropdown(options, state["device"], id=f"{prefix}-device", clearable=False),
                ],
                xs=12,
                md=6,
                lg=4,
            ),
            dbc.Col(
                [
                    html.Label("budget preset (device class)", htmlFor=f"{prefix}-preset"),
                    dcc.Dropdown(
                        [{"label": v["label"], "value": k} for k, v in DEVICE_CLASSES.items()],
                        state["preset"],
                        id=f"{prefix}-preset",
                        clearable=False,
                    ),
                ],
                xs=12,
                md=6,
                lg=4,
            ),
            dbc.Col(
                [
                    html.Label("cost to minimise", htmlFor=f"{prefix}-cost"),
                    dcc.Dropdown(
                        [{"label": f"{n} ({u})", "value": c} for c, (n, u) in COSTS.items()],
                        state["cost"],
                        id=f"{prefix}-cost",
                        clearable=False,
                    ),
                ],
                xs=6,
                lg=2,
            ),
            dbc.Col(
                [
                    html.Label("F1 tolerance (no interval)", htmlFor=f"{prefix}-tol"),
                    dbc.Input(
                        id=f"{prefix}-tol",
                        type="number",
                        value=state["tol"],
                        min=0,
                        max=1,
                        step=0.005,
                        debounce=True,
                        size="sm",
                    ),
                ],
                xs=6,
                lg=2,
            ),
        ]
        + [
            dbc.Col(budget_control(prefix, col, state["budgets"][col], ranges[col]), xs=12, md=4)
            for col in COSTS
        ],
        className="g-2 controls",
    )


def register_budget_sync(prefix: str) -> None:
    """Preset, sliders (log10) and number boxes (real units) kept in step, in one callback."""
    cols = list(COSTS)

    @dash.callback(
        [Output(f"{prefix}-{c}-in", "value") for c in cols]
        + [Output(f"{prefix}-{c}-sl", "value") for c in cols],
        Input(f"{prefix}-preset", "value"),
        [Input(f"{prefix}-{c}-in", "value") for c in cols]
        + [Input(f"{prefix}-{c}-sl", "value") for c in cols],
        prevent_initial_call=True,
    )
    def sync(preset, *values):
        boxes, sliders = list(values[: len(cols)]), list(values[len(cols) :])
        trigger = dash.ctx.triggered_id
        out_boxes = [dash.no_update] * len(cols)
        out_sliders = [dash.no_update] * len(cols)
        if trigger == f"{prefix}-preset" and preset in DEVICE_CLASSES:
            for i, c in enumerate(cols):
                v = DEVICE_CLASSES[preset]["budgets"][c]
                out_boxes[i], out_sliders[i] = v, math.log10(v)
        for i, c in enumerate(cols):
            if trigger == f"{prefix}-{c}-sl" and sliders[i] is not None:
                out_boxes[i] = float(fmt(10.0 ** sliders[i], 3).replace(",", ""))
            elif trigger == f"{prefix}-{c}-in":
                v = as_float(boxes[i])
                if v is not None:
                    out_sliders[i] = math.log10(v)
        return out_boxes + out_sliders


def budgets_from(values) -> dict:
    return {c: as_float(v) for c, v in zip(COSTS, values, strict=True)}


def device_params(prefix: str) -> list[tuple[str, str, str]]:
    return [
        ("device", f"{prefix}-device", "value"),
        ("preset", f"{prefix}-preset", "value"),
        ("cost", f"{prefix}-cost", "value"),
        ("tol", f"{prefix}-tol", "value"),
    ] + [(BUDGET_PARAMS[c], f"{prefix}-{c}-in", "value") for c in COSTS]


def device_name(devices: pd.DataFrame | None, key: str | None) -> str:
    if devices is None or key is None or key not in set(devices["key"]):
        return ""
    return devices.loc[devices["key"] == key, "label"].iloc[0]


def device_line(devices: pd.DataFrame | None, key: str | None) -> list:
    if devices is None or key is None or key not in set(devices["key"]):
        return ["No device selected: nothing measured yet."]
    r = devices[devices["key"] == key].iloc[0]
    cpu = r["cpu_model"] if isinstance(r["cpu_model"], str) else "CPU not recorded"
    src = r["source"] if isinstance(r["source"], str) else "unknown source"
    return [
        "Numbers on this page are from device ",
        html.B(r["label"]),
        f" ({cpu}; {src}); accuracy is the same on every device: it is measured once per variant.",
    ]


def decide(device_key, cost, tol, budget_values):
    """The rule on the chosen device: (recommendation per appliance, each candidate's status)."""
    from dashboard import queries

    dev = queries.parse_device(device_key)
    if dev is None:
        return None, None, "choose a device"
    inputs, err = guarded(queries.recommendation_inputs, *dev)
    if err:
        return None, None, err
    candidates, baselines = inputs
    from store.recommend import DEFAULT_TOLERANCE, Rule, classify, recommend

    rule = Rule(
        cost=cost or "latency_ms",
        budgets=budgets_from(budget_values),
        tolerance=DEFAULT_TOLERANCE if tol is None else tol,
    )
    decided = classify(candidates, baselines, rule)
    return recommend(candidates, baselines, rule, decided), decided, rule


# ---------------------------------------------------------------- tables


def number_col(field: str, header: str, digits: int = 3, unit: str = "", **kw) -> dict:
    suffix = f" + ' {unit}'" if unit else ""
    return {
        "field": field,
        "headerName": header,
        "type": "numericColumn",
        "filter": "agNumberColumnFilter",
        "valueFormatter": {
            "function": f"params.value == null ? '–' : d3.format(',.{digits}~f')(params.value){suffix}"
        },
        **kw,
    }


def interval_col(field: str, header: str, lo: str, hi: str, digits: int = 3, **kw) -> dict:
    f = f"d3.format('.{digits}f')"
    return {
        "field": field,
        "headerName": header,
        "type": "numericColumn",
        "filter": "agNumberColumnFilter",
        "minWidth": 150,
        "valueFormatter": {
            "function": f"params.value == null ? '–' : {f}(params.value) + "
            f"(params.data.{lo} == null ? ' (no interval)' : "
            f"' [' + {f}(params.data.{lo}) + ', ' + {f}(params.data.{hi}) + ']')"
        },
        **kw,
    }


def text_col(field: str, header: str, **kw) -> dict:
    return {"field": field, "headerName": header, "filter": "agTextColumnFilter", **kw}


def grid(name: str, df, columns: list[dict], height: int | None = None, **kw) -> html.Div:
    """An AG Grid with sort, filter, resizable columns and a CSV export button."""
    records = df.to_dict("records") if df is not None else []
    return html.Div(
        [
            dbc.Button(
                "Download CSV",
                id={"type": "csv", "name": name},
                size="sm",
                color="secondary",
                outline=True,
                className="mb-1",
            ),
            dag.AgGrid(
                id={"type": "grid", "name": name},
                rowData=records,
                columnDefs=columns,
                defaultColDef={"sortable": True, "resizable": True, "filter": True, "minWidth": 90},
                dashGridOptions={
                    "domLayout": "autoHeight" if height is None else "normal",
                    "pagination": len(records) > 25,
                    "paginationPageSize": 25,
                    "tooltipShowDelay": 200,
                },
                csvExportParams={"fileName": f"{name}.csv"},
                columnSize="autoSize",
                style={"width": "100%", **({"height": height} if height else {})},
                **kw,
            ),
        ],
        id=name,
        className="grid-wrap",
    )


@dash.callback(
    Output({"type": "grid", "name": MATCH}, "exportDataAsCsv"),
    Input({"type": "csv", "name": MATCH}, "n_clicks"),
    prevent_initial_call=True,
)
def _export_csv(n):
    return bool(n)


# ---------------------------------------------------------------- downloads


def register_downloads(server: flask.Flask) -> None:
    from dashboard import queries

    @server.route("/download/<kind>/<path:variant_id>")
    def download(kind: str, variant_id: str):
        try:
            found = queries.download_path(
                Path(server.config["NILM_STORE"]), variant_id, kind.removeprefix(".")
            )
        except StoreError:
            found = None
        if found is None:
            flask.abort(404)
        path, sha = found
        resp = flask.send_file(path, as_attachment=True, download_name=path.name)
        if sha:
            resp.headers["X-Content-SHA256"] = sha
        return resp


def download_href(variant_id: str, kind: str) -> str:
    return f"/download/{kind}/{urllib.parse.quote(variant_id)}"


# ---------------------------------------------------------------- app


def navbar() -> dbc.Navbar:
    pages = sorted(
        (p for p in dash.page_registry.values() if p.get("nav", True)),
        key=lambda p: (p.get("order") if p.get("order") is not None else 99, p["name"]),
    )
    links = [
        dbc.NavItem(
            dbc.NavLink(
                p["name"],
                href=p["relative_path"],
                active="exact",
                id=f"nav-{p['name'].lower()}",
            )
        )
        for p in pages
    ]
    return dbc.Navbar(
        dbc.Container(
            [
                dbc.NavbarBrand("nilm-edge", href="/"),
                dbc.NavbarToggler(id="nav-toggle", n_clicks=0),
                dbc.Collapse(dbc.Nav(links, navbar=True), id="nav-collapse", navbar=True),
            ],
            fluid=True,
        ),
        color="dark",
        dark=True,
        expand="lg",
        className="mb-2",
    )


@dash.callback(
    Output("nav-collapse", "is_open"),
    Input("nav-toggle", "n_clicks"),
    State("nav-collapse", "is_open"),
    prevent_initial_call=True,
)
def _toggle_nav(n, is_open):
    return not is_open


def create_app(store: Path) -> dash.Dash:
    app = dash.Dash(
        __name__,
        use_pages=True,
        pages_folder=str(Path(__file__).with_name("pages")),
        suppress_callback_exceptions=True,
        title="nilm-edge",
        meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
    )
    app.server.config["NILM_STORE"] = str(Path(store).resolve())
    register_downloads(app.server)
    app.layout = html.Div(
        [
            dcc.Location(id="url"),
            navbar(),
            dbc.Container(dash.page_container, fluid=True, className="main"),
        ]
    )
    return app
