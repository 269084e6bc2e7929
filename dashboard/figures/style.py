"""What every figure shares: colours, symbols, axis labels, number formats, the empty figure.

Colours are the Okabe-Ito palette (safe for the common colour-vision deficiencies); XNNPACK
versus builtin kernels is blue versus orange, never red versus green.
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from store import ids
from store.recommend_rule import is_missing
from store.vocab import METRICS, TRADEOFF_COLUMNS, Arch, Baseline, Metric

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
    "keras": "#332288",  # Paul Tol's indigo: black is the ground truth's
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
    "qat_w8_a8": "#661100",  # Tol's dark brown: no two modes share a colour
    "qat_w8_a8_xnnpack": "#AA4499",
}
BASELINE_COLORS = {
    Baseline.ALWAYS_OFF.value: "#888888",
    Baseline.MEAN_POWER.value: "#999933",
    Baseline.AGGREGATE_THRESHOLD.value: "#CC6677",
}
TRUTH_COLOR = OKABE_ITO["black"]
AGGREGATE_COLOR = "#bbbbbb"


def variant_mode(variant: str) -> str:
    """A variant's mode from its id (appliance.arch.mode) or the mode itself."""
    return ids.mode_of(variant)


def variant_color(variant: str) -> str:
    """The one colour of a variant in every chart of the app: its mode's (float, each
    quantization mode, each baseline rule). Architectures share a colour and differ by line dash
    (variant_dash) or bar opacity (variant_opacity); tradeoff panels use symbols."""
    mode = variant_mode(variant)
    return MODE_COLORS.get(mode) or BASELINE_COLORS.get(mode) or "#555555"


def variant_dash(variant: str) -> str:
    """Line dash of a variant: baselines by rule, the transformer dashed, the CNN solid."""
    mode = variant_mode(variant)
    if mode in BASELINE_COLORS:
        return BASELINE_DASH.get(mode, "dot")
    return "dash" if _is_transformer(variant) else "solid"


def variant_opacity(variant: str) -> float:
    """Bar opacity of a variant: the transformer lighter than the CNN of the same mode."""
    return 0.6 if _is_transformer(variant) else 1.0


def _is_transformer(variant: str) -> bool:
    return isinstance(variant, str) and Arch.TRANSFORMER.value in variant.split(ids.SEP)


KERNEL_COLORS = {"XNNPACK": OKABE_ITO["blue"], "builtin": OKABE_ITO["orange"]}
SERIES_COLORS = [OKABE_ITO[c] for c in ("blue", "vermillion", "green", "purple", "orange", "sky")]
OVER_BUDGET = "#d0d0d0"
ARCH_SYMBOLS = {"cnn": "circle", "transformer": "diamond"}
BASELINE_DASH = {
    Baseline.ALWAYS_OFF.value: "dot",
    Baseline.MEAN_POWER.value: "dash",
    Baseline.AGGREGATE_THRESHOLD.value: "dashdot",
}
HIGHER_IS_BETTER = {m.value for m, info in METRICS.items() if info.higher_is_better}
X_LABELS = {
    "latency_ms": "latency (ms, median, batch 1)",
    "ram_mb": "RAM (MB over the runtime's baseline)",
    "disk_mb": "disk (MB, 10^6 bytes)",
}
# tradeoff column -> metrics_wide column (for the baselines' reference lines)
WIDE_NAME = dict(TRADEOFF_COLUMNS)
# the tradeoff view's metric columns, labelled from the metric registry (store/vocab.py)
TRADEOFF_METRICS = tuple(TRADEOFF_COLUMNS)
METRIC_LABELS = {c: METRICS[Metric(m)].label for c, m in TRADEOFF_COLUMNS.items()}
# tradeoff column -> (interval low column, high column)
INTERVALS = {
    "f1": ("f1_lo", "f1_hi"),
    "mcc": ("mcc_lo", "mcc_hi"),
    "mae_w": ("mae_lo_w", "mae_hi_w"),
    "epd_error_pct": ("epd_error_pct_lo", "epd_error_pct_hi"),
}


def num(v, digits: int = 4) -> str:
    """A number as a person reads it (no exponent)."""
    from store.recommend import fmt

    return fmt(v, digits)


def interval_text(value, lo, hi, digits: int = 3) -> str:
    if is_missing(value):
        return "undefined"
    if is_missing(lo) or is_missing(hi):
        return f"{num(value, digits)} (no interval)"
    return f"{num(value, digits)} [{num(lo, digits)}, {num(hi, digits)}]"


def empty(message: str) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_layout(xaxis_visible=False, yaxis_visible=False, height=300)
    return fig


def log_range(values, pad: float = 0.15) -> list[float] | None:
    """A log10 axis range that covers the data's real range."""
    v = np.asarray(values, float)
    v = v[np.isfinite(v) & (v > 0)]
    if not len(v):
        return None
    return [math.log10(v.min()) - pad, math.log10(v.max()) + pad]
