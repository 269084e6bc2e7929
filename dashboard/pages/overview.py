"""Overview: choose a device and its budgets, read one answer per appliance (the recommended
group within the margin, its F1 and paired loss to float, its energy error flagged against the
baselines, its costs with the host they were measured on, every candidate's sample) and the
leaderboard of everything measured on that device beside the baselines."""

import dash
from dash import Input, Output, dcc, html

from dashboard import power_flags, queries
from dashboard.callbacks import guarded, store_view
from dashboard.components import error_page, loading, notice, page_header, share_link, url_state
from dashboard.device_controls import (
    budget_ranges,
    decide,
    device_controls,
    device_line,
    device_measurement,
    device_params,
    device_state,
    register_budget_sync,
)
from dashboard.grids import grid, interval_col, number_col, text_col
from dashboard.power_flags import FLAG_HEADER
from store.recommend import COSTS, STATUS_TEXT, answer_text
from store.vocab import Kind

dash.register_page(
    __name__, path="/", name="Overview", title="nilm-edge · which variant to ship", order=0
)

P = "ov"
TITLE = "Which variant to ship"


def _facts_line(facts: dict) -> html.Div:
    last = facts.get("last_run")
    return html.Div(
        [
            html.Span(f"refreshed {facts.get('refreshed_at', 'never')}"),
            html.Span(f"last run: {last[0]} ({last[1]}, {last[2]})" if last else "no run yet"),
            html.Span(
                f"{facts['n_models']} models, {facts['n_variants']} variants, "
                f"{facts['n_latency']} latency rows"
            ),
        ],
        className="facts",
        id="overview-facts",
    )


def _nothing_measured() -> str:
    """The empty Overview's sentence: what to run, or that a live run is filling the store."""
    from dashboard.callbacks import store_path
    from dashboard.progress import read_progress, run_state

    if run_state(read_progress(store_path())) == "running":
        return (
            "No variant measured yet: the `pipeline all` run shown above is filling the store. "
            "The first appliance (the kettle) is taken through every stage before the others, "
            "so its answer appears here first; reload in a few minutes."
        )
    return (
        "The store has no variant measured on any device yet: run `pipeline all` "
        "(or ingest a device's numbers with `pipeline ingest-benchmark`)."
    )


def layout(**params):
    """The page; its empty state is not cached, as it follows a live run's progress file."""
    facts, err = guarded(queries.store_facts)
    if err:
        return error_page(TITLE, err)
    devices, err = guarded(queries.devices)
    if err:
        return error_page(TITLE, err)
    if devices is None or devices.empty:
        return html.Div([*page_header(TITLE), _facts_line(facts), notice(_nothing_measured())])
    return _layout(**params)


@store_view
def _layout(**params):
    facts, _ = guarded(queries.store_facts)
    devices, _ = guarded(queries.devices)
    head = _facts_line(facts)
    state = device_state(params, devices)
    ranges_raw, _ = guarded(queries.cost_ranges)
    return html.Div(
        [
            *page_header(
                TITLE,
                device=("ov-device-line", device_line(devices, state["device"], state["preset"])),
            ),
            head,
            device_controls(P, state, devices, budget_ranges(ranges_raw)),
            share_link("ov-share"),
            html.Div(id="ov-rule", className="rule"),
            html.Div(
                "The margin (F1, paired) is the box beside the cost: how much F1 a cheaper "
                "variant may lose to the best one, judged on the windows both saw.",
                className="hint",
            ),
            html.H2("One answer per appliance"),
            loading(html.Div(id="ov-recommendation")),
            html.H2("Leaderboard on this device, with the baselines"),
            html.Div(
                "Baselines are scored on the same windows as the models; they have no latency. "
                "The status column applies the rule above to each variant.",
                className="hint",
            ),
            loading(html.Div(id="ov-leaderboard")),
        ]
    )


register_budget_sync(P)
url_state("/", "ov-share", device_params(P))


REC_COLUMNS = [
    text_col("appliance", "appliance", pinned="left", minWidth=110),
    text_col("variant", "recommended", cellRenderer="markdown", minWidth=220),
    text_col("group", "equal within noise", minWidth=200, wrapText=True, autoHeight=True),
    interval_col("f1", "F1 [95 % CI]", "f1_lo", "f1_hi"),
    number_col("n_windows", "windows (n)", 0),
    text_col("level", "sample level"),
    interval_col("f1_delta", "F1 vs float [paired CI]", "f1_delta_lo", "f1_delta_hi"),
    interval_col(
        "epd_error_pct", "energy/day error % [CI]", "epd_error_pct_lo", "epd_error_pct_hi", 1
    ),
    text_col("power_flag", "worse than a baseline", minWidth=220, wrapText=True, autoHeight=True),
    number_col("latency_ms", "latency", 3, "ms"),
    number_col("ram_mb", "RAM", 1, "MB"),
    number_col("disk_mb", "disk", 2, "MB"),
    text_col("host", "measured on"),
    text_col(
        "identical",
        "byte-identical files (one entry)",
        minWidth=220,
        wrapText=True,
        autoHeight=True,
    ),
    text_col(
        "runner_up_why", "why the runner-up lost", minWidth=260, wrapText=True, autoHeight=True
    ),
    text_col("runner_up_id", "runner-up", minWidth=200),
    text_col("candidates_n", "every candidate's n", minWidth=300, wrapText=True, autoHeight=True),
    number_col("baseline_f1", "best baseline F1", 3),
    text_col("excluded", "never recommended", minWidth=200, wrapText=True, autoHeight=True),
    text_col("why", "why", minWidth=300, wrapText=True, autoHeight=True),
]

