"""Small pieces every page uses: its header, notices, links, spinners and URL state."""

from __future__ import annotations

import json
import math
import urllib.parse

import dash
import dash_bootstrap_components as dbc
from dash import Output, dcc, html

from store.ids import arch_of, mode_of, model_id, variant_id
from store.vocab import Appliance, Arch, Mode


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


def page_title(text: str) -> html.Div:
    """The page's one H1 (its sections are H2, their parts H3)."""
    return html.Div([html.H1(text, className="mb-1 page-title")], className="mb-2")


def page_header(
    title: str,
    *,
    device: tuple[str, list] | None = None,
    hint=None,
    hint_class: str = "hint",
) -> list:
    """A page's title, then (when given) its device line ``(id, children)`` and its hint."""
    parts = [page_title(title)]
    if device is not None:
        line_id, children = device
        parts.append(html.Div(children, id=line_id, className="device-line"))
    if hint is not None:
        parts.append(html.Div(hint, className=hint_class))
    return parts


def error_page(title: str, message: str) -> html.Div:
    """A page that could not be built: its title and why."""
    return html.Div([page_title(title), notice(message)])


def field(label: str, control_id: str, control, tip: str | None = None, **widths) -> dbc.Col:
    """A labelled control in a grid column (widths: dbc.Col's xs, md, lg); ``tip``, when
    given, is shown on hovering the label or the control and on focusing the control."""
    parts = [html.Label(label, htmlFor=control_id, title=tip), control]
    if tip:
        parts.append(dbc.Tooltip(tip, target=control_id, placement="top"))
    return dbc.Col(parts, **widths)


def chart(graph, label: str) -> html.Div:
    """A chart with an accessible name (screen readers announce a figure with this label)."""
    return html.Div(graph, role="figure", className="chart", **{"aria-label": label})


def loading(child, **kwargs) -> dcc.Loading:
    return dcc.Loading(child, type="circle", delay_show=250, **kwargs)


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
        [dash.Input(cid, prop) for _, cid, prop in params],
    )


def variant_choices(ids) -> list[dict]:
    """Options of a dropdown of variant ids. The label is an element, so the dropdown indexes
    only the values for its search (it indexes every substring of every label and value when
    the page loads: about 115 ids twice cost the Variant page a tenth of a second); a variant id
    already says its kind (a baseline's holds '.baseline.')."""
    return [{"label": html.Span(v), "value": v} for v in ids]


def as_float(value, default=None):
    try:
        v = float(value)
    except (TypeError, ValueError):
        return default
    return v if math.isfinite(v) and v > 0 else default


DEFAULT_PREFERENCE = (
    lambda i: i == variant_id(model_id(Appliance.KETTLE, Arch.CNN), Mode.W8_A8),
    lambda i: arch_of(i) == Arch.CNN and mode_of(i) == Mode.W8_A8,
    lambda i: mode_of(i) == Mode.W8_A8,
    lambda i: mode_of(i) == Mode.KERAS,
)


def default_variant(ids: list[str]) -> str | None:
    """The variant a page shows without a choice: the kettle's int8 CNN, else any int8 CNN,
    any int8 variant, any float model, the first."""
    for preferred in DEFAULT_PREFERENCE:
        hit = next((i for i in ids if preferred(i)), None)
        if hit:
            return hit
    return ids[0] if ids else None
