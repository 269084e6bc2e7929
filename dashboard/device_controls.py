"""Device first: which host x runtime x threads, which device class's budgets, which cost and
tolerance; the budget sliders and boxes kept in step; the recommendation rule on that device."""

from __future__ import annotations

import math

import dash
import dash_bootstrap_components as dbc
import pandas as pd
from dash import Input, Output, dcc, html

from dashboard.callbacks import guarded
from dashboard.components import as_float, field
from store.recommend import COSTS, DEFAULT_TOLERANCE, DEVICE_CLASSES, fmt

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


def budget_ranges(ranges_raw: dict | None) -> dict[str, tuple[int, int]]:
    """Each budget slider's decades: the store's cost ranges and every preset's budget."""
    presets = [v["budgets"] for v in DEVICE_CLASSES.values()]
    return {c: slider_range((ranges_raw or {}).get(c, ()), [p[c] for p in presets]) for c in COSTS}


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


def _choice_fields(prefix: str, state: dict, devices) -> list[dbc.Col]:
    """Device, budget preset, cost and tolerance."""
    device_options = (
        [{"label": r.label, "value": r.key} for r in devices.itertuples()]
        if devices is not None
        else []
    )
    preset_options = [{"label": v["label"], "value": k} for k, v in DEVICE_CLASSES.items()]
    cost_options = [{"label": f"{n} ({u})", "value": c} for c, (n, u) in COSTS.items()]
    tolerance = dbc.Input(
        id=f"{prefix}-tol",
        type="number",
        value=state["tol"],
        min=0,
        max=1,
        step=0.005,
        debounce=True,
        size="sm",
    )

    def dropdown(name: str, options: list, value) -> dcc.Dropdown:
        return dcc.Dropdown(options, value, id=f"{prefix}-{name}", clearable=False)

    return [
        field(
            "device (host · runtime · threads)",
            f"{prefix}-device",
            dropdown("device", device_options, state["device"]),
            xs=12,
            md=6,
            lg=4,
        ),
        field(
            "budget preset (device class)",
            f"{prefix}-preset",
            dropdown("preset", preset_options, state["preset"]),
            xs=12,
            md=6,
            lg=4,
        ),
        field(
            "cost to minimise",
            f"{prefix}-cost",
            dropdown("cost", cost_options, state["cost"]),
            xs=6,
            lg=2,
        ),
        field("F1 tolerance (no interval)", f"{prefix}-tol", tolerance, xs=6, lg=2),
    ]


def device_controls(prefix: str, state: dict, devices, ranges: dict) -> dbc.Row:
    """Device first: which host x runtime x threads, which device class's budgets, which cost."""
    budgets = [
        dbc.Col(budget_control(prefix, col, state["budgets"][col], ranges[col]), xs=12, md=4)
        for col in COSTS
    ]
    return dbc.Row(_choice_fields(prefix, state, devices) + budgets, className="g-2 controls")


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
    from store.recommend import Rule, classify, recommend

    rule = Rule(
        cost=cost or "latency_ms",
        budgets=budgets_from(budget_values),
        tolerance=DEFAULT_TOLERANCE if tol is None else tol,
    )
    decided = classify(candidates, baselines, rule)
    return recommend(candidates, baselines, rule, decided), decided, rule
