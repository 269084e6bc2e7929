"""The tradeoff figure: accuracy against one cost on a log axis, one panel per appliance.

Built as plain dicts (plotly's per-call validation of ~100 traces cost half a second). Each
panel is drawn by the same steps: axes and title, one marker trace of all its variants (mode by
colour, architecture by symbol), the Pareto front, the recommended variant's star, a ring on
each variant worse than a baseline on MAE or energy, the baselines' reference lines, the budget
line and the article's published points. One trace per panel instead of one per (mode,
architecture), and the key as text beside the chart instead of a Plotly legend, halved the
chart's drawing time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard.figures.panels import _grid, _over_budget, _Panel, _panel_title, pareto_front
from dashboard.figures.style import (
    ARCH_SYMBOLS,
    BASELINE_DASH,
    HIGHER_IS_BETTER,
    INTERVALS,
    METRIC_LABELS,
    MODE_COLORS,
    OVER_BUDGET,
    WIDE_NAME,
    X_LABELS,
    empty,
    interval_text,
    log_range,
    num,
    variant_color,
)
from store.recommend_rule import is_missing

POWER_FLAG = "power_flag"  # the column the page fills from dashboard/power_flags.py
POWER_RING_NAME = "MAE or energy worse than a baseline"
POWER_RING = {"symbol": "circle-open", "size": 21, "color": "#D55E00", "line": {"width": 2.5}}
MODE_ORDER = {m: i for i, m in enumerate(MODE_COLORS)}


@dataclass
class _Spec:
    """What every panel of one figure draws: the columns, labels, budget and extra layers."""

    metric: str
    xcol: str
    limit: float | None
    recommended: set
    baselines: pd.DataFrame | None
    reference: pd.DataFrame | None
    n_apps: int
    ncols: int
    nrows: int
    domains: list[tuple[list[float], list[float]]]
    x_range: list[float] | None
    seen: set[str] = field(default_factory=set)

    @property
    def y_label(self) -> str:
        return METRIC_LABELS.get(self.metric, self.metric)

    @property
    def x_label(self) -> str:
        return X_LABELS.get(self.xcol, self.xcol)

    def legend(self, name: str) -> bool:
        """Show a legend entry for the first trace of each name only."""
        first = name not in self.seen
        self.seen.add(name)
        return first


def _spec(df, metric, xcol, budgets, reference, baselines, decided) -> _Spec:
    n_apps = len(df["appliance"].unique())
    ncols, nrows, domains = _grid(n_apps)
    x_all = df[xcol]
    if reference is not None and not reference.empty and xcol in reference:
        x_all = pd.concat([x_all, reference[xcol]])
    recommended = set()
    if decided is not None and not decided.empty:
        recommended = set(decided.loc[decided["status"] == "recommended", "variant_id"])
    has_ref = reference is not None and not reference.empty and xcol in reference
    has_base = baselines is not None and not baselines.empty
    return _Spec(
        metric=metric,
        xcol=xcol,
        limit=(budgets or {}).get(xcol),
        recommended=recommended,
        baselines=baselines if has_base and WIDE_NAME.get(metric, metric) in baselines else None,
        reference=reference if has_ref else None,
        n_apps=n_apps,
        ncols=ncols,
        nrows=nrows,
        domains=domains,
        x_range=log_range(x_all),
    )


def _axes(spec: _Spec, p: _Panel) -> dict:
    (xd, yd), (r, c) = p.domain, divmod(p.n, spec.ncols)
    sfx = p.xa[1:]
    last_row = r == spec.nrows - 1 or p.n + spec.ncols >= spec.n_apps
    return {
        f"xaxis{sfx}": {
            "domain": xd,
            "anchor": p.ya,
            "type": "log",
            "range": spec.x_range,
            "title": {"text": spec.x_label} if last_row else None,
        },
        f"yaxis{sfx}": {
            "domain": yd,
            "anchor": p.xa,
            "title": {"text": spec.y_label} if c == 0 else None,
        },
    }


def _error_bar(length: np.ndarray) -> list[float]:
    """Bar lengths: negative ones (a value outside its own interval) and missing ones are 0."""
    length = np.clip(length, 0, None)
    return np.where(np.isnan(length), 0.0, length).tolist()


def _intervals(spec: _Spec, g: pd.DataFrame) -> tuple[list[str], dict]:
    """Each point's interval as text and the error bars (none without stored intervals)."""
    y = g[spec.metric]
    lo_col, hi_col = INTERVALS.get(spec.metric, (None, None))
    if lo_col not in g or hi_col not in g:
        return [f"{num(v, 3)} (no interval)" for v in y], {"visible": False}
    lo, hi = g[lo_col], g[hi_col]
    text = [interval_text(v, a, b) for v, a, b in zip(y, lo, hi, strict=True)]
    yv, lov, hiv = (s.to_numpy(dtype=float, na_value=np.nan) for s in (y, lo, hi))
    return text, {
        "type": "data",
        "symmetric": False,
        "array": _error_bar(hiv - yv),
        "arrayminus": _error_bar(yv - lov),
        "visible": True,
        "thickness": 1,
        "width": 3,
        "color": "#666",
    }


