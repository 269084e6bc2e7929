"""Dashboard layers: queries (SQL -> DataFrame), figures (DataFrame -> figure) and every page's
layout and callbacks as plain functions, on hand-made stores (with and without intervals)."""

import json
import sys

import numpy as np
import plotly
import pytest

from dashboard import figures, queries
from store import db, recommend

from .handmade_store import LOCAL, build

DEVICE = (LOCAL, "litert", 1)


@pytest.fixture(scope="module")
def hand_store(tmp_path_factory):
    return build(tmp_path_factory.mktemp("hand") / "nilm.duckdb")


@pytest.fixture(scope="module")
def old_store(tmp_path_factory):
    return build(tmp_path_factory.mktemp("old") / "nilm.duckdb", intervals=False, baselines=False)


def test_pareto_front_keeps_only_undominated_points():
    x = np.array([1, 2, 3, 4, 5.0])
    y = np.array([0.5, 0.4, 0.7, 0.6, 0.9])
    assert figures.pareto_front(x, y, higher_is_better=True).tolist() == [0, 2, 4]
    assert figures.pareto_front(x, y, higher_is_better=False).tolist() == [0, 1]
    assert figures.pareto_front(np.array([1.0, np.nan]), np.array([1.0, 2.0]), True).tolist() == [0]


def test_tradeoff_has_a_panel_per_appliance_with_intervals_baselines_and_fronts(hand_store):
    df = queries.tradeoff(hand_store, device=DEVICE)
    assert set(df["host"]) == {LOCAL} and "mae_w" in df and "mae" not in df
    baselines = queries.baselines(hand_store)
    fig = figures.tradeoff(df, "f1", "latency_ms", {"latency_ms": 2.5}, None, baselines)
    titles = [a.text for a in fig.layout.annotations]
    assert "kettle" in titles and "fridge" in titles
    assert sum(t.name == "Pareto front" for t in fig.data) == 2  # its own front per panel
    # one trace of every variant per panel (not one per point)
    markers = [t for t in fig.data if t.mode == "markers" and t.customdata is not None]
    assert len(markers) == 2 and all(t.error_y.visible for t in markers)
    assert sum(len(t.x) for t in markers) == len(df)
    assert any(figures.OVER_BUDGET in t.marker.color for t in markers)
    for t in markers:  # each point has its mode's colour (unless over budget) and arch's symbol
        for vid, colour, symbol in zip(
            (c[0] for c in t.customdata), t.marker.color, t.marker.symbol, strict=True
        ):
            assert colour in (figures.variant_color(vid), figures.OVER_BUDGET)
            assert symbol == figures.ARCH_SYMBOLS[vid.split(".")[1]]
    # the key beside the chart (text, not a Plotly legend): each mode's colour, each arch's glyph
    assert fig.layout.showlegend is False
    key = {e["label"]: e for e in figures.tradeoff_key(df, {"latency_ms": 2.5})}
    assert key["w8_a8"]["color"] == figures.variant_color("w8_a8")
    assert key["cnn"]["glyph"] == "●" and "over a budget" in key and "Pareto front" in key
    hover = markers[0].hovertemplate
    assert "appliance" in hover and "arch" in hover and "device" in hover
    custom = markers[0].customdata[0]
    assert "[" in custom[5] and LOCAL in custom[4]  # the interval and the device
    assert any("baseline aggregate_threshold" in a.text for a in fig.layout.annotations)
    assert all(fig.layout[k].type == "log" for k in fig.layout if k.startswith("xaxis"))
    # the x range covers the data's real range (down to 0.5 ms here)
    assert 10 ** fig.layout.xaxis.range[0] <= 0.5
    # a star on the recommended variant
    decided = recommend.classify(
        *queries.recommendation_inputs(hand_store, *DEVICE), recommend.Rule()
    )
    fig = figures.tradeoff(df, "f1", "latency_ms", {}, None, baselines, decided)
    assert any(t.name == "recommended" for t in fig.data)


def test_tradeoff_without_intervals_says_so(old_store):
    df = queries.tradeoff(old_store, device=DEVICE)
    fig = figures.tradeoff(df, "f1", "ram_mb", {})
    custom = [t for t in fig.data if t.customdata is not None][0].customdata[0]
    assert "no interval" in custom[5]


