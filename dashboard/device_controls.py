"""Device first: which host x runtime x threads, which device class's budgets, which cost and
margin; the budget sliders and boxes kept in step; the recommendation rule on that device."""

from __future__ import annotations

import math

import dash
import dash_bootstrap_components as dbc
import pandas as pd
from dash import Input, Output, dcc, html

from dashboard.callbacks import guarded
from dashboard.components import as_float, field
from dashboard.validate import number, one_of
from store.recommend import COSTS, DEFAULT_TOLERANCE, DEVICE_CLASSES, fmt

BUDGET_LABELS = {c: f"{name} budget ({unit})" for c, (name, unit) in COSTS.items()}
BUDGET_PARAMS = {"latency_ms": "lat", "ram_mb": "ram", "disk_mb": "disk"}
MARGIN_TIP = (
    "How much F1 a cheaper variant may lose to the most accurate one: it qualifies when the "
    "95 % lower bound of their F1 difference, paired on the windows both saw, is above minus "
    "this margin."
)


def device_state(params: dict, devices) -> dict:
    """A page's device, preset, budgets, cost and margin from its URL, with defaults."""
    keys = list(devices["key"]) if devices is not None and len(devices) else []
    device = params.get("device") if params.get("device") in keys else None
    if device is None:  # no device asked for: a measured host of the asked class, else the first
        hosts = hosts_of_class(devices, params.get("preset"))
        device = hosts[0] if hosts else (keys[0] if keys else None)
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


def preset_label(devices: pd.DataFrame | None, preset: str) -> str:
    """A device class with the hosts measured for it, or 'not measured'."""
    hosts = sorted({k.split("|")[0] for k in hosts_of_class(devices, preset)})
    seen = f"measured on {', '.join(hosts)}" if hosts else "not measured"
    return f"{DEVICE_CLASSES[preset]['label']} · {seen}"


def _choice_fields(prefix: str, state: dict, devices) -> list[dbc.Col]:
    """Device, budget preset, cost and margin."""
    device_options = (
        [{"label": r.label, "value": r.key} for r in devices.itertuples()]
        if devices is not None
        else []
    )
    preset_options = [{"label": preset_label(devices, k), "value": k} for k in DEVICE_CLASSES]
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
        field("margin (F1, paired)", f"{prefix}-tol", tolerance, tip=MARGIN_TIP, xs=6, lg=2),
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
        boxes = [number(v, None, 0, 1e12) for v in values[: len(cols)]]
        sliders = [number(v, None, -12, 12) for v in values[len(cols) :]]
        trigger = dash.ctx.triggered_id
        out_boxes = [dash.no_update] * len(cols)
        out_sliders = [dash.no_update] * len(cols)
        if trigger == f"{prefix}-preset" and one_of(preset, DEVICE_CLASSES):
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

    register_device_binding(prefix)


def register_device_binding(prefix: str) -> None:
    """Choosing a device class moves the device to a measured host of that class, when there is
    one (otherwise the device stays and its line says the class was not measured)."""

    @dash.callback(
        Output(f"{prefix}-device", "value"),
        Input(f"{prefix}-preset", "value"),
        dash.State(f"{prefix}-device", "value"),
        prevent_initial_call=True,
    )
    def bind(preset, device):
        from dashboard import queries

        if not one_of(preset, DEVICE_CLASSES):
            return dash.no_update
        devices, err = guarded(queries.devices)
        if err or devices is None or devices.empty:
            return dash.no_update
        keys = hosts_of_class(devices, preset)
        return dash.no_update if not keys or device in keys else keys[0]


def budgets_from(values) -> dict:
    """Budgets from the boxes' values: a positive finite number each, else no limit."""
    values = list(values) + [None] * len(COSTS)
    return {c: number(v, None, 1e-12, 1e12) for c, v in zip(COSTS, values, strict=False)}


def device_params(prefix: str) -> list[tuple[str, str, str]]:
    return [
        ("device", f"{prefix}-device", "value"),
        ("preset", f"{prefix}-preset", "value"),
        ("cost", f"{prefix}-cost", "value"),
        ("tol", f"{prefix}-tol", "value"),
    ] + [(BUDGET_PARAMS[c], f"{prefix}-{c}-in", "value") for c in COSTS]


def device_name(devices: pd.DataFrame | None, key: str | None) -> str:
    if devices is None or not isinstance(key, str) or key not in set(devices["key"]):
        return ""
    return devices.loc[devices["key"] == key, "label"].iloc[0]


