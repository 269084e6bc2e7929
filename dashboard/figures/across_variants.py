"""Figures over many variants: quantization error per op type, what each mode costs against the
float model, the article's numbers against ours, and several variants side by side."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard.figures.style import (
    ARCH_SYMBOLS,
    OKABE_ITO,
    empty,
    interval_text,
    num,
    variant_color,
    variant_opacity,
)


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
    if not isinstance(metric, str):
        return empty("choose a metric")
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
                    color=[variant_color(m) for m in g["mode"]],
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
                size=11,
                color=[variant_color(v) for v in df["variant_id"]],
                symbol=[ARCH_SYMBOLS.get(a, "square") for a in df["arch"]],
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
    for vid, g in ops.groupby("variant_id", sort=True):
        g = g.groupby("op_type", as_index=False)["total_ms"].sum()
        fig.add_trace(
            go.Bar(
                y=g["op_type"],
                x=g["total_ms"],
                orientation="h",
                name=vid,
                marker_color=variant_color(vid),
                marker_opacity=variant_opacity(vid),
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