def test_reference_points_are_like_for_like(hand_store):
    assert queries.reference_points(hand_store, "mae_w").empty  # the article has no plain MAE
    ref = queries.reference_points(hand_store, "mae_masked_w")
    assert not ref.empty and ref["conditions"].str.contains("432,000").any()
    # errata are not plotted: kettle cnn w8_a8's published row is the fallback evaluation
    f1 = queries.reference_points(hand_store, "f1")
    kettle_w8a8 = f1[(f1.appliance == "kettle") & (f1.arch == "cnn") & (f1["mode"] == "w8_a8")]
    assert kettle_w8a8.empty
    tr = f1[f1.arch == "transformer"]
    assert not tr["latency_conditions"].str.contains("XNNPACK delegate").any()
    assert tr["latency_conditions"].str.contains("nothing delegated").all()


def test_reference_file_marks_the_errata_and_uses_decimal_mb(hand_store):
    ref = queries.q(hand_store, "SELECT * FROM reference_results")
    noted = ref[ref["note"].notna()]
    key = set(zip(noted.appliance, noted.arch, noted["mode"], noted.metric, strict=True))
    assert ("kettle", "transformer", "convert_only", "f1") in key
    assert ("washing_machine", "transformer", "w8", "f1") in key
    assert ("washing_machine", "transformer", "keras", "nde_masked") in key
    assert ("microwave", "cnn", "convert_only", "epd_article_error_pct") in key
    assert ("kettle", "cnn", "w8_a8", "mae_masked") in key
    disk = ref[(ref.metric == "disk_mb") & (ref.arch == "cnn") & (ref["mode"] == "convert_only")]
    assert disk["value"].iloc[0] == pytest.approx(42.485044) and (disk["unit"] == "MB").all()
    acc = ref[ref["host"].isna() & (ref.metric == "f1")]
    assert acc["conditions"].str.contains("432,000|whole test house").all()


def test_article_comparison_plots_masked_against_masked(hand_store):
    df = queries.article_comparison(hand_store, "mae_masked")
    ours = df[df["our_value"].notna()]
    # the article's protocol only: the contiguous stretch (split test_trace), not the sample
    assert not ours.empty and ours["our_protocol"].str.contains("contiguous stretch").all()
    assert ours["our_windows"].eq(21_600).all()
    fig = figures.article_comparison(df, "mae_masked")
    plotted = sum(len(t.x) for t in fig.data if t.mode == "markers")
    assert plotted == len(ours[ours["note"].isna()])
    assert "article's mae_masked" in fig.layout.xaxis.title.text
    assert queries.article_comparison(hand_store, "mae").empty  # plain MAE: not comparable


def test_each_variants_sample_is_shown_and_sub_sampled_traces_say_so(hand_store):
    app, mods = _pages(hand_store)
    key = f"{LOCAL}|litert|1"
    with app.server.test_request_context():
        table = mods["Tradeoff"].table(key, "f1", "kettle")
        fig, _, _, _ = mods["Tradeoff"].update(
            key, "latency_ms", 0.02, "f1", "latency_ms", "kettle", [], "x86_server", 20, None, None
        )
        options, _ = mods["Traces"].variants("kettle", None)
        _, info, _, _ = mods["Traces"].draw(["kettle.transformer.w8_a8"], None, "kettle")
    rows = {r["variant_id"]: r for r in table.children[1].rowData}
    sub = rows["kettle.transformer.w8_a8"]
    assert (sub["n_windows"], sub["sample_level"], sub["on_windows"]) == (400, "core", 40)
    hover = [c[8] for t in fig.data if t.customdata is not None for c in t.customdata]
    assert "400 windows (core), 40 'on'" in hover and "scored on" in fig.data[0].hovertemplate
    labels = {o["value"]: o["label"] for o in options}
    assert "sub-sample: 2,700 of 21,600 windows" in labels["kettle.transformer.w8_a8"]
    assert labels["kettle.cnn.w8"] == "kettle.cnn.w8"
    assert "2,700 of 21,600 windows" in _json(info)


def test_article_page_without_the_trace_split_says_why(tmp_path):
    store = build(tmp_path / "nilm.duckdb")
    with db.write_store(store) as con:
        con.execute("DELETE FROM metrics WHERE split = 'test_trace'")
    app, mods = _pages(store)
    with app.server.test_request_context():
        fig, table = mods["Article"].update("f1")
    assert "No variant has metrics on split test_trace" in _json(table)
    assert "pipeline evaluate" in fig.layout.annotations[0].text


