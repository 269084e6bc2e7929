"""Disaggregation trace figures: power over time (downsampled on the server) and energy per
calendar day."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard.figures.style import SERIES_COLORS, empty


def _series(df: pd.DataFrame, col: str) -> tuple[pd.Series, pd.Series]:
    """One series of a downsampled trace: its own time stamps (NaN rows belong to others)."""
    ok = df[col].notna()
    return df.loc[ok, "time"], df.loc[ok, col]


def trace(df: pd.DataFrame, variants: list[str], truth_on: bool = True) -> go.Figure:
    if df.empty:
        return empty("no trace for this selection")
    palette = SERIES_COLORS
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
