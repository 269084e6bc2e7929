"""Disaggregation trace figures: power over time (downsampled on the server, with a range
slider over the whole trace) and energy per calendar day (or of the shown stretch, when the
trace is shorter than a day)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard.figures.style import (
    AGGREGATE_COLOR,
    TRUTH_COLOR,
    empty,
    variant_color,
    variant_dash,
    variant_opacity,
)


def _series(df: pd.DataFrame, col: str) -> tuple[pd.Series, pd.Series]:
    """One series of a downsampled trace: its own time stamps (NaN rows belong to others)."""
    ok = df[col].notna()
    return df.loc[ok, "time"], df.loc[ok, col]


def _on_band(df: pd.DataFrame) -> go.Scatter:
    """The true 'on' periods as one filled step trace (a shape per activation makes plotly
    crawl)."""
    x, on = _series(df, "truth_on")
    top = float(np.nanmax(df[["aggregate_w", "truth_w"]].to_numpy())) if len(df) else 1.0
    return go.Scatter(
        x=x,
        y=np.where(on.to_numpy() > 0, top, 0.0),
        name="on (ground truth)",
        mode="lines",
        line=dict(width=0, shape="hv"),
        fill="tozeroy",
        fillcolor="rgba(230,159,0,0.18)",
        hoverinfo="skip",
    )


def trace(
    df: pd.DataFrame,
    variants: list[str],
    truth_on: bool = True,
    span: tuple | None = None,
    window: tuple | None = None,
) -> go.Figure:
    """Aggregate, ground truth and each variant (its app-wide colour) over time.

    ``span``: the whole trace's first and last time (the range slider covers it); ``window``:
    the visible range when zoomed (None: the whole trace).
    """
    if df.empty:
        return empty("no trace for this selection")
    fig = go.Figure()
    x, y = _series(df, "aggregate_w")
    fig.add_trace(go.Scatter(x=x, y=y, name="aggregate", line=dict(color=AGGREGATE_COLOR, width=1)))
    x, y = _series(df, "truth_w")
    fig.add_trace(
        go.Scatter(x=x, y=y, name="ground truth", line=dict(color=TRUTH_COLOR, width=1.5))
    )
    for v in variants:
        if v in df:
            x, y = _series(df, v)
            line = dict(width=1.4, color=variant_color(v), dash=variant_dash(v))
            fig.add_trace(go.Scatter(x=x, y=y, name=v, line=line))
    if truth_on and "truth_on" in df:
        fig.add_trace(_on_band(df))
    xaxis: dict = {"rangeslider": {"visible": True, "thickness": 0.08}, "type": "date"}
    if span is not None:
        xaxis["rangeslider"]["range"] = [str(span[0]), str(span[1])]
    if window is not None:
        xaxis["range"] = [str(window[0]), str(window[1])]
    fig.update_layout(
        yaxis_title="power (W)",
        xaxis=xaxis,
        height=500,
        margin=dict(t=30, l=50, r=10),
        uirevision="trace",
        legend=dict(orientation="h", y=-0.35),
    )
    return fig


def _stretch(df: pd.DataFrame) -> tuple[pd.DataFrame, str, str]:
    """Energy rows by calendar day, or one row for the whole stretch when it covers less than a
    day in all: (rows, x label column, y axis title)."""
    first = df[df["variant_id"] == df["variant_id"].iloc[0]]
    hours = float(first["coverage"].sum() * 24) if "coverage" in first else 24.0
    if hours >= 24 and len(first) > 1:
        labels = pd.to_datetime(df["day"]).dt.strftime("%Y-%m-%d")
        partial = df["coverage"] < 0.99 if "coverage" in df else pd.Series(False, df.index)
        labels = labels.where(~partial, labels + " (partial)")
        return df.assign(x=labels, partial=partial), "energy per calendar day (Wh, unmasked)", ""
    start = pd.to_datetime(df["day"]).min().strftime("%Y-%m-%d")
    label = f"shown stretch ({hours:.1f} h from {start})"
    rows = df.groupby("variant_id", as_index=False, sort=False)[["truth_wh", "pred_wh"]].sum()
    note = "the trace covers less than a day: this is the energy of the shown stretch"
    return rows.assign(x=label, partial=False), "energy of the shown stretch (Wh, unmasked)", note


def daily_energy(df: pd.DataFrame) -> go.Figure:
    """Unmasked energy per calendar day of the truth and each variant (partial days hatched on
    every bar of that day); a trace shorter than a day gives one group for the whole stretch."""
    if df.empty:
        return empty("no trace")
    rows, ytitle, note = _stretch(df)
    first = rows[rows["variant_id"] == rows["variant_id"].iloc[0]]
    pattern = [("/" if p else "") for p in first["partial"]]
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=first["x"],
            y=first["truth_wh"],
            name="ground truth",
            marker=dict(color=TRUTH_COLOR, pattern_shape=pattern),
            hovertemplate="%{x}: %{y:.1f} Wh<extra>ground truth</extra>",
        )
    )
    for vid, g in rows.groupby("variant_id", sort=False):
        fig.add_trace(
            go.Bar(
                x=g["x"],
                y=g["pred_wh"],
                name=vid,
                marker=dict(
                    color=variant_color(vid),
                    opacity=variant_opacity(vid),
                    pattern_shape=[("/" if p else "") for p in g["partial"]],
                ),
                hovertemplate="%{x}: %{y:.1f} Wh<extra>" + vid + "</extra>",
            )
        )
    fig.update_layout(
        barmode="group",
        yaxis_title=ytitle,
        height=340,
        margin=dict(t=30),
        legend=dict(orientation="h", y=-0.25),
        meta={"note": note},
    )
    return fig
