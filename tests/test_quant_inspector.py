"""The quantization inspector on a real TFLite conversion of a tiny Keras model with a range
blow-up injected: sqrt(t) written as t * rsqrt(t + 1e-10), calibrated on windows where t is
sometimes exactly zero, so the RSQRT's range is ~1e5 while its useful values are near 1."""

from __future__ import annotations

import json
from collections import Counter
from types import SimpleNamespace

import duckdb
import numpy as np
import pytest

from pipeline.settings.constants import WINDOW
from store import db
from store.vocab import Appliance, Arch, Mode

ON_LEVEL = 0.5


@pytest.fixture(scope="module")
def blowup_model(tmp_path_factory):
    """(SavedModel dir, calibration, debug windows, sensitivity windows, float outputs)."""
    pytest.importorskip("tensorflow")
    from pipeline.core.quiet import quiet_tf

    quiet_tf()
    import keras

    from pipeline.convert.converters import export_saved_model

    keras.utils.set_random_seed(3)
    inp = keras.Input((WINDOW,))
    h = keras.layers.Dense(8, kernel_initializer="glorot_uniform")(inp)
    t = keras.ops.square(h)
    pooled = t * keras.ops.rsqrt(t + 1e-10)  # = |h|: bounded, but rsqrt(1e-10) = 1e5
    out = keras.layers.Dense(1, activation="sigmoid")(pooled)
    model = keras.Model(inp, out)
    rng = np.random.default_rng(0)
    cal = rng.normal(0, 1, (32, WINDOW)).astype(np.float32)
    cal[::8] = 0.0  # a few flat windows: t = 0 exactly, so rsqrt calibrates to 1e5
    debug = rng.normal(0, 1, (8, WINDOW)).astype(np.float32)
    sens = rng.normal(0, 1, (48, WINDOW)).astype(np.float32)
    saved = export_saved_model(model, tmp_path_factory.mktemp("blowup") / "saved")
    ref = model.predict(sens, verbose=0).reshape(-1)
    return saved, cal, debug, sens, ref


@pytest.fixture(scope="module")
def inspected(blowup_model):
    from pipeline.convert.quant_debug import inspect
    from pipeline.convert.quant_sensitivity import rank_tensors

    saved, cal, debug, sens, ref = blowup_model
    found = inspect(saved, cal, debug, threshold=0.7, mode=Mode.W8_A8)
    return found, rank_tensors(found, sens, ref, ON_LEVEL, top_k=3, recover_share=0.9)


def test_the_blowup_is_flagged_and_ranked_first_by_its_effect_on_the_output(inspected):
    found, sens = inspected
    stats = found.stats
    rsqrt = stats[stats["op_name"] == "RSQRT"].iloc[0]
    assert rsqrt["range"] > 1e4 and rsqrt["p99_over_scale"] < 0.1 and rsqrt["zero_share"] > 0.9
    assert rsqrt["range_blowup"] and rsqrt["suspect"] and "range blow-up" in rsqrt["suspect_reason"]
    top = sens.ranking.iloc[0]
    assert top["op_name"] == "RSQRT" and top["range_blowup"] and top["rank"] == 1
    # keeping it (and the ops around it) in float recovers most of the int8 output error
    assert top["recovered_share"] > 0.8, sens.ranking[["op_name", "recovered_share"]]
    assert sens.rmse_protected < 0.2 * sens.rmse_quant
    assert rsqrt["tensor_name"] in sens.protected and top["protected"]


def test_no_quantized_tensor_has_a_null_sqnr_in_the_store(inspected, tmp_path):
    from pipeline.convert.quant_debug import layer_stat_records
    from pipeline.convert.quant_sensitivity import sensitivity_records

    found, sens = inspected
    store = tmp_path / "nilm.duckdb"
    with db.write_store(store) as con:
        db.insert_records(con, "quant_layer_stats", layer_stat_records("m.w8_a8", found.stats))
        db.insert_records(con, "quant_sensitivity", sensitivity_records("m.w8_a8", sens.ranking))
    con = duckdb.connect(str(store), read_only=True)
    try:
        n, nulls, exact = con.execute(
            "SELECT count(*), count(*) FILTER (sqnr_db IS NULL), "
            "count(*) FILTER (isinf(sqnr_db) AND sqnr_db > 0) FROM quant_layer_stats"
        ).fetchone()
        top = con.execute("SELECT op_name FROM quant_sensitivity WHERE rank = 1").fetchone()
    finally:
        con.close()
    assert n == len(found.stats) > 3 and nulls == 0
    assert exact >= 0 and top == ("RSQRT",)


def _job(blowup_model, tmp_path):
    from pipeline.convert.variants import ModelConversion

    saved, cal, debug, sens, ref = blowup_model
    cfg = SimpleNamespace(
        suspect_threshold=0.7,
        sensitivity_top_k=3,
        protect_recovered_share=0.9,
    )
    ctx = SimpleNamespace(cfg=cfg, console=SimpleNamespace(print=lambda *a, **k: None))
    return ModelConversion(
        ctx=ctx,
        model_id="kettle.cnn",
        appliance=Appliance.KETTLE,
        arch=Arch.CNN,
        saved=saved,
        calibration=cal,
        debug=debug,
        cal_info={},
        keras_debug_out=np.zeros(len(debug), np.float32),
        int8_io=False,
        sensitivity_windows=sens,
        keras_sensitivity_out=ref,
    )