def test_leaderboard_puts_baselines_beside_the_models(hand_store, old_store):
    board = queries.leaderboard(hand_store, DEVICE)
    assert {"model", "baseline"} == set(board["kind"])
    assert board[board.kind == "baseline"]["latency_ms"].isna().all()
    assert set(board[board.kind == "model"]["host"]) == {LOCAL}
    assert not queries.leaderboard(old_store, DEVICE).empty


def test_variant_queries_downloads_and_kernels(hand_store):
    vid = "kettle.cnn.w8_a8"
    v = queries.variant(hand_store, vid)
    assert v["mode"] == "w8_a8" and v["keras_path"].endswith(".keras")
    m = queries.metrics_vs_float(hand_store, vid).set_index("metric")
    assert m.loc["f1", "delta"] == pytest.approx(-0.08) and m.loc["f1", "delta_lo"] < 0
    assert m.loc["mae", "delta_lo"] != m.loc["mae", "delta_lo"]  # no stored paired interval: NaN
    path, sha = queries.download_path(hand_store, vid, "tflite")
    import hashlib

    assert hashlib.sha256(path.read_bytes()).hexdigest() == sha == v["sha256"]
    assert queries.download_path(hand_store, vid, "keras")[0].suffix == ".keras"
    assert queries.download_path(hand_store, "kettle.baseline.always_off", "tflite") is None
    assert queries.download_path(hand_store, vid, "parquet") is None
    k = queries.kernels(hand_store, vid)
    assert k["evaluation"]["runtime"] == "litert" and k["ops"]["xnnpack_ops"] == 3
    assert queries.suspect_threshold(hand_store) == 0.5  # from runs.config, not a literal


def test_download_refuses_paths_outside_the_artifacts(hand_store, tmp_path):
    import shutil

    import duckdb

    store = tmp_path / "evil.duckdb"
    shutil.copyfile(hand_store, store)
    shutil.copytree(db.artifacts_dir(hand_store), db.artifacts_dir(store))
    con = duckdb.connect(str(store))
    con.execute(
        "UPDATE variants SET file_path = '../../../etc/passwd' WHERE variant_id = 'kettle.cnn.w8'"
    )
    con.close()
    assert queries.download_path(store, "kettle.cnn.w8", "tflite") is None


def test_mode_deltas_carry_paired_intervals(hand_store, old_store):
    d = queries.mode_deltas(hand_store)
    f1 = d[d.metric == "f1"].set_index("variant_id")
    assert bool(f1.loc["kettle.transformer.w8", "distinguishable"]) is False  # -0.01 +- 0.02
    fig = figures.mode_deltas(d, "f1")
    assert any("not distinguishable from float" in t for tr in fig.data for t in tr.text)
    old = queries.mode_deltas(old_store)
    assert old["ci_low"].isna().all() and figures.mode_deltas(old, "f1").data


def test_layer_error_threshold_comes_from_the_argument(hand_store):
    stats = queries.layer_stats(hand_store, "kettle.cnn.w8_a8")
    fig = figures.layer_error(stats, 0.5)
    assert any("0.5" in (a.text or "") for a in fig.layout.annotations)
    assert not any(
        "suspect" in (a.text or "") for a in figures.layer_error(stats).layout.annotations
    )


def _pages(store):
    import dash

    from dashboard.app import create_app

    app = create_app(store)
    mods = {p["name"]: sys.modules[p["module"]] for p in dash.page_registry.values()}
    return app, mods


def _json(x):
    return json.dumps(x, cls=plotly.utils.PlotlyJSONEncoder)


