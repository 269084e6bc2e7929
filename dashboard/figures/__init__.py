"""DataFrame -> plotly figure. Pure functions, no I/O, by kind:

style            colours, symbols, labels, number formats, the empty figure
panels           the grid of small multiples, over-budget points, the Pareto front
tradeoff_panels  accuracy against cost, a panel per appliance
per_variant      one variant: per-op profile, quantization error, memory, training curve
across_variants  many variants: error heatmap, mode deltas, the article, side by side
traces           disaggregation traces and energy per day
"""

from dashboard.figures.across_variants import (
    article_comparison,
    compare_metric,
    compare_ops,
    layer_error_heatmap,
    mode_deltas,
)
from dashboard.figures.panels import pareto_front
from dashboard.figures.per_variant import (
    layer_error,
    memory_phases,
    op_profile_by_node,
    op_profile_by_type,
    training_curve,
)
from dashboard.figures.style import (
    ARCH_SYMBOLS,
    BASELINE_DASH,
    HIGHER_IS_BETTER,
    INTERVALS,
    KERNEL_COLORS,
    METRIC_LABELS,
    MODE_COLORS,
    OKABE_ITO,
    OVER_BUDGET,
    TRADEOFF_METRICS,
    WIDE_NAME,
    X_LABELS,
    empty,
    interval_text,
    log_range,
    num,
    variant_color,
    variant_dash,
    variant_opacity,
)
from dashboard.figures.traces import daily_energy, trace
from dashboard.figures.tradeoff_panels import tradeoff, tradeoff_key

__all__ = [
    "ARCH_SYMBOLS",
    "BASELINE_DASH",
    "HIGHER_IS_BETTER",
    "INTERVALS",
    "KERNEL_COLORS",
    "METRIC_LABELS",
    "TRADEOFF_METRICS",
    "MODE_COLORS",
    "OKABE_ITO",
    "OVER_BUDGET",
    "WIDE_NAME",
    "X_LABELS",
    "article_comparison",
    "compare_metric",
    "compare_ops",
    "daily_energy",
    "empty",
    "interval_text",
    "layer_error",
    "layer_error_heatmap",
    "log_range",
    "memory_phases",
    "mode_deltas",
    "num",
    "op_profile_by_node",
    "op_profile_by_type",
    "pareto_front",
    "trace",
    "tradeoff",
    "tradeoff_key",
    "training_curve",
    "variant_color",
    "variant_dash",
    "variant_opacity",
]
