"""A look at the data: one day of each appliance's test house, aggregate and appliance power."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from pipeline.core.context import RunContext
from pipeline.data.stage import load_split
from store.vocab import Split


def plot_day(ctx: RunContext, out: Path, day: int = 0) -> Path:
    apps = ctx.appliances
    fig = make_subplots(
        rows=len(apps), cols=1, shared_xaxes=False, subplot_titles=[a.value for a in apps]
    )
    for i, a in enumerate(apps, 1):
        split, row = load_split(ctx, a, Split.TEST)
        t = split.unix
        start = t[0] + day * 86400
        sel = (t >= start) & (t < start + 86400)
        times = t[sel].astype("datetime64[s]")
        fig.add_trace(
            go.Scattergl(
                x=times,
                y=split.aggregate_w[sel],
                name=f"aggregate (house {row['houses']})",
                line=dict(color="#999", width=1),
            ),
            row=i,
            col=1,
        )
        fig.add_trace(
            go.Scattergl(x=times, y=split.appliance_w[sel], name=a.value, line=dict(width=1.5)),
            row=i,
            col=1,
        )
        on = split.status[sel].astype(bool)
        if on.any():
            fig.add_trace(
                go.Scattergl(
                    x=times[on],
                    y=np.zeros(on.sum()),
                    mode="markers",
                    marker=dict(size=3, color="orange"),
                    name=f"{a.value} on",
                ),
                row=i,
                col=1,
            )
    fig.update_layout(
        height=260 * len(apps), title=f"One day of the {row['source']} data", showlegend=False
    )
    out = Path(out)
    fig.write_html(out, include_plotlyjs=True)
    return out
