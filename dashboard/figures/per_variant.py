"""One variant's figures: per-op profile, per-tensor quantization error, memory by phase and
its model's training curve."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard.figures.style import KERNEL_COLORS, OKABE_ITO, empty


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
        return empty(
            "no per-tensor statistics for this file: the QuantizationDebugger inspects the "
            "files it builds (w8_a8, w8_a8_fallback, w8_a8_selective); for the other modes "
            "read the w8_a8 variant of the same model"
        )
    colors = np.where(stats["suspect"], OKABE_ITO["vermillion"], OKABE_ITO["blue"])
    fig = go.Figure(
        go.Bar(
            x=stats["layer_index"].astype(str) + " " + stats["op_name"],
            y=stats["rmse_scale"],
            marker_color=colors,
            hovertext=[_tensor_hover(r) for r in stats.to_dict("records")],
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


def sqnr_text(value) -> str:
    """SQNR in dB as shown: +inf is an exact tensor (no quantization noise)."""
    if value is None or value != value:
        return "not recorded"
    if value == float("inf"):
        return "exact"
    return "no signal" if value == float("-inf") else f"{value:.1f} dB"


def _tensor_hover(r: dict) -> str:
    reason = r.get("suspect_reason")
    return f"{r['tensor_name']}<br>SQNR {sqnr_text(r.get('sqnr_db'))}" + (
        f"<br>{reason}" if isinstance(reason, str) else ""
    )


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