def sample_text(n, level, on) -> str:
    """The evaluation sample behind a variant's accuracy: '5,000 windows (full), 400 on'."""
    if is_missing(n):
        return "sample not recorded"
    text = f"{int(n):,} windows" + (f" ({level})" if isinstance(level, str) and level else "")
    return text + ("" if is_missing(on) else f", {int(on):,} 'on'")


def _hover_rows(spec: _Spec, g: pd.DataFrame, ci: list[str]) -> list[list]:
    host, runtime, threads = (g[c].tolist() for c in ("host", "runtime", "threads"))
    devices = [
        f"{h} · {rt} · {t} thread(s)" for h, rt, t in zip(host, runtime, threads, strict=True)
    ]
    names = (g[c].tolist() for c in ("variant_id", "appliance", "arch", "mode"))
    costs, over = g[spec.xcol].tolist(), g["over_budget"].tolist()
    samples = [
        sample_text(*(r.get(c) for c in ("n_windows", "sample_level", "on_windows")))
        for r in g.to_dict("records")
    ]
    flags = [f"<br><b>{f}</b>" if f else "" for f in _power_flags(g)]
    return [
        [v, a, ar, m, d, i, num(x), " (over budget)" if o else "", s, f]
        for v, a, ar, m, d, i, x, o, s, f in zip(
            *names, devices, ci, costs, over, samples, flags, strict=True
        )
    ]


def _power_flags(g: pd.DataFrame) -> list[str]:
    """Each point's flag: MAE or energy error worse than a baseline (dashboard/power_flags.py)."""
    if POWER_FLAG not in g:
        return [""] * len(g)
    return [f if isinstance(f, str) else "" for f in g[POWER_FLAG]]


def _rounded(values, digits: int = 6) -> list:
    """Coordinates to 6 significant digits (a smaller figure; nothing a chart can show lost)."""
    out = []
    for v in values:
        if v is None or not np.isfinite(v):
            out.append(None)
        else:
            out.append(float(f"{v:.{digits}g}"))
    return out


def _variant_trace(spec: _Spec, p: _Panel, g: pd.DataFrame) -> dict:
    """Every variant of one panel as one trace (about 100 one-point traces drew in twice the
    time): its mode by colour, its architecture by symbol, grey when over a budget; the key
    beside the chart (tradeoff_key) says which is which."""
    ci, err = _intervals(spec, g)
    if err.get("visible"):
        err["array"], err["arrayminus"] = _rounded(err["array"]), _rounded(err["arrayminus"])
    return {
        "type": "scatter",
        "x": _rounded(g[spec.xcol].to_numpy(dtype=float, na_value=np.nan)),
        "y": _rounded(g[spec.metric].to_numpy(dtype=float, na_value=np.nan)),
        "xaxis": p.xa,
        "yaxis": p.ya,
        "mode": "markers",
        "name": f"{p.app} variants",
        "showlegend": False,
        "error_y": err,
        "marker": {
            "color": [
                OVER_BUDGET if o else variant_color(m)
                for o, m in zip(g["over_budget"], g["mode"], strict=True)
            ],
            "symbol": [ARCH_SYMBOLS.get(a, "circle") for a in g["arch"]],
            "size": 11,
            "line": {"width": 1, "color": "#222"},
        },
        "customdata": _hover_rows(spec, g, ci),
        "hovertemplate": "<b>%{customdata[0]}</b><br>appliance %{customdata[1]}, "
        "arch %{customdata[2]}, mode %{customdata[3]}<br>device %{customdata[4]}<br>"
        f"{spec.y_label} %{{customdata[5]}}<br>scored on %{{customdata[8]}}<br>"
        f"{spec.x_label} %{{customdata[6]}}%{{customdata[7]}}%{{customdata[9]}}<extra></extra>",
    }