def class_of_machine(machine) -> str | None:
    """The device class a measured host belongs to (by its machine type), or None."""
    m = machine.lower() if isinstance(machine, str) else ""
    return next((k for k, spec in DEVICE_CLASSES.items() if m and m in spec["machines"]), None)


def class_name(preset: str | None) -> str:
    """A device class as a person reads it: 'Raspberry Pi 4 / Cortex-A class'."""
    spec = DEVICE_CLASSES.get(preset) if isinstance(preset, str) else None
    return spec["label"].split(" (")[0] if spec else "unknown class"


def hosts_of_class(devices: pd.DataFrame | None, preset: str | None) -> list[str]:
    """The measured devices (keys, most variants first) whose host is of the class ``preset``."""
    if devices is None or devices.empty or not one_of(preset, DEVICE_CLASSES):
        return []
    return [
        k
        for k, m in zip(devices["key"], devices["machine"], strict=True)
        if class_of_machine(m) == preset
    ]


def device_measurement(
    devices: pd.DataFrame | None, key: str | None, preset: str | None = None
) -> tuple[bool, str, str]:
    """Whether the chosen device class was measured: (measured, host label, message).

    ``key`` is the device (host · runtime · threads) whose figures are shown; ``preset`` the
    device class chosen for the budgets (None: no class claimed, the host's own class is said).
    Where the class has no measured host the message says so and names the host the figures
    come from, so a latency is never read as the class's.
    """
    if devices is None or not isinstance(key, str) or key not in set(devices["key"]):
        return False, "", "nothing measured yet: no device has latency figures"
    row = devices[devices["key"] == key].iloc[0]
    host, own = row["label"], class_of_machine(row["machine"])
    if not one_of(preset, DEVICE_CLASSES) or own == preset:
        return (
            True,
            host,
            f"measured on {host}, a {class_name(own).removesuffix(' class')} class device"
            if own
            else f"measured on {host}",
        )
    others = hosts_of_class(devices, preset)
    hint = (
        f" (measured class hosts: {', '.join(device_name(devices, k) for k in others)})"
        if others
        else ""
    )
    return (
        False,
        host,
        f"not measured on a {class_name(preset)} device; figures are from {host}{hint}",
    )


def device_line(devices: pd.DataFrame | None, key: str | None, preset: str | None = None) -> list:
    """Which device the page's figures are from and, when the chosen class was not measured,
    a plain warning first."""
    if devices is None or not isinstance(key, str) or key not in set(devices["key"]):
        return ["No device selected: nothing measured yet."]
    r = devices[devices["key"] == key].iloc[0]
    cpu = r["cpu_model"] if isinstance(r["cpu_model"], str) else "CPU not recorded"
    src = r["source"] if isinstance(r["source"], str) else "unknown source"
    measured, _, message = device_measurement(devices, key, preset)
    warning = (
        []
        if measured
        else [html.Div(message[0].upper() + message[1:] + ".", className="not-measured")]
    )
    own = class_of_machine(r["machine"])
    name = class_name(own)
    cls = f", {'an' if name[0].lower() in 'aeiox' else 'a'} {name} device" if own else ""
    return warning + [
        "Numbers on this page are from device ",
        html.B(r["label"]),
        f" ({cpu}; {src}{cls}); accuracy is the same on every device: it is measured once per "
        "variant.",
    ]


def decide(device_key, cost, tol, budget_values):
    """The rule on the chosen device: (recommendation per appliance, each candidate's status)."""
    from dashboard import queries

    dev = queries.parse_device(device_key)
    if dev is None:
        return None, None, "choose a device"
    cost = one_of(cost, COSTS, "latency_ms")
    tol = number(tol, DEFAULT_TOLERANCE, 0, 1)
    inputs, err = guarded(queries.recommendation_inputs, *dev)
    if err:
        return None, None, err
    candidates, baselines = inputs
    from store.recommend import Rule, classify, recommend

    rule = Rule(cost=cost, budgets=budgets_from(budget_values), tolerance=tol)
    decided = classify(candidates, baselines, rule)
    return recommend(candidates, baselines, rule, decided), decided, rule


def with_device_class(df: pd.DataFrame | None) -> pd.DataFrame | None:
    """Latency rows with the device class of the host each was measured on (from its machine
    type), so a number is never read as another class's."""
    if df is None or df.empty or "machine" not in df:
        return df
    names = [
        f"{class_name(c)} ({m})"
        if c
        else f"no class ({m if isinstance(m, str) else 'machine not recorded'})"
        for c, m in ((class_of_machine(m), m) for m in df["machine"])
    ]
    return df.assign(device_class=names)