BOARD_COLUMNS = [
    text_col("appliance", "appliance", pinned="left", minWidth=110),
    text_col("variant", "variant", cellRenderer="markdown", minWidth=210),
    text_col("kind", "kind"),
    text_col("arch", "arch"),
    text_col("mode", "mode"),
    text_col("status", "status under the rule", minWidth=200),
    interval_col("f1", "F1 [95 % CI]", "f1_lo", "f1_hi"),
    text_col("power_flag", FLAG_HEADER, width=360, tooltipField="power_flag"),
    interval_col("mcc", "MCC [95 % CI]", "mcc_lo", "mcc_hi"),
    interval_col("mae_w", "MAE W [95 % CI]", "mae_lo_w", "mae_hi_w", 1),
    number_col("sae", "SAE", 3),
    number_col("nde", "NDE", 3),
    number_col("epd_error_pct", "EpD error", 1, "%"),
    number_col("latency_ms", "latency", 3, "ms"),
    number_col("ram_mb", "RAM", 1, "MB"),
    number_col("disk_mb", "disk", 2, "MB"),
    number_col("xnnpack_partitions", "XNNPACK partitions", 0),
    text_col("under_trained", "under-trained"),
]


def _variant_link(vid) -> str:
    return f"[{vid}](/variant?id={vid})" if isinstance(vid, str) else "–"


@dash.callback(
    Output("ov-device-line", "children"),
    Output("ov-rule", "children"),
    Output("ov-recommendation", "children"),
    Output("ov-leaderboard", "children"),
    Input(f"{P}-device", "value"),
    Input(f"{P}-cost", "value"),
    Input(f"{P}-tol", "value"),
    [Input(f"{P}-{c}-in", "value") for c in COSTS],
    Input(f"{P}-preset", "value"),
)
@store_view
def update(device_key, cost, tol, *rest):
    *budget_values, preset = rest
    devices, _ = guarded(queries.devices)
    line = device_line(devices, device_key, preset)
    rec, decided, rule = decide(device_key, cost, tol, budget_values)
    if rec is None:
        return line, "", notice(rule), ""
    measured, _, message = device_measurement(devices, device_key, preset)
    best, _ = guarded(queries.best_baselines)
    note = "" if measured else f"; {message.split(';')[0]}"
    cards = answer_cards(rec, note, decided, best)
    open_links = [
        dcc.Link(
            f"open {r.variant_id}",
            href=f"/variant?id={r.variant_id}",
            id=f"open-rec-{r.appliance}",
            className="me-3",
        )
        for r in rec.itertuples()
        if isinstance(r.variant_id, str)
    ]
    rec_table = grid(
        "recommendation",
        rec.assign(variant=[_variant_link(v) for v in rec["variant_id"]]),
        REC_COLUMNS,
    )
    board, err = guarded(queries.leaderboard, queries.parse_device(device_key))
    if err:
        return line, rule.text(), [rec_table, *open_links], notice(err)
    status = dict(zip(decided["variant_id"], decided["status"], strict=True))
    board = board.assign(
        status=[
            STATUS_TEXT.get(status.get(v), Kind.BASELINE.value if k == Kind.BASELINE else "")
            for v, k in zip(board["variant_id"], board["kind"], strict=True)
        ],
        variant=[_variant_link(v) for v in board["variant_id"]],
        power_flag=power_flags.flags(board, best),
    )
    return (
        line,
        rule.text(),
        html.Div([cards, rec_table, html.Div(open_links, className="mb-2")]),
        grid("leaderboard-grid", board, BOARD_COLUMNS, height=520),
    )


def answer_cards(rec, device_note: str, decided=None, best=None) -> html.Div:
    """One sentence per appliance: the answer a stakeholder reads first (store/recommend.py
    words it, the same fields as the table below). When nothing is recommended, the closest
    candidate follows in the same words: its paired F1 loss to float, its energy error against
    the baselines and where its costs were measured."""
    return html.Div(
        [
            html.P(
                [answer_text(r, device_note), *closest(r, device_note, decided, best)],
                className="answer",
                id=f"answer-{r['appliance']}",
            )
            for r in rec.to_dict("records")
        ],
        id="ov-answers",
    )


def closest(r: dict, device_note: str, decided, best) -> list:
    """The runner-up of an appliance with nothing recommended, worded as an answer would be."""
    vid = r.get("runner_up_id")
    if isinstance(r.get("variant_id"), str) or not isinstance(vid, str) or decided is None:
        return []
    rows = decided[decided["variant_id"] == vid]
    if rows.empty:
        return []
    u = rows.iloc[0].to_dict()
    table = power_flags.by_appliance(best)
    sentence = answer_text(
        u
        | {"group": "", "identical": "", "margin": r.get("margin")}
        | {"power_flag": power_flags.flag(u, table)},
        device_note,
    )
    head = f"{u['appliance']}: ship {vid}"
    return [html.Br(), f"Closest, not recommended: {vid}" + sentence.removeprefix(head)]
