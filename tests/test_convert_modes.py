"""The mode registry: every mode has a record, the records set the converter up, and the
settings stored for a variant stay what existing stores hold."""

import json
from types import SimpleNamespace

import pytest

from pipeline.convert.modes import MODE_SPECS, MODES, Build, recorded_settings, spec_of
from pipeline.evaluate.sample import sample_level, trace_level
from store.vocab import Mode

CAL = {"on": 16, "off": 16, "requested": 32, "from": "kettle.train"}
INT8 = ["TFLITE_BUILTINS_INT8"]
# converter_settings as stores written before the registry hold them (suspect lists aside)
STORED = {
    Mode.CONVERT_ONLY: {},
    Mode.F16: {"optimizations": ["DEFAULT"], "supported_types": ["float16"]},
    Mode.W8: {"optimizations": ["DEFAULT"]},
    Mode.W8_A16: {
        "optimizations": ["DEFAULT"],
        "representative_dataset": True,
        "supported_ops": ["EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8"],
        "calibration": CAL,
    },
    Mode.W8_A8: {
        "optimizations": ["DEFAULT"],
        "representative_dataset": True,
        "supported_ops": INT8,
        "calibration": CAL,
    },
    Mode.W8_A8_FALLBACK: {
        "optimizations": ["DEFAULT"],
        "representative_dataset": True,
        "calibration": CAL,
    },
    Mode.W8_A8_MIXED16: {
        "quantizer": "ai-edge-quantizer",
        "recipe": "static_wi8_ai8",
        "representative_dataset": True,
        "int16_tensors": "debugger suspects of w8_a8 (int16 activations, int8 weights)",
        "calibration": CAL,
    },
    Mode.W8_A8_SELECTIVE: {
        "optimizations": ["DEFAULT"],
        "representative_dataset": True,
        "supported_ops": INT8,
        "denylisted_nodes": "debugger suspects of w8_a8",
        "calibration": CAL,
    },
    Mode.W8_A8_XNNPACK: {
        "optimizations": ["DEFAULT"],
        "representative_dataset": True,
        "supported_ops": INT8,
        "float_ops": ["SOFTMAX", "RSQRT", "BATCH_MATMUL", "GELU"],
        "float_nodes": "ADDs of a constant feeding a float op (the LayerNorm/L2-pool epsilon)",
        "calibration": CAL,
    },
}


def test_every_tflite_mode_has_a_record():
    assert set(MODE_SPECS) == set(Mode) - {Mode.KERAS} == set(MODES)
    assert spec_of("keras") is None and spec_of("no_such_mode") is None
    assert spec_of("w8_a8") is MODE_SPECS[Mode.W8_A8]


def test_records_that_need_suspects_name_where_they_are_recorded():
    for mode, spec in MODE_SPECS.items():
        needs = spec.build in (Build.DEBUGGER_DENYLIST, Build.AI_EDGE_QUANTIZER)
        assert (spec.suspects_of is not None) == needs, mode
        if needs:
            assert spec.suspects_setting in spec.settings, mode
            assert MODE_SPECS[spec.suspects_of].build is Build.DEBUGGER, mode


@pytest.mark.parametrize("mode", list(STORED))
def test_recorded_settings_are_the_ones_stores_hold(mode):
    got = recorded_settings(mode, CAL, int8_io=False)
    # the JSON text, key order included, is what the store keeps
    assert json.dumps(got) == json.dumps(STORED[mode])


def test_int8_io_is_recorded_only_where_the_record_says():
    io = {m: recorded_settings(m, CAL, int8_io=True).get("inference_io") for m in MODE_SPECS}
    assert io.pop(Mode.W8_A8) == "int8"
    assert io.pop(Mode.QAT_W8_A8) == "int8"  # converted as w8_a8 is
    assert io.pop(Mode.W8_A8_SELECTIVE) == "float (int8 I/O not available for this mode)"
    assert set(io.values()) == {None}


def test_recorded_settings_leave_the_registry_untouched():
    settings = recorded_settings(Mode.W8_A8_SELECTIVE, CAL, int8_io=True)
    settings["denylisted_nodes"] = ["t"]
    assert MODES[Mode.W8_A8_SELECTIVE]["denylisted_nodes"] == "debugger suspects of w8_a8"
    assert "calibration" not in MODES[Mode.W8_A8_SELECTIVE]


