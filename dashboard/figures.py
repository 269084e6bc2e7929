"""DataFrame -> plotly figure. Pure functions, no I/O.

Colours are the Okabe-Ito palette (safe for the common colour-vision deficiencies); XNNPACK
versus builtin kernels is blue versus orange, never red versus green.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go

OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
}
MODE_COLORS = {
    "keras": OKABE_ITO["black"],
    "convert_only": OKABE_ITO["blue"],
    "w8": OKABE_ITO["green"],
    "w8_a8_fallback": OKABE_ITO["orange"],
    "w8_a8": OKABE_ITO["vermillion"],
    "w8_a16": OKABE_ITO["purple"],
    "f16": OKABE_ITO["sky"],
    "w8_a8_selective": OKABE_ITO["yellow"],
    # two more from Paul Tol's colour-blind-safe "muted" scheme
    "w8_a8_xnnpack": "#882255",
    "w8_a8_mixed16": "#44AA99",
}
KERNEL_COLORS = {"XNNPACK": OKABE_ITO["blue"], "builtin": OKABE_ITO["orange"]}
OVER_BUDGET = "#d0d0d0"
ARCH_SYMBOLS = {"cnn": "circle", "transformer": "diamond"}
BASELINE_DASH = {"always_off": "dot", "mean_power": "dash", "aggregate_threshold": "dashdot"}
HIGHER_IS_BETTER = {"f1", "mcc", "acc", "precision", "recall"}
X_LABELS = {
    "latency_ms": "latency (ms, median, batch 1)",
    "ram_mb": "RAM (MB over the runtime's baseline)",
    "disk_mb": "disk (MB, 10^6 bytes)",
}
METRIC_LABELS = {
    "f1": "F1",
    "mcc": "MCC",
    "acc": "accuracy",
    "mae_w": "MAE (W, plain)",
    "mae_masked_w": "MAE (W, article's status-masked)",
    "sae": "SAE (plain)",
    "nde": "NDE (plain)",
    "epd_error_pct": "energy-per-day error (%, unbiased)",
}
# tradeoff column -> (interval low column, high column)
INTERVALS = {
    "f1": ("f1_lo", "f1_hi"),
    "mcc": ("mcc_lo", "mcc_hi"),
    "mae_w": ("mae_lo_w", "mae_hi_w"),
    "epd_error_pct": ("epd_error_pct_lo", "epd_error_pct_hi"),
}
# tradeoff column -> metrics_wide column (for the baselines' reference lines)
WIDE_NAME = {"mae_w": "mae", "mae_masked_w": "mae_masked"}


def num(v, digits: int = 4) -> str:
    """A number as a person reads it (no exponent)."""
    from store.recommend import fmt

    return fmt(v, digits)


def interval_text(value, lo, hi, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "undefined"
    if lo is None or hi is None or any(isinstance(x, float) and math.isnan(x) for x in (lo, hi)):
        return f"{num(value, digits)} (no interval)"
    return f"{num(value, digits)} [{num(lo, digits)}, {num(hi, digits)}]"


def empty(message: str) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_layout(xaxis_visible=False, yaxis_visible=False, height=300)
    return fig


def pareto_front(x: np.ndarray, y: np.ndarray, higher_is_better: bool) -> np.ndarray:
    """Indices of the points no other point beats on both cost (x, lower better) and y."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    score = y if higher_is_better else -y
    ok = np.isfinite(x) & np.isfinite(score)
    idx = np.flatnonzero(ok)
    order = idx[np.lexsort((-score[idx], x[idx]))]
    front, best = [], -np.inf
    for i in order:
        if score[i] > best:
            front.append(i)
            best = score[i]
    return np.array(front, dtype=int)


def log_range(values, pad: float = 0.15) -> list[float] | None:
    """A log10 axis range that covers the data's real range."""
    v = np.asarray(values, float)
    v = v[np.isfinite(v) & (v > 0)]
    if not len(v):
        return None
    return [math.log10(v.min()) - pad, math.log10(v.max()) + pad]