@pytest.mark.parametrize("which", ["hand_store", "old_store"])
def test_every_page_renders_and_its_callbacks_run(which, request):
    store = request.getfixturevalue(which)
    app, mods = _pages(store)
    key = f"{LOCAL}|litert|1"
    with app.server.test_request_context():
        for name, m in mods.items():
            if name != "SQL":
                assert "Traceback" not in _json(m.layout())
        line, rule, rec, board = mods["Overview"].update(
            key, "latency_ms", 0.02, 100, 200, 50, "x86_server"
        )
        text = _json([line, rule, rec])
        assert "kettle." in text and "lowest-latency" in text and LOCAL in text
        # one answer per appliance: the group within the margin, its host, its sample size;
        # a store without intervals cannot show that any variant is within the margin
        if which == "hand_store":
            assert "ship kettle.transformer.convert_only" in text and "margin 0.02 F1" in text
            assert f"measured on {LOCAL} (x86_64)" in text and "n=5,000" in text
            # a Pi-class preset on the x86 host: its latency is never labelled as the Pi's
            pi = _json(mods["Overview"].update(key, "latency_ms", 0.02, 100, 200, 50, "cortex_a"))
            assert "not measured on a Raspberry Pi 4 / Cortex-A class device" in pi
        else:
            assert "kettle: nothing recommended" in text
        fig, line, _, chart_key = mods["Tradeoff"].update(
            key,
            "latency_ms",
            0.02,
            "mae_masked_w",
            "disk_mb",
            "",
            ["ref"],
            "x86_server",
            100,
            None,
            None,
        )
        assert fig.data and LOCAL in _json(line) and "mode" in _json(chart_key)
        assert "kettle.cnn.w8_a8" in _json(mods["Variant"].show("kettle.cnn.w8_a8"))
        for tab in mods["Variant"].TABS:  # every tab of the inspection draws
            assert "Traceback" not in _json(mods["Variant"].show_tab("kettle.cnn.w8_a8", tab))
        # no tab chosen yet (below the fold): nothing drawn until it is scrolled into view
        assert "Drawn when scrolled into view" in _json(mods["Variant"].show_tab("x.cnn.w8", ""))
        body, _ = mods["Compare"].show(["kettle.cnn.w8", "kettle.transformer.w8"], key)
        assert "float reference" in _json(body)
        fig, table = mods["Article"].update("f1")
        assert "erratum" in _json(table)
        fig, info, energy, _ = mods["Traces"].draw(["kettle.cnn.w8"], None, "kettle")
        assert "points drawn" in _json(info) and "Wh" in _json(energy)
        assert mods["Traces"].energy(["kettle.cnn.w8"], "kettle")[0].data
        assert mods["Quantization"].deltas("f1").data


def test_http_download_route_serves_only_store_files(hand_store):
    app, _ = _pages(hand_store)
    client = app.server.test_client()
    r = client.get("/download/tflite/kettle.cnn.w8")
    assert r.status_code == 200 and r.headers["X-Content-SHA256"]
    assert "attachment" in r.headers["Content-Disposition"]
    assert client.get("/download/tflite/..%2F..%2Fetc%2Fpasswd").status_code == 404
    assert client.get("/download/keras/nope").status_code == 404


@pytest.mark.parametrize(
    "sql, message",
    [
        ("DELETE FROM variants", "only read queries"),
        ("SELECT 1; SELECT 2", "one statement"),
        ("", "empty"),
    ],
)
def test_user_sql_is_read_only(hand_store, sql, message):
    with pytest.raises(queries.UserQueryError, match=message):
        queries.run_user_sql(hand_store, sql)


def test_missing_store_is_a_store_error(tmp_path):
    with pytest.raises(db.StoreError, match="no store here yet"):
        queries.store_facts(tmp_path / "none.duckdb")


def test_variant_page_shows_each_test_house_when_there_are_several(hand_store):
    houses = queries.per_house(hand_store, "kettle.cnn.keras")
    assert houses["house"].tolist() == ["2", "5"]
    assert houses.loc[0, "f1"] > houses.loc[1, "f1"] > houses.loc[1, "f1_lo"]
    assert queries.per_house(hand_store, "kettle.cnn.w8").empty  # one test house: no section
    app, mods = _pages(hand_store)
    with app.server.test_request_context():
        with_houses = _json(mods["Variant"].show("kettle.cnn.keras"))
        without = _json(mods["Variant"].show("kettle.cnn.w8"))
    assert "var-houses" in with_houses and "var-houses" not in without
    # the pooled figures are untouched by the per-house rows
    from dashboard.queries.common import q  # the dashboard's own reads (one instance a version)

    wide = q(hand_store, "SELECT split, f1 FROM metrics_wide WHERE variant_id = 'kettle.cnn.keras'")
    assert sorted(wide["split"]) == ["test", "test@house2", "test@house5"]
    assert wide.set_index("split").loc["test", "f1"] == pytest.approx(0.81)