ARCH_GLYPHS = {"circle": "●", "diamond": "◆", "square": "■"}


def tradeoff_key(df: pd.DataFrame, budgets: dict | None = None) -> list[dict]:
    """The chart's key, drawn beside it as text (a Plotly legend of ~20 entries cost a second
    layout pass of the whole figure): each entry's label, colour and glyph. One entry per mode
    (its colour), per architecture (its symbol), and the marks every panel may hold."""
    if df.empty:
        return []
    modes = sorted(
        df["mode"].dropna().unique(), key=lambda m: (MODE_ORDER.get(m, len(MODE_ORDER)), m)
    )
    key = [{"label": m, "color": variant_color(m), "glyph": "■", "group": "mode"} for m in modes]
    for arch in sorted(df["arch"].dropna().unique()):
        glyph = ARCH_GLYPHS.get(ARCH_SYMBOLS.get(arch, "circle"), "●")
        key.append({"label": arch, "color": "#222222", "glyph": glyph, "group": "arch"})
    if _over_budget(df, budgets or {}).any():
        key.append({"label": "over a budget", "color": OVER_BUDGET, "glyph": "●", "group": "mark"})
    if any(_power_flags(df)):
        key.append(
            {"label": POWER_RING_NAME, "color": POWER_RING["color"], "glyph": "◯", "group": "mark"}
        )
    key += [
        {"label": "Pareto front", "color": "#000000", "glyph": "┈", "group": "mark"},
        {"label": "recommended", "color": "#000000", "glyph": "☆", "group": "mark"},
    ]
    return key


def _power_traces(spec: _Spec, p: _Panel, panel: pd.DataFrame) -> list[dict]:
    """A ring around each variant whose MAE or energy error is worse than a baseline's."""
    flagged = panel[[bool(f) for f in _power_flags(panel)]]
    if not len(flagged):
        return []
    return [
        _line_trace(spec, p, flagged, "power", mode="markers", name=POWER_RING_NAME)
        | {"marker": POWER_RING, "showlegend": False}
    ]


def _line_trace(spec: _Spec, p: _Panel, rows: pd.DataFrame, group: str, **style) -> dict:
    """A trace without hover over some of the panel's points (front, star, article)."""
    return {
        "type": "scatter",
        "x": rows[spec.xcol].tolist(),
        "y": rows[spec.metric].tolist(),
        "xaxis": p.xa,
        "yaxis": p.ya,
        **style,
        "legendgroup": group,
        "showlegend": spec.legend(group),
        "hoverinfo": "skip",
    }


def _front_traces(spec: _Spec, p: _Panel, panel: pd.DataFrame) -> list[dict]:
    inside = panel[~panel["over_budget"]]
    better = spec.metric in HIGHER_IS_BETTER
    front = pareto_front(inside[spec.xcol].to_numpy(), inside[spec.metric].to_numpy(), better)
    if not len(front):
        return []
    pf = inside.iloc[front].sort_values(spec.xcol)
    line = {"color": "black", "dash": "dot", "width": 1}
    return [_line_trace(spec, p, pf, "pareto", mode="lines", name="Pareto front", line=line)]


def _recommended_traces(spec: _Spec, p: _Panel, panel: pd.DataFrame) -> list[dict]:
    rec = panel[panel["variant_id"].isin(spec.recommended)]
    if not len(rec):
        return []
    marker = {"symbol": "star-open", "size": 22, "color": "black"}
    return [
        _line_trace(spec, p, rec, "recommended", mode="markers", name="recommended", marker=marker)
    ]


def _baseline_marks(spec: _Spec, p: _Panel) -> tuple[list[dict], list[dict]]:
    """A horizontal line and a label per baseline of the panel's appliance."""
    if spec.baselines is None:
        return [], []
    wide = WIDE_NAME.get(spec.metric, spec.metric)
    shapes, labels = [], []
    for b in spec.baselines[spec.baselines["appliance"] == p.app].itertuples():
        value = getattr(b, wide)
        if is_missing(value):
            continue
        line = {"color": "#555", "width": 1, "dash": BASELINE_DASH.get(b.mode, "dash")}
        shapes.append(
            {"type": "line", "xref": f"{p.xa} domain", "x0": 0, "x1": 1}
            | {"yref": p.ya, "y0": value, "y1": value, "line": line}
        )
        labels.append(
            {
                "text": f"baseline {b.mode} {num(value, 3)}",
                "xref": f"{p.xa} domain",
                "x": 1,
                "yref": p.ya,
                "y": value,
                "xanchor": "right",
                "yanchor": "bottom",
                "showarrow": False,
                "font": {"size": 10, "color": "#444"},
            }
        )
    return shapes, labels