def test_sample_level_and_profile_facts_come_from_the_record():
    costly = {m.value for m, s in MODE_SPECS.items() if s.costly_kernels}
    assert costly == {"w8_a16"}
    assert sample_level("transformer", "w8_a16") == "min"
    assert sample_level("transformer", "keras") == "reference"
    assert sample_level("transformer", "w8_a8") == "core"
    assert sample_level("transformer", "w8_a8_xnnpack") == "reference"  # the file to ship
    assert sample_level("transformer", "qat_w8_a8_xnnpack") == "reference"
    assert sample_level("cnn", "w8_a16") == sample_level("cnn", "keras") == "full"
    # the whole day of trace on the full level, but not for a costly file
    assert trace_level("cnn", "w8_a8") == trace_level("cnn", "keras") == "full"
    assert trace_level("cnn", "w8_a16") == "reference"
    assert trace_level("transformer", "w8_a8") == "core"
    assert {m.value for m, s in MODE_SPECS.items() if s.builtin_kernels} == {"w8", "w8_a16"}


def _fake_converter(monkeypatch):
    tf = pytest.importorskip("tensorflow")

    def from_saved_model(path):
        return SimpleNamespace(target_spec=SimpleNamespace())

    monkeypatch.setattr(tf.lite.TFLiteConverter, "from_saved_model", from_saved_model)
    return tf


def test_make_converter_reads_the_record(monkeypatch, tmp_path):
    from pipeline.convert.converters import FloatIslandConverter, make_converter

    tf = _fake_converter(monkeypatch)
    cal = [[0.0]]
    c = make_converter(tmp_path, Mode.W8_A8, cal, int8_io=True)
    assert c.optimizations == [tf.lite.Optimize.DEFAULT]
    assert c.target_spec.supported_ops == [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    assert c.inference_input_type == tf.int8 == c.inference_output_type
    assert callable(c.representative_dataset)
    c = make_converter(tmp_path, Mode.W8_A8_FALLBACK, cal, int8_io=True)
    assert not hasattr(c, "inference_input_type") and not hasattr(c.target_spec, "supported_ops")
    c = make_converter(tmp_path, Mode.F16, None)
    assert c.target_spec.supported_types == [tf.float16]
    assert not hasattr(c, "representative_dataset")
    c = make_converter(tmp_path, Mode.CONVERT_ONLY, None)
    assert not hasattr(c, "optimizations")
    x = make_converter(tmp_path, Mode.W8_A8_XNNPACK, cal)
    assert isinstance(x, FloatIslandConverter)
    assert x.float_ops == MODES[Mode.W8_A8_XNNPACK]["float_ops"]
    with pytest.raises(ValueError, match="needs calibration"):
        make_converter(tmp_path, Mode.W8_A16, None)
    with pytest.raises(ValueError, match="mixed16_model"):
        make_converter(tmp_path, Mode.W8_A8_MIXED16, cal)


def test_the_full_level_predicts_the_whole_trace_and_the_others_its_start():
    import numpy as np

    from pipeline.evaluate.estimate import stratified_sample
    from pipeline.evaluate.sample import EvalPlan

    starts = np.arange(0, 5000, 10)
    labels = np.ones(len(starts), dtype=int)
    labels[:50] = 0
    sample = stratified_sample(starts, labels, ["on", "idle"], [0.5, 0.5], 100, 1)
    plan = EvalPlan(
        "stratified",
        sample,
        {"full": 100, "reference": 40, "core": 20, "min": 10},
        np.arange(1000, 1300),
    )
    assert len(plan.trace_for("full")) == 300  # more than the sample: the whole stretch
    assert len(plan.trace_for("reference")) == 40 and len(plan.trace_for("min")) == 10
    masks = plan.masks()
    needs = plan.needs({"a": "full", "b": "full"}, masks, {"b": "reference"})
    assert len(needs["a"]) == int(masks["full"].sum()) + 300
    assert len(needs["b"]) == int(masks["full"].sum()) + 40
