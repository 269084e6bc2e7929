"""Small multiples: the grid of panels, each panel's axes names and title, which points are over
a budget, the Pareto front."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd


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


@dataclass
class _Panel:
    app: str
    n: int
    domain: tuple[list[float], list[float]]

    @property
    def xa(self) -> str:
        return "x" if self.n == 0 else f"x{self.n + 1}"

    @property
    def ya(self) -> str:
        return "y" if self.n == 0 else f"y{self.n + 1}"


def _panel_title(p: _Panel) -> dict:
    xd, yd = p.domain
    return {
        "text": p.app,
        "x": (xd[0] + xd[1]) / 2,
        "y": yd[1],
        "xref": "paper",
        "yref": "paper",
        "xanchor": "center",
        "yanchor": "bottom",
        "showarrow": False,
        "font": {"size": 14},
    }
