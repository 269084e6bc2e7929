"""DataFrame -> plotly figure. Pure functions, no I/O."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

MODE_COLORS = {
    "keras": "#444444",
    "convert_only": "#1f77b4",
    "w8": "#2ca02c",
    "w8_a8_fallback": "#ff7f0e",
    "w8_a8": "#d62728",
    "w8_a16": "#9467bd",
    "f16": "#8c564b",
    "w8_a8_selective": "#e377c2",
}
ARCH_SYMBOLS = {"cnn": "circle", "transformer": "diamond"}
HIGHER_IS_BETTER = {"f1", "mcc", "acc", "precision", "recall"}
X_LABELS = {
    "latency_ms": "latency (ms, median, batch 1)",
    "ram_mb": "RAM (MB over baseline)",
    "disk_mb": "disk (MB)",
}


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


def tradeoff(
    df: pd.DataFrame, metric: str, xcol: str, budgets: dict, reference: pd.DataFrame | None = None
) -> go.Figure:
    if df.empty:
        return empty("no measured variants yet: run `pipeline all`")
    fig = go.Figure()
    over = np.zeros(len(df), bool)
    for col, limit in budgets.items():
        if limit is not None and col in df:
            over |= df[col].to_numpy(float) > limit
    df = df.assign(over_budget=over)
    for (mode, arch), g in df.groupby(["mode", "arch"], sort=True):
        fig.add_trace(
            go.Scatter(
                x=g[xcol],
                y=g[metric],
                mode="markers",
                name=f"{mode} · {arch}",
                marker=dict(
                    color=[
                        ("#cccccc" if o else MODE_COLORS.get(mode, "#333"))
                        for o in g["over_budget"]
                    ],
                    symbol=ARCH_SYMBOLS.get(arch, "circle"),
                    size=11,
                    line=dict(width=1, color="#222"),
                ),
                customdata=g[["variant_id", "runtime", "threads"]].to_numpy(),
                hovertemplate="%{customdata[0]}<br>%{customdata[1]}, %{customdata[2]} thread(s)<br>"
                f"{xcol}=%{{x:.4g}}<br>{metric}=%{{y:.4g}}<extra></extra>",
            )
        )
    inside = df[~df["over_budget"]]
    front = pareto_front(
        inside[xcol].to_numpy(), inside[metric].to_numpy(), metric in HIGHER_IS_BETTER
    )
    if len(front):
        pf = inside.iloc[front].sort_values(xcol)
        fig.add_trace(
            go.Scatter(
                x=pf[xcol],
                y=pf[metric],
                mode="lines",
                name="Pareto front",
                line=dict(color="black", dash="dot"),
                hoverinfo="skip",
            )
        )
    if reference is not None and not reference.empty and xcol in reference:
        ref = reference.dropna(subset=[xcol, "metric_value"])
        fig.add_trace(
            go.Scatter(
                x=ref[xcol],
                y=ref["metric_value"],
                mode="markers",
                name="article (published)",
                marker=dict(symbol="x", size=10, color="#777"),
                text=ref["appliance"] + " " + ref["arch"] + " " + ref["mode"] + " @" + ref["host"],
                hovertemplate="%{text}<br>%{x:.4g}, %{y:.4g}<extra>article</extra>",
            )
        )
    fig.update_layout(
        xaxis_title=X_LABELS.get(xcol, xcol),
        yaxis_title=metric,
        height=520,
        legend_title="mode · architecture",
        margin=dict(t=30),
    )
    if xcol == "latency_ms":
        fig.update_xaxes(type="log")
    return fig


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
    for engine, color in (("XNNPACK", "#2ca02c"), ("builtin", "#d62728")):
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
            marker_color=np.where(top_ops["xnnpack"].fillna(False), "#2ca02c", "#d62728"),
            hovertext=top_ops["node_name"],
        )
    )
    fig.update_layout(
        xaxis_title="isolated latency (ms)",
        height=max(300, 20 * len(top_ops) + 80),
        margin=dict(t=30),
    )
    return fig


def layer_error(stats: pd.DataFrame, threshold: float = 0.7) -> go.Figure:
    if stats.empty:
        return empty("no debugger statistics (only variants with int8 activations have them)")
    colors = np.where(stats["suspect"], "#d62728", "#1f77b4")
    fig = go.Figure(
        go.Bar(
            x=stats["layer_index"].astype(str) + " " + stats["op_name"],
            y=stats["rmse_scale"],
            marker_color=colors,
            hovertext=stats["tensor_name"],
        )
    )
    fig.add_hline(y=0.289, line_dash="dot", annotation_text="0.289 = well quantized (1/√12)")
    fig.add_hline(
        y=threshold,
        line_dash="dash",
        line_color="#d62728",
        annotation_text=f"suspect > {threshold}",
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


def trace(df: pd.DataFrame, variants: list[str], truth_on: bool = True) -> go.Figure:
    if df.empty:
        return empty("no trace for this selection")
    fig = go.Figure()
    fig.add_trace(
        go.Scattergl(
            x=df["time"], y=df["aggregate_w"], name="aggregate", line=dict(color="#bbbbbb", width=1)
        )
    )
    fig.add_trace(
        go.Scattergl(
            x=df["time"], y=df["truth_w"], name="ground truth", line=dict(color="black", width=1.5)
        )
    )
    for v in variants:
        if v in df:
            fig.add_trace(go.Scattergl(x=df["time"], y=df[v], name=v, line=dict(width=1.2)))
    if truth_on and "truth_on" in df:
        # one filled step trace, not a shape per activation: thousands of shapes make plotly crawl
        on = df["truth_on"].fillna(0).to_numpy() > 0
        top = float(np.nanmax(df[["aggregate_w", "truth_w"]].to_numpy())) if len(df) else 1.0
        fig.add_trace(
            go.Scattergl(
                x=df["time"],
                y=np.where(on, top, 0.0),
                name="on (ground truth)",
                mode="lines",
                line=dict(width=0, shape="hv"),
                fill="tozeroy",
                fillcolor="rgba(255,165,0,0.18)",
                hoverinfo="skip",
            )
        )
    fig.update_layout(yaxis_title="power (W)", height=480, margin=dict(t=30), uirevision="trace")
    return fig


def daily_energy(df: pd.DataFrame) -> go.Figure:
    if df.empty:
        return empty("no trace")
    fig = go.Figure()
    first = df[df["variant_id"] == df["variant_id"].iloc[0]]
    fig.add_trace(
        go.Bar(x=first["day"], y=first["truth_wh"], name="ground truth", marker_color="black")
    )
    for vid, g in df.groupby("variant_id"):
        fig.add_trace(go.Bar(x=g["day"], y=g["pred_wh"], name=vid))
    fig.update_layout(
        barmode="group", yaxis_title="energy per day (Wh)", height=320, margin=dict(t=30)
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
            colorscale="Reds",
            zmin=0,
            colorbar_title="mean rmse/scale",
        )
    )
    fig.update_layout(height=max(320, 24 * len(pv) + 120), margin=dict(t=30))
    return fig


def mode_deltas(df: pd.DataFrame, metric: str) -> go.Figure:
    if df.empty:
        return empty("no metrics yet")
    d = df[df["metric"] == metric]
    fig = go.Figure()
    for arch, g in d.groupby("arch"):
        fig.add_trace(go.Box(x=g["mode"], y=g["delta"], name=arch, boxpoints="all"))
    fig.add_hline(y=0, line_dash="dot")
    fig.update_layout(
        boxmode="group", yaxis_title=f"{metric} minus float model's", height=380, margin=dict(t=30)
    )
    return fig
