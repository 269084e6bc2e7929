"""What breaks a quantized model, from its end-to-end sensitivity ranking: the lead sentence
and the output error left with each ranked tensor kept in float. Pure functions."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from dashboard.figures.style import OKABE_ITO, empty


def short_name(tensor: str, width: int = 60) -> str:
    """The last part of a fused tensor name (TFLite joins fused ops' names with ';')."""
    last = str(tensor).split(";")[-1] or str(tensor)
    return last if len(last) <= width else "…" + last[-width:]


def cause_lead(ranking: pd.DataFrame) -> str:
    """One sentence on the tensor ranked first: op, range and step, how the values sit on the
    grid, and what keeping it in float recovers of the output error."""
    if ranking.empty:
        return "no end-to-end ranking stored for this model (no w8_a8 file was inspected)"
    r = ranking.iloc[0]
    grid = (
        f"range {r['range']:,.4g} with step {r['scale']:.3g}: p99 |x| spans "
        f"{r['p99_over_scale']:.3g} steps, {r['zero_share']:.0%} of its non-zero values round "
        "to the zero point"
    )
    blow = " (a range blow-up)" if r["range_blowup"] else ""
    return (
        f"What breaks {r['variant_id']}: {r['op_name']} {short_name(r['tensor_name'])}{blow}, "
        f"{grid}. Kept in float alone it takes the output error (RMSE against the float model) "
        f"from {r['output_rmse_quant']:.3g} to {r['output_rmse_kept_float']:.3g} "
        f"({r['recovered_share']:.0%} recovered) and the on/off decisions flipped from "
        f"{r['flip_share_quant']:.1%} to {r['flip_share_kept_float']:.1%}."
    )


def recovery_bars(ranking: pd.DataFrame) -> go.Figure:
    """Share of the output error recovered with each ranked tensor kept in float; protected
    tensors in vermillion, range blow-ups hatched."""
    if ranking.empty:
        return empty("no end-to-end ranking stored for this model")
    df = ranking.sort_values("rank", ascending=False)
    labels = df["rank"].astype(str) + ". " + df["op_name"] + " " + df["tensor_name"].map(short_name)
    colors = [OKABE_ITO["vermillion"] if p else OKABE_ITO["blue"] for p in df["protected"]]
    fig = go.Figure(
        go.Bar(
            x=df["recovered_share"],
            y=labels,
            orientation="h",
            marker_color=colors,
            marker_pattern_shape=["/" if b else "" for b in df["range_blowup"]],
            hovertext=[
                f"range {r.range:,.4g}, step {r.scale:.3g}, p99|x|/step {r.p99_over_scale:.3g}, "
                f"zero share {r.zero_share:.0%}; output RMSE {r.output_rmse_kept_float:.3g} "
                f"(int8 {r.output_rmse_quant:.3g}); {r.why}"
                for r in df.itertuples()
            ],
        )
    )
    fig.update_layout(
        xaxis_title="share of the int8 output error recovered, this tensor alone in float",
        xaxis_tickformat=".0%",
        height=max(220, 28 * len(df) + 100),
        margin=dict(t=20, l=10),
    )
    return fig


LOG_FLOOR, LOG_CEIL = -2.0, 2.0  # rmse/scale from 0.01 to 100 on the colour scale


def layer_error_panels(summary: pd.DataFrame, threshold: float | None) -> go.Figure:
    """Mean rmse/scale per op type, a panel per appliance, on a log colour scale centred on
    the suspect threshold (blue: below it, red: above); an op type a file lacks is blank."""
    import numpy as np
    from plotly.subplots import make_subplots

    if summary.empty:
        return empty("no debugger statistics yet")
    centre = float(np.log10(threshold if threshold else 0.7))
    ops = sorted(summary["op_name"].unique())
    appliances = sorted(summary["appliance"].unique())
    fig = make_subplots(
        rows=len(appliances), cols=1, shared_xaxes=True, subplot_titles=appliances,
        vertical_spacing=min(0.08, 0.3 / max(1, len(appliances))),
    )  # fmt: skip
    for i, (app, g) in enumerate(summary.groupby("appliance", sort=True), start=1):
        pv = g.assign(file=g["arch"] + "·" + g["mode"]).pivot_table(
            index="file", columns="op_name", values="mean_rmse_scale", aggfunc="mean"
        )
        pv = pv.reindex(columns=ops)
        values = pv.to_numpy(dtype=float)
        with np.errstate(divide="ignore"):
            z = np.clip(np.log10(values), LOG_FLOOR, LOG_CEIL)
        text = [[f"{v:.3g}" if v == v else "" for v in row] for row in values]
        fig.add_trace(
            go.Heatmap(
                z=z, x=ops, y=list(pv.index), text=text, coloraxis="coloraxis",
                hovertemplate=f"{app} %{{y}} %{{x}}: mean rmse/scale %{{text}}<extra></extra>",
            ),
            row=i, col=1,
        )  # fmt: skip
    ticks = [0.01, 0.1, 0.289, 1, 10, 100]
    fig.update_layout(
        coloraxis=dict(
            colorscale="RdBu_r", cmin=centre - 2, cmax=centre + 2, cmid=centre,
            colorbar=dict(
                title="mean rmse/scale", tickvals=list(np.log10(ticks)),
                ticktext=[f"{t:g}" for t in ticks],
            ),
        ),
        height=max(320, sum(24 * summary[summary["appliance"] == a][["arch", "mode"]]
                            .drop_duplicates().shape[0] + 80 for a in appliances)),
        margin=dict(t=40),
    )  # fmt: skip
    return fig