def _over_budget(df: pd.DataFrame, budgets: dict) -> np.ndarray:
    over = np.zeros(len(df), bool)
    for col, limit in (budgets or {}).items():
        if limit is not None and col in df:
            vals = df[col].to_numpy(float)
            over |= np.nan_to_num(vals, nan=-np.inf) > limit
    return over


def _grid(n: int) -> tuple[int, int, list[tuple[list[float], list[float]]]]:
    """Columns, rows and each panel's (x domain, y domain) for n small multiples."""
    ncols = 1 if n == 1 else 2
    nrows = math.ceil(n / ncols)
    hs, vs = 0.1, min(0.12, 0.5 / max(nrows, 1))
    w = (1 - (ncols - 1) * hs) / ncols
    h = (1 - (nrows - 1) * vs) / nrows
    domains = []
    for k in range(n):
        r, c = divmod(k, ncols)
        x0 = c * (w + hs)
        y1 = 1 - r * (h + vs)
        clip = lambda v: min(max(round(v, 6), 0.0), 1.0)  # noqa: E731
        domains.append(([clip(x0), clip(x0 + w)], [clip(y1 - h), clip(y1)]))
    return ncols, nrows, domains


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
    points are over a budget; a star marks the variant the recommendation rule picks. Built as
    plain dicts (plotly's per-call validation of ~100 traces cost half a second).
    """
    if df.empty:
        return empty("no measured variants on this device yet: run `pipeline all`")
    df = df.assign(over_budget=_over_budget(df, budgets)).reset_index(drop=True)
    apps = sorted(df["appliance"].unique())
    ncols, nrows, domains = _grid(len(apps))
    lo_col, hi_col = INTERVALS.get(metric, (None, None))
    has_ci = lo_col in df and hi_col in df
    x_all = df[xcol]
    if reference is not None and not reference.empty and xcol in reference:
        x_all = pd.concat([x_all, reference[xcol]])
    xr = log_range(x_all)
    y_label = METRIC_LABELS.get(metric, metric)
    x_label = X_LABELS.get(xcol, xcol)
    traces: list[dict] = []
    annotations: list[dict] = []
    shapes: list[dict] = []
    layout: dict = {}
    seen: set[str] = set()
    recommended = set()
    if decided is not None and not decided.empty:
        recommended = set(decided.loc[decided["status"] == "recommended", "variant_id"])
    wide = WIDE_NAME.get(metric, metric)
    limit = (budgets or {}).get(xcol)

    def legend(name: str) -> bool:
        first = name not in seen
        seen.add(name)
        return first

    for n, app in enumerate(apps):
        sfx = "" if n == 0 else str(n + 1)
        xa, ya = f"x{sfx}", f"y{sfx}"
        (xd, yd) = domains[n]
        r, c = divmod(n, ncols)
        layout[f"xaxis{sfx}"] = {
            "domain": xd,
            "anchor": ya,
            "type": "log",
            "range": xr,
            "title": {"text": x_label} if r == nrows - 1 or n + ncols >= len(apps) else None,
        }
        layout[f"yaxis{sfx}"] = {
            "domain": yd,
            "anchor": xa,
            "title": {"text": y_label} if c == 0 else None,
        }
        annotations.append(
            {
                "text": app,
                "x": (xd[0] + xd[1]) / 2,
                "y": yd[1],
                "xref": "paper",
                "yref": "paper",
                "xanchor": "center",
                "yanchor": "bottom",
                "showarrow": False,
                "font": {"size": 14},
            }
        )
        panel = df[df["appliance"] == app]
        for (mode, arch), g in panel.groupby(["mode", "arch"], sort=True):
            name = f"{mode} · {arch}"
            y = g[metric]
            if has_ci:
                lo, hi = g[lo_col], g[hi_col]
                ci = [interval_text(v, a, b) for v, a, b in zip(y, lo, hi, strict=True)]
                err = {
                    "type": "data",
                    "symmetric": False,
                    "array": (hi - y).clip(lower=0).fillna(0).tolist(),
                    "arrayminus": (y - lo).clip(lower=0).fillna(0).tolist(),
                    "visible": True,
                    "thickness": 1,
                    "width": 3,
                    "color": "#666",
                }
            else:
                ci = [f"{num(v, 3)} (no interval)" for v in y]
                err = {"visible": False}
            devices = [
                f"{h} · {rt} · {t} thread(s)"
                for h, rt, t in zip(g["host"], g["runtime"], g["threads"], strict=True)
            ]
            custom = [
                [v, a, ar, m, d, i, num(x), " (over budget)" if o else ""]
                for v, a, ar, m, d, i, x, o in zip(
                    g["variant_id"],
                    g["appliance"],
                    g["arch"],
                    g["mode"],
                    devices,
                    ci,
                    g[xcol],
                    g["over_budget"],
                    strict=True,
                )
            ]
            traces.append(
                {
                    "type": "scatter",
                    "x": g[xcol].tolist(),
                    "y": y.tolist(),
                    "xaxis": xa,
                    "yaxis": ya,
                    "mode": "markers",
                    "name": name,
                    "legendgroup": name,
                    "showlegend": legend(name),
                    "error_y": err,
                    "marker": {
                        "color": [
                            OVER_BUDGET if o else MODE_COLORS.get(mode, "#333")
                            for o in g["over_budget"]
                        ],
                        "symbol": ARCH_SYMBOLS.get(arch, "circle"),
                        "size": 11,
                        "line": {"width": 1, "color": "#222"},
                    },
                    "customdata": custom,
                    "hovertemplate": "<b>%{customdata[0]}</b><br>appliance %{customdata[1]}, "
                    "arch %{customdata[2]}, mode %{customdata[3]}<br>device %{customdata[4]}<br>"
                    f"{y_label} %{{customdata[5]}}<br>"
                    f"{x_label} %{{customdata[6]}}%{{customdata[7]}}<extra></extra>",
                }
            )
        inside = panel[~panel["over_budget"]]
        front = pareto_front(
            inside[xcol].to_numpy(), inside[metric].to_numpy(), metric in HIGHER_IS_BETTER
        )
        if len(front):
            pf = inside.iloc[front].sort_values(xcol)
            traces.append(
                {
                    "type": "scatter",
                    "x": pf[xcol].tolist(),
                    "y": pf[metric].tolist(),
                    "xaxis": xa,
                    "yaxis": ya,
                    "mode": "lines",
                    "name": "Pareto front",
                    "legendgroup": "pareto",
                    "showlegend": legend("pareto"),
                    "line": {"color": "black", "dash": "dot", "width": 1},
                    "hoverinfo": "skip",
                }
            )
        rec = panel[panel["variant_id"].isin(recommended)]
        if len(rec):
            traces.append(
                {
                    "type": "scatter",
                    "x": rec[xcol].tolist(),
                    "y": rec[metric].tolist(),
                    "xaxis": xa,
                    "yaxis": ya,
                    "mode": "markers",
                    "name": "recommended",
                    "legendgroup": "recommended",
                    "showlegend": legend("recommended"),
                    "marker": {"symbol": "star-open", "size": 22, "color": "black"},
                    "hoverinfo": "skip",
                }
            )
        if baselines is not None and not baselines.empty and wide in baselines:
            for b in baselines[baselines["appliance"] == app].itertuples():
                value = getattr(b, wide)
                if value is None or (isinstance(value, float) and math.isnan(value)):
                    continue
                dash = BASELINE_DASH.get(b.mode, "dash")
                shapes.append(
                    {
                        "type": "line",
                        "xref": f"{xa} domain",
                        "x0": 0,
                        "x1": 1,
                        "yref": ya,
                        "y0": value,
                        "y1": value,
                        "line": {"color": "#555", "width": 1, "dash": dash},
                    }
                )
                annotations.append(
                    {
                        "text": f"baseline {b.mode} {num(value, 3)}",
                        "xref": f"{xa} domain",
                        "x": 1,
                        "yref": ya,
                        "y": value,
                        "xanchor": "right",
                        "yanchor": "bottom",
                        "showarrow": False,
                        "font": {"size": 10, "color": "#444"},
                    }
                )
        if limit is not None and limit > 0:
            shapes.append(
                {
                    "type": "line",
                    "xref": xa,
                    "x0": limit,  # plotly.js takes data units for shapes on log axes
                    "x1": limit,
                    "yref": f"{ya} domain",
                    "y0": 0,
                    "y1": 1,
                    "line": {"color": "#555", "width": 1, "dash": "dash"},
                }
            )
        if reference is not None and not reference.empty and xcol in reference:
            ref = reference[reference["appliance"] == app].dropna(subset=[xcol, "metric_value"])
            if len(ref):
                traces.append(
                    {
                        "type": "scatter",
                        "x": ref[xcol].tolist(),
                        "y": ref["metric_value"].tolist(),
                        "xaxis": xa,
                        "yaxis": ya,
                        "mode": "markers",
                        "name": "article (published, its protocol)",
                        "legendgroup": "article",
                        "showlegend": legend("article"),
                        "marker": {"symbol": "x", "size": 10, "color": "#777"},
                        "text": [
                            f"article: {r.arch} {r.mode} on {r.host}<br>accuracy: "
                            f"{r.conditions or '?'}<br>latency: {r.latency_conditions or '?'}"
                            for r in ref.itertuples()
                        ],
                        "hovertemplate": "%{text}<br>%{x:.4~f}, %{y:.4~f}<extra>article</extra>",
                    }
                )
    layout.update(
        {
            "height": 140 + 300 * nrows,
            "legend": {"orientation": "h", "y": -0.12 if nrows == 1 else -0.06, "x": 0},
            "margin": {"t": 60, "l": 50, "r": 10, "b": 10},
            "title": {
                "text": f"device: {device}" if device else None,
                "font": {"size": 13},
                "x": 0,
            },
            "annotations": annotations,
            "shapes": shapes,
            "template": "plotly",
        }
    )
    return go.Figure(data=traces, layout=layout, _validate=False)


def op_profile_by_type(ops: pd.DataFrame) -> go.Figure:
    if ops.empty:
        return empty("no op profile for this variant")
    g = (
        ops.assign(engine=np.where(ops["xnnpack"].fillna(False), "XNNPACK", "builtin"))
        .groupby(["op_type", "engine"], as_index=False)["latency_ms"]
        .sum()
        .sort_values("latency_ms")
    )
    fig = go.Figure()
    for engine, color in KERNEL_COLORS.items():
        s = g[g["engine"] == engine]
        fig.add_trace(
            go.Bar(
                x=s["latency_ms"], y=s["op_type"], orientation="h", name=engine, marker_color=color
            )
        )
    fig.update_layout(
        barmode="stack",
        xaxis_title="isolated latency (ms, sum over nodes)",
        height=max(300, 22 * g["op_type"].nunique() + 80),
        margin=dict(t=30),
    )
    return fig


def op_profile_by_node(ops: pd.DataFrame, top: int = 25) -> go.Figure:
    if ops.empty:
        return empty("no op profile for this variant")
    top_ops = ops.sort_values("latency_ms", ascending=False).head(top).iloc[::-1]
    labels = top_ops["node_index"].astype(str) + " " + top_ops["op_type"]
    fig = go.Figure(
        go.Bar(
            x=top_ops["latency_ms"],
            y=labels,
            orientation="h",
            marker_color=np.where(
                top_ops["xnnpack"].fillna(False), KERNEL_COLORS["XNNPACK"], KERNEL_COLORS["builtin"]
            ),
            hovertext=top_ops["node_name"],
        )
    )
    fig.update_layout(
        xaxis_title="isolated latency (ms)",
        height=max(300, 20 * len(top_ops) + 80),
        margin=dict(t=30),
    )
    return fig


def layer_error(stats: pd.DataFrame, threshold: float | None = None) -> go.Figure:
    """rmse/scale per tensor; the suspect line is the threshold the conversion actually used."""
    if stats.empty:
        return empty("no debugger statistics (only variants with int8 activations have them)")
    colors = np.where(stats["suspect"], OKABE_ITO["vermillion"], OKABE_ITO["blue"])
    fig = go.Figure(
        go.Bar(
            x=stats["layer_index"].astype(str) + " " + stats["op_name"],
            y=stats["rmse_scale"],
            marker_color=colors,
            hovertext=stats["tensor_name"],
        )
    )
    fig.add_hline(y=0.289, line_dash="dot", annotation_text="0.289 = well quantized (1/√12)")
    if threshold is not None:
        fig.add_hline(
            y=threshold,
            line_dash="dash",
            line_color=OKABE_ITO["vermillion"],
            annotation_text=f"suspect > {threshold:g} (the run's setting)",
        )
    fig.update_layout(yaxis_title="rmse / scale", height=420, margin=dict(t=30))
    return fig


def memory_phases(mem: pd.DataFrame) -> go.Figure:
    if mem.empty:
        return empty("no memory measurement")
    fig = go.Figure()
    for (runtime, xnn), g in mem[mem["phase"] != "baseline"].groupby(["runtime", "xnnpack"]):
        fig.add_trace(
            go.Bar(
                x=g["phase"], y=g["delta_mb"], name=f"{runtime}, XNNPACK {'on' if xnn else 'off'}"
            )
        )
    fig.update_layout(
        yaxis_title="RSS over post-import baseline (MB)",
        barmode="group",
        height=340,
        margin=dict(t=30),
    )
    return fig


def training_curve(hist: pd.DataFrame) -> go.Figure:
    if hist.empty:
        return empty("no training history")
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(x=hist["epoch"], y=hist["loss"], name="train loss", mode="lines+markers")
    )
    fig.add_trace(
        go.Scatter(
            x=hist["epoch"], y=hist["val_loss"], name="validation loss", mode="lines+markers"
        )
    )
    fig.update_layout(xaxis_title="epoch", yaxis_title="loss", height=320, margin=dict(t=30))
    return fig


def _series(df: pd.DataFrame, col: str) -> tuple[pd.Series, pd.Series]:
    """One series of a downsampled trace: its own time stamps (NaN rows belong to others)."""
    ok = df[col].notna()
    return df.loc[ok, "time"], df.loc[ok, col]


def trace(df: pd.DataFrame, variants: list[str], truth_on: bool = True) -> go.Figure:
    if df.empty:
        return empty("no trace for this selection")
    palette = [OKABE_ITO[c] for c in ("blue", "vermillion", "green", "purple", "orange", "sky")]
    fig = go.Figure()
    x, y = _series(df, "aggregate_w")
    fig.add_trace(go.Scattergl(x=x, y=y, name="aggregate", line=dict(color="#bbbbbb", width=1)))
    x, y = _series(df, "truth_w")
    fig.add_trace(go.Scattergl(x=x, y=y, name="ground truth", line=dict(color="black", width=1.5)))
    for i, v in enumerate(variants):
        if v in df:
            x, y = _series(df, v)
            fig.add_trace(
                go.Scattergl(
                    x=x, y=y, name=v, line=dict(width=1.2, color=palette[i % len(palette)])
                )
            )
    if truth_on and "truth_on" in df:
        # one filled step trace, not a shape per activation: thousands of shapes make plotly crawl
        x, on = _series(df, "truth_on")
        top = float(np.nanmax(df[["aggregate_w", "truth_w"]].to_numpy())) if len(df) else 1.0
        fig.add_trace(
            go.Scattergl(
                x=x,
                y=np.where(on.to_numpy() > 0, top, 0.0),
                name="on (ground truth)",
                mode="lines",
                line=dict(width=0, shape="hv"),
                fill="tozeroy",
                fillcolor="rgba(230,159,0,0.18)",
                hoverinfo="skip",
            )
        )
    fig.update_layout(
        yaxis_title="power (W)",
        height=480,
        margin=dict(t=30, l=50, r=10),
        uirevision="trace",
        legend=dict(orientation="h", y=-0.15),
    )
    return fig


def daily_energy(df: pd.DataFrame) -> go.Figure:
    """Unmasked energy per calendar day; partial days (trace edges) are labelled as such."""
    if df.empty:
        return empty("no trace")
    fig = go.Figure()
    first = df[df["variant_id"] == df["variant_id"].iloc[0]]
    partial = first["coverage"] < 0.99 if "coverage" in first else pd.Series(False, first.index)
    fig.add_trace(
        go.Bar(
            x=first["day"],
            y=first["truth_wh"],
            name="ground truth",
            marker_color="black",
            marker_pattern_shape=np.where(partial, "/", ""),
            customdata=(first["coverage"] * 100).round(0) if "coverage" in first else None,
            hovertemplate="%{x|%Y-%m-%d}: %{y:.1f} Wh (%{customdata}% of the day covered)"
            "<extra>ground truth</extra>",
        )
    )
    for vid, g in df.groupby("variant_id"):
        fig.add_trace(go.Bar(x=g["day"], y=g["pred_wh"], name=vid))
    fig.update_layout(
        barmode="group",
        yaxis_title="energy per calendar day (Wh, unmasked)",
        height=320,
        margin=dict(t=30),
        legend=dict(orientation="h", y=-0.2),
    )
    return fig


def layer_error_heatmap(summary: pd.DataFrame) -> go.Figure:
    if summary.empty:
        return empty("no debugger statistics yet")
    summary = summary.assign(
        model=summary["appliance"] + "·" + summary["arch"] + "·" + summary["mode"]
    )
    pv = summary.pivot_table(
        index="model", columns="op_name", values="mean_rmse_scale", aggfunc="mean"
    )
    fig = go.Figure(
        go.Heatmap(
            z=pv.to_numpy(),
            x=pv.columns,
            y=pv.index,
            colorscale="Cividis",
            zmin=0,
            colorbar_title="mean rmse/scale",
        )
    )
    fig.update_layout(height=max(320, 24 * len(pv) + 120), margin=dict(t=30))
    return fig


def mode_deltas(df: pd.DataFrame, metric: str) -> go.Figure:
    """Each quantized variant minus its float model, with the paired interval when stored;
    hollow markers are not distinguishable from float (the interval includes 0)."""
    if df.empty:
        return empty("no metrics yet")
    d = df[df["metric"] == metric]
    if d.empty:
        return empty(f"no {metric} differences stored")
    fig = go.Figure()
    for arch, g in d.groupby("arch"):
        has_ci = g["ci_low"].notna()
        same = g["distinguishable"].astype("boolean").eq(False).fillna(False).astype(bool)
        fig.add_trace(
            go.Scatter(
                x=g["mode"],
                y=g["delta"],
                mode="markers",
                name=arch,
                marker=dict(
                    symbol=[
                        ARCH_SYMBOLS.get(arch, "circle") + ("-open" if s else "") for s in same
                    ],
                    size=10,
                    color=OKABE_ITO["blue"] if arch == "cnn" else OKABE_ITO["vermillion"],
                ),
                error_y=dict(
                    type="data",
                    symmetric=False,
                    array=(g["ci_high"] - g["delta"]).where(has_ci, 0),
                    arrayminus=(g["delta"] - g["ci_low"]).where(has_ci, 0),
                ),
                text=[
                    f"{v}: {interval_text(x, lo, hi)}"
                    + (" · not distinguishable from float" if s else "")
                    for v, x, lo, hi, s in zip(
                        g["variant_id"], g["delta"], g["ci_low"], g["ci_high"], same, strict=True
                    )
                ],
                hovertemplate="%{text}<extra></extra>",
            )
        )
    fig.add_hline(y=0, line_dash="dot")
    fig.update_layout(
        yaxis_title=f"{metric} minus float model's (paired 95 % interval)",
        height=380,
        margin=dict(t=30),
        legend=dict(orientation="h", y=-0.2),
    )
    return fig


def article_comparison(df: pd.DataFrame, metric: str) -> go.Figure:
    """The article's published value (x) against ours (y), same definition; y = x is agreement."""
    if df.empty:
        return empty(f"the article publishes no {metric} with this project's definition")
    ok = df[df["note"].isna() & df["our_value"].notna()]
    if ok.empty:
        return empty("no variant of ours matches a published row yet")
    fig = go.Figure()
    for arch, g in ok.groupby("arch"):
        fig.add_trace(
            go.Scatter(
                x=g["article_value"],
                y=g["our_value"],
                mode="markers",
                name=arch,
                marker=dict(
                    symbol=ARCH_SYMBOLS.get(arch, "circle"),
                    size=11,
                    color=[MODE_COLORS.get(m, "#333") for m in g["mode"]],
                    line=dict(width=1, color="#222"),
                ),
                error_y=dict(
                    type="data",
                    symmetric=False,
                    array=(g["our_hi"] - g["our_value"]).fillna(0),
                    arrayminus=(g["our_value"] - g["our_lo"]).fillna(0),
                ),
                text=[
                    f"<b>{r.appliance} {r.arch} {r.mode}</b><br>article ({r.table_ref}): "
                    f"{num(r.article_value)}<br>  protocol: {r.article_protocol}<br>"
                    f"ours: {interval_text(r.our_value, r.our_lo, r.our_hi)}"
                    f"<br>  protocol: {r.our_protocol or 'not recorded'}"
                    for r in g.itertuples()
                ],
                hovertemplate="%{text}<extra></extra>",
            )
        )
    lo = float(np.nanmin(ok[["article_value", "our_value"]].to_numpy()))
    hi = float(np.nanmax(ok[["article_value", "our_value"]].to_numpy()))
    fig.add_trace(
        go.Scatter(
            x=[lo, hi],
            y=[lo, hi],
            mode="lines",
            name="same value",
            line=dict(color="#999", dash="dot"),
            hoverinfo="skip",
        )
    )
    fig.update_layout(
        xaxis_title=f"article's {metric} (its protocol)",
        yaxis_title=f"ours: {metric} (our protocol)",
        height=460,
        margin=dict(t=30),
        legend=dict(orientation="h", y=-0.2),
    )
    return fig


def compare_metric(df: pd.DataFrame, metric: str = "f1") -> go.Figure:
    """One metric of several variants with intervals, side by side."""
    if df.empty:
        return empty("choose variants to compare")
    lo, hi = f"{metric}_lo", f"{metric}_hi"
    fig = go.Figure(
        go.Scatter(
            x=df[metric],
            y=df["variant_id"],
            mode="markers",
            marker=dict(
                size=11, color=[MODE_COLORS.get(m, "#777") for m in df["mode"]], symbol="circle"
            ),
            error_x=dict(
                type="data",
                symmetric=False,
                array=(df[hi] - df[metric]).fillna(0) if hi in df else None,
                arrayminus=(df[metric] - df[lo]).fillna(0) if lo in df else None,
            ),
            hovertemplate="%{y}: %{x:.4~f}<extra></extra>",
        )
    )
    fig.update_layout(
        xaxis_title=f"{metric} (95 % interval)",
        height=max(220, 40 * len(df) + 100),
        margin=dict(t=20, l=10, r=10),
        yaxis=dict(automargin=True),
    )
    return fig


def compare_ops(ops: pd.DataFrame) -> go.Figure:
    """Per-op-type time of several variants side by side (1 thread)."""
    if ops.empty:
        return empty("no op profiles for these variants")
    fig = go.Figure()
    palette = [OKABE_ITO[c] for c in ("blue", "vermillion", "green", "purple", "orange", "sky")]
    for i, (vid, g) in enumerate(ops.groupby("variant_id", sort=True)):
        g = g.groupby("op_type", as_index=False)["total_ms"].sum()
        fig.add_trace(
            go.Bar(
                y=g["op_type"],
                x=g["total_ms"],
                orientation="h",
                name=vid,
                marker_color=palette[i % len(palette)],
            )
        )
    fig.update_layout(
        barmode="group",
        xaxis_title="isolated latency by op type (ms, 1 thread)",
        height=max(300, 26 * ops["op_type"].nunique() * max(1, ops["variant_id"].nunique()) // 2),
        margin=dict(t=20),
        legend=dict(orientation="h", y=-0.2),
    )
    return fig
