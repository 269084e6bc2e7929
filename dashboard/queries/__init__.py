"""SQL -> DataFrame: every read the dashboard makes of the store, by topic.

Each query runs on the current session's cursor (dashboard.store_reads) or, outside a session,
on a short session of its own, and fully fetches. Answers are kept per version of the store
file (a republished store is a new version), so a page load rarely opens the store at all.

    store_and_devices  what the store holds, devices, the recommendation rule's inputs
    accuracy           tradeoff, baselines, leaderboard, the article's numbers, mode deltas
    variants           one variant's files, kernels, metrics, profiles; several side by side
    traces             disaggregation traces (Parquet artifacts) and energy per day
    user_sql           the SQL page: the schema and the person's own query (sandboxed)
"""

from dashboard.queries.accuracy import (
    ARTICLE_METRICS,
    article_comparison,
    baselines,
    best_baselines,
    layer_error_summary,
    leaderboard,
    mode_deltas,
    reference_points,
    suspect_threshold,
    tradeoff,
)
from dashboard.queries.common import q
from dashboard.queries.store_and_devices import (
    appliances,
    cost_ranges,
    device_key,
    device_label,
    devices,
    parse_device,
    recommendation_inputs,
    store_facts,
)
from dashboard.queries.traces import (
    daily_energy_unmasked,
    trace_baselines,
    trace_span,
    trace_variants,
    trace_window,
)
from dashboard.queries.user_sql import (
    SQL_MAX_BYTES,
    SQL_ROW_LIMIT,
    SQL_TIME_LIMIT_S,
    UserQueryError,
    run_user_sql,
    schema,
)
from dashboard.queries.variants import (
    census,
    compare,
    compare_ops,
    download_path,
    history,
    kernels,
    latency,
    layer_stats,
    memory,
    metrics_vs_float,
    op_profile,
    op_totals,
    per_house,
    variant,
    variant_ids,
    variant_options,
)
from dashboard.store_reads import reading, session

__all__ = [
    "ARTICLE_METRICS",
    "SQL_MAX_BYTES",
    "SQL_ROW_LIMIT",
    "SQL_TIME_LIMIT_S",
    "UserQueryError",
    "appliances",
    "article_comparison",
    "baselines",
    "best_baselines",
    "census",
    "compare",
    "compare_ops",
    "cost_ranges",
    "daily_energy_unmasked",
    "device_key",
    "device_label",
    "devices",
    "download_path",
    "history",
    "kernels",
    "latency",
    "layer_error_summary",
    "layer_stats",
    "leaderboard",
    "memory",
    "metrics_vs_float",
    "per_house",
    "mode_deltas",
    "op_profile",
    "op_totals",
    "parse_device",
    "q",
    "reading",
    "recommendation_inputs",
    "reference_points",
    "run_user_sql",
    "schema",
    "session",
    "store_facts",
    "suspect_threshold",
    "trace_baselines",
    "trace_span",
    "trace_variants",
    "trace_window",
    "tradeoff",
    "variant",
    "variant_ids",
    "variant_options",
]
