"""Dashboard layers: queries (SQL -> DataFrame) and figures (DataFrame -> figure) as plain functions."""

import numpy as np
import pandas as pd
import pytest

from dashboard import figures, queries
from store import db


def test_pareto_front_keeps_only_undominated_points():
    x = np.array([1, 2, 3, 4, 5.0])
    y = np.array([0.5, 0.4, 0.7, 0.6, 0.9])
    assert figures.pareto_front(x, y, higher_is_better=True).tolist() == [0, 2, 4]
    assert figures.pareto_front(x, y, higher_is_better=False).tolist() == [0, 1]
    assert figures.pareto_front(np.array([1.0, np.nan]), np.array([1.0, 2.0]), True).tolist() == [0]


def test_tradeoff_figure_greys_over_budget_points_and_draws_the_front(smoke_store):
    df = queries.tradeoff(smoke_store)
    fig = figures.tradeoff(
        df, "mae", "latency_ms", {"latency_ms": float(df["latency_ms"].median())}
    )
    colors = [c for t in fig.data if t.mode == "markers" for c in t.marker.color]
    assert "#cccccc" in colors
    assert any(t.name == "Pareto front" for t in fig.data)
    ref = queries.reference_points(smoke_store, "f1")
    assert not ref.empty and {"latency_ms", "metric_value"} <= set(ref.columns)
    with_ref = figures.tradeoff(df, "f1", "latency_ms", {}, ref)
    assert any(t.name == "article (published)" for t in with_ref.data)


def test_variant_queries(smoke_store):
    vid = "kettle.cnn.w8_a8"
    v = queries.variant(smoke_store, vid)
    assert v["mode"] == "w8_a8" and v["parameters"] > 0
    m = queries.metrics_vs_float(smoke_store, vid)
    assert {"f1", "mae", "mae_masked"} <= set(m["metric"])
    assert figures.layer_error(queries.layer_stats(smoke_store, vid)).data
    assert figures.op_profile_by_type(queries.op_profile(smoke_store, vid)).data
    assert figures.memory_phases(queries.memory(smoke_store, vid)).data
    assert not queries.census(smoke_store, vid).empty


def test_trace_window_downsamples_and_filters_by_time(smoke_store):
    paths = dict(queries.trace_variants(smoke_store, "kettle")[["variant_id", "path"]].values[:2])
    full = queries.trace_window(smoke_store, paths, points=100000)
    small = queries.trace_window(smoke_store, paths, points=200)
    assert len(small) < len(full)
    t = pd.to_datetime(full["time"])
    mid = t.iloc[len(t) // 2]
    part = queries.trace_window(smoke_store, paths, start=mid, end=t.iloc[-1], points=100000)
    assert pd.to_datetime(part["time"]).min() >= mid
    # min/max buckets keep the extremes of the prediction
    vid = next(iter(paths))
    assert small[vid].max() == pytest.approx(full[vid].max())


@pytest.mark.parametrize(
    "sql, message",
    [
        ("DELETE FROM variants", "only read queries"),
        ("CREATE TABLE x AS SELECT 1", "only read queries"),
        ("SELECT * FROM read_csv('/etc/passwd')", "Permission"),
        ("SELECT 1; SELECT 2", "one statement"),
        ("", "empty"),
    ],
)
def test_user_sql_is_read_only_and_safe(smoke_store, sql, message):
    with pytest.raises(queries.UserQueryError, match=message):
        queries.run_user_sql(smoke_store, sql)


def test_user_sql_has_a_row_limit(smoke_store):
    df = queries.run_user_sql(smoke_store, "SELECT * FROM range(100000)", limit=50)
    assert len(df) == 50


def test_missing_store_is_a_store_error(tmp_path):
    with pytest.raises(db.StoreError, match="no store here yet"):
        queries.store_facts(tmp_path / "none.duckdb")