def test_power_and_energy_are_flagged_wherever_accuracy_is_a_verdict(hand_store):
    """A model whose MAE or energy-per-day error is worse than a baseline's is flagged on the
    Overview's leaderboard, Tradeoff (chart ring, hover, table), Variant and Compare, whatever
    its F1: kettle.cnn.w8_a8 (F1 0.73) has an energy error of 6 %, the mean-power baseline 4 %."""
    app, mods = _pages(hand_store)
    key = f"{LOCAL}|litert|1"
    flagged, clean = "kettle.cnn.w8_a8", "kettle.cnn.w8"
    with app.server.test_request_context():
        _, _, _, board = mods["Overview"].update(key, "latency_ms", 0.02, None, None, None, "")
        table = mods["Tradeoff"].table(key, "f1", "kettle")
        fig, *_ = mods["Tradeoff"].update(
            key, "latency_ms", 0.02, "f1", "latency_ms", "kettle", [], "", None, None, None
        )
        variant = _json(mods["Variant"].show(flagged))
        variant_clean = _json(mods["Variant"].show(clean))
        compare, _ = mods["Compare"].show([flagged, clean], key)

    def flags(rows):
        return {r["variant_id"]: r["power_flag"] for r in rows}

    board_flags = flags(board.children[1].rowData)
    assert "energy/day error 6 % worse than kettle.baseline.mean_power" in board_flags[flagged]
    assert board_flags[clean] == "" and board_flags["kettle.baseline.mean_power"] == ""
    header = {c["field"]: c["headerName"] for c in board.children[1].columnDefs}
    assert header["power_flag"] == "MAE or energy worse than a baseline"
    # Tradeoff: the table, the hover and a ring around the point
    assert flags(table.children[1].rowData)[flagged] == board_flags[flagged]
    points = [t for t in fig.data if t.customdata is not None][0]
    hover = {c[0]: c[9] for c in points.customdata}
    assert "worse than kettle.baseline.mean_power" in hover[flagged] and hover[clean] == ""
    ring = [t for t in fig.data if t.name == "MAE or energy worse than a baseline"]
    assert ring and float(ring[0].x[0]) in [float(x) for x in points.x]
    # Variant: said above its metrics; not for a model that beats the baselines
    assert "var-power-flag" in variant and "worse than a baseline, whatever its F1" in variant
    assert "var-power-flag" not in variant_clean
    # Compare: a column of the table
    grid = next(c for c in compare.children if getattr(c, "id", None) == "compare-grid")
    assert flags(grid.children[1].rowData)[flagged] == board_flags[flagged]


def test_a_wrapped_header_is_fitted_to_its_longest_word():
    from dashboard.grids import CHAR_PX, HEADER_PAD_PX, MIN_PX, fitted, number_col

    rows = [{"x": 0.25}]
    flat, wrapped = fitted(
        [
            number_col("x", "output RMSE, it in float", 4),
            number_col("x", "output RMSE, it in float", 4, wrapHeaderText=True),
        ],
        rows,
    )
    assert flat["width"] == round(len("output RMSE, it in float") * CHAR_PX + HEADER_PAD_PX)
    assert wrapped["width"] == round(max(MIN_PX, len("output") * CHAR_PX + HEADER_PAD_PX))
    assert "_shown" not in wrapped and wrapped["wrapHeaderText"] is True


def test_the_quantization_causes_table_shows_its_answer_in_a_1400_px_window(hand_store):
    """The tensor ranked first and what keeping it in float recovers come first and fit the
    page's ~1,350 px at 1400 px wide, with long names and the widest numbers."""
    from dashboard.grids import fitted

    columns = _pages(hand_store)[1]["Quantization"].CAUSE_COLUMNS
    row = {c["field"]: 0.012345 for c in columns}
    row.update(
        appliance="washing_machine",
        arch="transformer",
        op_name="RSQRT",
        tensor_name="transformer_1/relative_norm/Mean;transformer_1/relative_norm/sub",
        range=94123.5,
        range_blowup=True,
        protected_tensors=3,
    )
    widths = {c["field"]: c["width"] for c in fitted(columns, [row])}
    fields = list(widths)
    answer = fields[: fields.index("scale") + 1]
    assert answer[:4] == ["appliance", "arch", "tensor_name", "recovered_share"]
    assert {"output_rmse_quant", "output_rmse_kept_float", "flip_share_quant"} <= set(answer)
    assert sum(widths[f] for f in answer) <= 1350, widths
