"""Real Keras models and real TFLite conversions (small widths where the property does not depend on size)."""

import numpy as np
import pytest

from pipeline.config import WINDOW

tf = pytest.importorskip("tensorflow")

from pipeline.convert import (  # noqa: E402
    MODES,
    export_saved_model,
    float_compute_ops,
    make_converter,
    op_census,
    run_tflite,
    xnnpack_partitions,
)
from pipeline.models import build_model  # noqa: E402
from store.vocab import Mode  # noqa: E402

SHAPE_OPS = {"SHAPE", "STRIDED_SLICE", "PACK", "GATHER", "REDUCE_PROD", "FILL", "WHILE", "IF"}


def test_parameter_counts_match_the_article():
    assert build_model("cnn").count_params() == 10_618_945
    assert build_model("transformer").count_params() == 1_576_961


@pytest.fixture(scope="module")
def calib():
    return np.random.default_rng(0).normal(0, 1, (24, WINDOW)).astype(np.float32)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    out = {}
    for arch in ("cnn", "transformer"):
        model = build_model(arch, 1 / 16)
        out[arch] = (model, export_saved_model(model, tmp_path_factory.mktemp(arch) / "saved"))
    return out


def test_float_transformer_is_static_and_one_xnnpack_partition(saved):
    model, path = saved["transformer"]
    blob = make_converter(path, Mode.CONVERT_ONLY, None).convert()
    ops = {c["op_type"] for c in op_census(blob)}
    assert not ops & SHAPE_OPS, ops & SHAPE_OPS
    assert xnnpack_partitions(blob) == 1
    x = np.random.default_rng(1).normal(0, 1, (4, WINDOW)).astype(np.float32)
    assert np.allclose(run_tflite(blob, x), model.predict(x, verbose=0).reshape(-1), atol=1e-4)


@pytest.mark.parametrize("arch", ["cnn", "transformer"])
def test_full_int8_has_no_float_compute_ops(saved, calib, arch):
    _, path = saved[arch]
    blob = make_converter(path, Mode.W8_A8, calib).convert()
    census = op_census(blob)
    assert float_compute_ops(census) == 0, [c for c in census if "float" in c["outputs"]]
    assert {c["op_type"] for c in census if "float" in c["outputs"]} <= {"DEQUANTIZE"}


def test_transformer_16x8_converts_and_runs(saved, calib):
    _, path = saved["transformer"]
    blob = make_converter(path, Mode.W8_A16, calib).convert()
    census = op_census(blob)
    assert any("int16" in c["outputs"] for c in census)
    out = run_tflite(blob, calib[:3])
    assert np.all(np.isfinite(out))


def test_every_mode_has_recorded_settings():
    assert set(MODES) == set(Mode) - {Mode.KERAS}
    assert MODES[Mode.W8_A8]["supported_ops"] == ["TFLITE_BUILTINS_INT8"]


def test_training_lowers_the_loss_on_a_learnable_series():
    import keras

    from pipeline.train import make_loss, power_mae

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (512, WINDOW)).astype(np.float32)
    target = np.clip(x[:, 299] * 0.3 + 0.3, 0, 1)  # the midpoint carries the answer
    y = np.stack([target, (target > 0.4).astype(np.float32)], axis=1)
    model = build_model("cnn", 1 / 16)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3), loss=make_loss(0.4, 1.0), metrics=[power_mae]
    )
    before = model.evaluate(x, y, verbose=0)[0]
    model.fit(x, y, epochs=8, batch_size=64, verbose=0)
    after = model.evaluate(x, y, verbose=0)[0]
    assert after < 0.7 * before


def test_article_loss_option_has_no_status_gradient():
    from keras import ops

    from pipeline.train import make_loss

    y_true = tf.constant([[0.9, 1.0], [0.0, 0.0]])
    pred = tf.Variable([[0.2], [0.1]])
    for article, expect_zero in ((True, True), (False, False)):
        loss_fn = make_loss(0.5, 0.0, article_bce=article)
        with tf.GradientTape() as tape:
            # isolate the BCE term: subtract the MSE part
            loss = ops.mean(loss_fn(y_true, pred)) - ops.mean((pred - y_true[:, :1]) ** 2)
        g = tape.gradient(loss, pred)
        assert (g is None or float(tf.reduce_sum(tf.abs(g))) == 0.0) == expect_zero


def test_evaluation_interpreter_is_chosen_by_a_rule_not_a_race(saved, calib, tmp_path):
    from pipeline.evaluate import evaluation_runtime

    _, path = saved["transformer"]
    float_file, int8_file = tmp_path / "f.tflite", tmp_path / "q.tflite"
    float_file.write_bytes(make_converter(path, Mode.CONVERT_ONLY, None).convert())
    int8_file.write_bytes(make_converter(path, Mode.W8_A8, calib).convert())
    # whole graph in XNNPACK -> LiteRT; builtin int8 kernels left -> TensorFlow's interpreter
    assert evaluation_runtime(float_file) == ("litert", True)
    assert evaluation_runtime(int8_file) == ("tf_lite", True)
    assert [evaluation_runtime(int8_file) for _ in range(3)] == [("tf_lite", True)] * 3


def test_int8_io_model_runs_with_quantized_input_and_output(saved, calib):
    model, path = saved["cnn"]
    blob = make_converter(path, Mode.W8_A8, calib, int8_io=True).convert()
    from pipeline.convert import interpreter

    it = interpreter(blob)
    assert it.get_input_details()[0]["dtype"] == np.int8
    assert it.get_output_details()[0]["dtype"] == np.int8
    x = calib[:4]
    got = run_tflite(blob, x)
    want = model.predict(x, verbose=0).reshape(-1)
    # dequantized outputs track the float model within a few output quantization steps
    scale = it.get_output_details()[0]["quantization"][0]
    assert np.abs(got - want).max() < 10 * scale + 0.05 * np.abs(want).max()