def _budget_lines(spec: _Spec, p: _Panel) -> list[dict]:
    if spec.limit is None or not spec.limit > 0:
        return []
    line = {"color": "#555", "width": 1, "dash": "dash"}
    # plotly.js takes data units for shapes on log axes
    return [
        {"type": "line", "xref": p.xa, "x0": spec.limit, "x1": spec.limit}
        | {"yref": f"{p.ya} domain", "y0": 0, "y1": 1, "line": line}
    ]


def _reference_traces(spec: _Spec, p: _Panel) -> list[dict]:
    """The article's published points on this appliance, each with its protocol on hover."""
    if spec.reference is None:
        return []
    ref = spec.reference[spec.reference["appliance"] == p.app]
    ref = ref.dropna(subset=[spec.xcol, "metric_value"])
    if not len(ref):
        return []
    return [
        {
            "type": "scatter",
            "x": ref[spec.xcol].tolist(),
            "y": ref["metric_value"].tolist(),
            "xaxis": p.xa,
            "yaxis": p.ya,
            "mode": "markers",
            "name": "article (published, its protocol)",
            "legendgroup": "article",
            "showlegend": spec.legend("article"),
            "marker": {"symbol": "x", "size": 10, "color": "#777"},
            "text": [
                f"article: {r.arch} {r.mode} on {r.host}<br>accuracy: "
                f"{r.conditions or '?'}<br>latency: {r.latency_conditions or '?'}"
                for r in ref.itertuples()
            ],
            "hovertemplate": "%{text}<br>%{x:.4~f}, %{y:.4~f}<extra>article</extra>",
        }
    ]


def _figure_layout(spec: _Spec, device: str, annotations: list, shapes: list) -> dict:
    return {
        "height": 140 + 300 * spec.nrows,
        "showlegend": False,  # the key is text beside the chart (tradeoff_key)
        "margin": {"t": 60, "l": 50, "r": 10, "b": 10},
        "title": {"text": f"device: {device}" if device else None, "font": {"size": 13}, "x": 0},
        "annotations": annotations,
        "shapes": shapes,
        "template": "plotly",
    }


def tradeoff(
    df: pd.DataFrame,
    metric: str,
    xcol: str,
    budgets: dict,
    reference: pd.DataFrame | None = None,
    baselines: pd.DataFrame | None = None,
    decided: pd.DataFrame | None = None,
    device: str = "",
) -> go.Figure:
    """Small multiples: one panel per appliance, each with its own Pareto front.

    Error bars are the metric's 95 % intervals; baselines are horizontal reference lines; grey
    points are over a budget; a star marks the variant the recommendation rule picks.
    """
    if df.empty:
        return empty("no measured variants on this device yet: run `pipeline all`")
    df = df.assign(over_budget=_over_budget(df, budgets)).reset_index(drop=True)
    spec = _spec(df, metric, xcol, budgets, reference, baselines, decided)
    layout: dict = {}
    traces: list[dict] = []
    annotations: list[dict] = []
    shapes: list[dict] = []
    for n, app in enumerate(sorted(df["appliance"].unique())):
        p = _Panel(app, n, spec.domains[n])
        panel = df[df["appliance"] == app]
        layout.update(_axes(spec, p))
        annotations.append(_panel_title(p))
        traces.append(_variant_trace(spec, p, panel))
        traces += _front_traces(spec, p, panel) + _recommended_traces(spec, p, panel)
        traces += _power_traces(spec, p, panel)
        base_shapes, base_labels = _baseline_marks(spec, p)
        shapes += base_shapes + _budget_lines(spec, p)
        annotations += base_labels
        traces += _reference_traces(spec, p)
    layout.update(_figure_layout(spec, device, annotations, shapes))
    return go.Figure(data=traces, layout=layout, _validate=False)
