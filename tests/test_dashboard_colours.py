"""One variant, one colour: every chart of the app draws a variant with the colour
figures.variant_color gives it (traces, energy, comparison, op profiles, tradeoff)."""

import pandas as pd

from dashboard import figures

VARIANTS = ["kettle.cnn.w8_a8", "kettle.transformer.w8_a8", "kettle.cnn.keras", "kettle.cnn.w8"]


def _by_name(fig) -> dict:
    return {t.name: t for t in fig.data}


def test_a_variant_has_one_colour_in_every_chart():
    t = pd.date_range("2014-01-01", periods=50, freq="8s")
    df = pd.DataFrame({"time": t, "aggregate_w": 1.0, "truth_w": 1.0, "truth_on": 0.0})
    for v in VARIANTS:
        df[v] = 2.0
    trace = _by_name(figures.trace(df, VARIANTS))
    days = pd.DataFrame(
        [
            {"day": d, "truth_wh": 1.0, "pred_wh": 2.0, "coverage": c, "variant_id": v}
            for v in VARIANTS
            for d, c in ((pd.Timestamp("2014-01-01"), 0.5), (pd.Timestamp("2014-01-02"), 1.0))
        ]
    )
    energy = _by_name(figures.daily_energy(days))
    ops = pd.DataFrame({"variant_id": VARIANTS, "op_type": "CONV_2D", "total_ms": 1.0})
    bars = _by_name(figures.compare_ops(ops))
    cmp = pd.DataFrame(
        {"variant_id": VARIANTS, "arch": [v.split(".")[1] for v in VARIANTS], "f1": 0.8}
    )
    points = figures.compare_metric(cmp).data[0]
    for i, v in enumerate(VARIANTS):
        colour = figures.variant_color(v)
        assert trace[v].line.color == colour
        assert energy[v].marker.color == colour
        assert bars[v].marker.color == colour
        assert points.marker.color[i] == colour
    # the two architectures of one mode share the colour and differ by dash
    assert trace["kettle.cnn.w8_a8"].line.dash != trace["kettle.transformer.w8_a8"].line.dash
    # the ground truth's colour is no variant's
    assert trace["ground truth"].line.color not in {figures.variant_color(v) for v in VARIANTS}


def test_partial_days_are_hatched_on_every_bar_and_short_traces_are_one_stretch():
    days = pd.DataFrame(
        [
            {"day": pd.Timestamp(d), "truth_wh": 1.0, "pred_wh": 2.0, "coverage": c}
            | {"variant_id": "kettle.cnn.w8"}
            for d, c in (("2014-01-01", 0.5), ("2014-01-02", 1.0), ("2014-01-03", 0.2))
        ]
    )
    fig = figures.daily_energy(days)
    for bar in fig.data:
        assert list(bar.marker.pattern.shape) == ["/", "", "/"]
    short = days.iloc[:1].assign(coverage=1 / 24)
    fig = figures.daily_energy(short)
    assert "shown stretch" in fig.layout.yaxis.title.text
    assert "1.0 h" in fig.data[0].x[0]


def test_no_two_modes_or_baselines_share_a_colour():
    from dashboard.figures.style import BASELINE_COLORS, MODE_COLORS, TRUTH_COLOR

    colours = [*MODE_COLORS.values(), *BASELINE_COLORS.values(), TRUTH_COLOR]
    assert len({c.lower() for c in colours}) == len(colours)