def test_selective_and_mixed16_protect_what_the_ranking_chooses(blowup_model, tmp_path):
    from pipeline.convert.modes import MODE_SPECS
    from pipeline.convert.variants import BUILDERS
    from pipeline.core.tflite_runtime import op_census

    job = _job(blowup_model, tmp_path)
    mode = Mode.W8_A8_SELECTIVE
    settings: dict = {}
    _, blob = BUILDERS[MODE_SPECS[mode].build](job, mode, MODE_SPECS[mode], settings)
    sens = job.sensitivity[Mode.W8_A8]
    assert settings["denylisted_nodes"] == sens.protected and sens.protected
    assert sens.ranking.iloc[0]["op_name"] == "RSQRT"
    assert "quant_sensitivity" in settings["protected_by"]["ranking"]
    census = Counter((c["op_type"], c["outputs"]) for c in op_census(blob))
    assert census[("RSQRT", "float32")] == 1 and not census[("RSQRT", "int8")]
    mode = Mode.W8_A8_MIXED16
    settings = {}
    try:
        BUILDERS[MODE_SPECS[mode].build](job, mode, MODE_SPECS[mode], settings)
    except ValueError as exc:  # ai-edge-quantizer may refuse the file; the choice is recorded
        assert "ai-edge-quantizer" in str(exc)
    assert settings["int16_tensors"] == sens.protected


def _ranked_hand_store(tmp_path):
    """A hand-made store whose kettle.cnn.w8_a8 has a stored ranking (RSQRT first)."""
    from .handmade_store import build

    store = build(tmp_path / "nilm.duckdb")
    row = {
        "variant_id": "kettle.cnn.w8_a8", "op_name": "RSQRT", "layer_index": 8,
        "range": 93825.0, "scale": 368.0, "p99_over_scale": 0.01, "zero_share": 1.0,
        "range_blowup": True, "rmse_scale": 0.07, "output_rmse_quant": 0.3,
        "flip_share_quant": 0.4, "flip_share_kept_float": 0.01, "island": "a, b",
    }  # fmt: skip
    rows = [
        row | {"rank": 1, "tensor_name": "l2_pool/Rsqrt", "output_rmse_kept_float": 0.03,
               "recovered_share": 0.9, "protected": True, "why": "protected"},
        row | {"rank": 2, "tensor_name": "attention/MatMul", "op_name": "BATCH_MATMUL",
               "range_blowup": False, "output_rmse_kept_float": 0.29, "recovered_share": 0.03,
               "protected": False, "why": "not needed"},
    ]  # fmt: skip
    with db.write_store(store) as con:
        db.insert_records(con, "quant_sensitivity", rows)
        con.execute("UPDATE quant_layer_stats SET sqnr_db = 'inf'::DOUBLE WHERE layer_index = 0")
    return store


def test_pages_lead_with_what_breaks_the_model(tmp_path):
    import dash
    import plotly

    from dashboard.app import create_app

    app = create_app(_ranked_hand_store(tmp_path))
    pages = {p["name"]: p["module"] for p in dash.page_registry.values()}
    import sys

    quant, variant = sys.modules[pages["Quantization"]], sys.modules[pages["Variant"]]
    with app.server.test_request_context():
        text = json.dumps(quant.layout(), cls=plotly.utils.PlotlyJSONEncoder)
        assert "What breaks each quantized model" in text and "l2_pool/Rsqrt" in text
        body = json.dumps(variant.show("kettle.cnn.w8_a8"), cls=plotly.utils.PlotlyJSONEncoder)
        # a file of the same model without its own ranking shows the one of its w8_a8 file
        other = json.dumps(variant.show("kettle.cnn.w8"), cls=plotly.utils.PlotlyJSONEncoder)
        # the per-tensor errors are a tab of the page, drawn on demand
        errors = json.dumps(
            variant.tab_section("kettle.cnn.w8_a8", "qerr"), cls=plotly.utils.PlotlyJSONEncoder
        )
    assert "Ranked on kettle.cnn.w8_a8" in other
    assert "What breaks kettle.cnn.w8_a8: RSQRT l2_pool/Rsqrt (a range blow-up)" in body
    assert "90% recovered" in body and "exact" in errors


def test_heatmap_is_a_log_scale_centred_on_the_threshold_with_missing_ops_blank():
    import pandas as pd

    from dashboard.figures.quant_cause import layer_error_panels

    summary = pd.DataFrame(
        {
            "appliance": ["kettle", "kettle", "fridge"],
            "arch": ["cnn", "transformer", "transformer"],
            "mode": ["w8_a8"] * 3,
            "op_name": ["CONV_2D", "RSQRT", "RSQRT"],
            "mean_rmse_scale": [0.29, 7.0, 0.0],
        }
    )
    fig = layer_error_panels(summary, 0.5)
    assert len(fig.data) == 2  # a panel per appliance
    assert fig.layout.coloraxis.cmid == pytest.approx(np.log10(0.5))
    kettle = next(t for t in fig.data if "kettle" in t.hovertemplate)
    z = np.array(kettle.z, dtype=float)
    assert np.isnan(z).sum() == 2  # the CNN has no RSQRT, the transformer no CONV_2D
