"""Real Keras models and real TFLite conversions (small widths where the property does not depend on size)."""

import numpy as np
import pytest

from pipeline.settings.constants import WINDOW

tf = pytest.importorskip("tensorflow")

from pipeline.convert.converters import export_saved_model, make_converter  # noqa: E402
from pipeline.convert.modes import MODES  # noqa: E402
from pipeline.core.tflite_runtime import (  # noqa: E402
    float_compute_ops,
    op_census,
    run_tflite,
    xnnpack_partitions,
)
from pipeline.train.models import build_model  # noqa: E402
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

    from pipeline.train.stage import make_loss, power_mae

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

    from pipeline.train.stage import make_loss

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
    from pipeline.evaluate.predict import evaluation_runtime

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
    from pipeline.core.tflite_runtime import interpreter

    it = interpreter(blob)
    assert it.get_input_details()[0]["dtype"] == np.int8
    assert it.get_output_details()[0]["dtype"] == np.int8
    x = calib[:4]
    got = run_tflite(blob, x)
    want = model.predict(x, verbose=0).reshape(-1)
    # dequantized outputs track the float model within a few output quantization steps
    scale = it.get_output_details()[0]["quantization"][0]
    assert np.abs(got - want).max() < 10 * scale + 0.05 * np.abs(want).max()


# -- issue 17: XNNPACK-friendly rewrites of the transformer and the two new int8 modes -------


def _legacy_transformer(scale, monkeypatch):
    """The transformer as it was before the issue-17 rewrites (AVERAGE_POOL_2D in the L2 pool,
    1/sqrt(d_k) applied to the scores); same layers and weights, only the arithmetic differs."""
    import math

    from keras import ops

    import pipeline.train.models as m

    class LegacyL2Pool(m.L2Pool):
        def call(self, x):
            t = ops.average_pool(x * x, 2, 2, padding="valid")
            return t * ops.rsqrt(t + self.epsilon)

    class LegacyAttention(m.StaticSelfAttention):
        def call(self, x):
            length = x.shape[1]
            q, k, v = (self._split(f(x), length) for f in (self.q, self.k, self.v))
            scores = ops.matmul(q, ops.transpose(k, (0, 1, 3, 2))) / math.sqrt(self.key_dim)
            ctx = ops.matmul(ops.softmax(scores, axis=-1), v)
            ctx = ops.reshape(ops.transpose(ctx, (0, 2, 1, 3)), (-1, length, self.key_dim))
            return self.o(ctx)

    with monkeypatch.context() as mp:
        mp.setattr(m, "L2Pool", LegacyL2Pool)
        mp.setattr(m, "StaticSelfAttention", LegacyAttention)
        return m.build_transformer(scale)


@pytest.mark.parametrize("scale", [1 / 16, 1 / 4])
def test_transformer_rewrites_compute_the_previous_function(scale, monkeypatch):
    import keras

    keras.utils.set_random_seed(3)
    new = build_model("transformer", scale)
    old = _legacy_transformer(scale, monkeypatch)
    # same weight layout: every weight maps one to one, by position and shape
    assert [w.shape for w in old.weights] == [w.shape for w in new.weights]
    assert old.count_params() == new.count_params()
    old.set_weights(new.get_weights())
    x = np.random.default_rng(4).normal(0, 1, (6, WINDOW)).astype(np.float32)
    for layer in ("l2_pool", "block0_attention", "block1_ff_norm"):
        f_new = keras.Model(new.input, new.get_layer(layer).output)
        f_old = keras.Model(old.input, old.get_layer(layer).output)
        a, b = f_new.predict(x, verbose=0), f_old.predict(x, verbose=0)
        assert np.abs(a - b).max() <= 1e-4 * max(1.0, np.abs(b).max()), layer
    want, got = old.predict(x, verbose=0), new.predict(x, verbose=0)
    assert np.abs(got - want).max() <= 1e-4 * max(1.0, np.abs(want).max())


def test_full_size_transformer_keeps_its_parameter_count_after_the_rewrites():
    model = build_model("transformer")
    assert model.count_params() == 1_576_961
    ops_used = {type(lyr).__name__ for lyr in model.layers}
    assert "L2Pool" in ops_used and "StaticSelfAttention" in ops_used


def test_rewritten_transformer_has_no_average_pool_and_int8_gelu_softmax_stay_the_only_gaps(
    saved, calib
):
    _, path = saved["transformer"]
    census = op_census(make_converter(path, Mode.W8_A8, calib).convert())
    types = {c["op_type"] for c in census}
    assert "AVERAGE_POOL_2D" not in types  # the pool is an int8 MEAN XNNPACK runs
    assert float_compute_ops(census) == 0  # w8_a8 stays full int8


@pytest.mark.parametrize("arch", ["cnn", "transformer"])
def test_xnnpack_mode_is_one_partition_with_float_islands_only_where_xnnpack_needs_them(
    saved, calib, arch
):
    from pipeline.convert.modes import XNNPACK_FLOAT_ONLY_OPS

    model, path = saved[arch]
    blob = make_converter(path, Mode.W8_A8_XNNPACK, calib).convert()
    assert xnnpack_partitions(blob) == 1
    census = op_census(blob)
    float_ops = {c["op_type"] for c in census if "float" in c["outputs"]}
    assert float_ops <= {*XNNPACK_FLOAT_ONLY_OPS, "ADD", "DEQUANTIZE"}
    # ADDs in float are only the epsilon adds in front of RSQRT
    n_rsqrt = sum(c["op_type"] == "RSQRT" for c in census)
    assert sum(c["op_type"] == "ADD" and "float" in c["outputs"] for c in census) <= n_rsqrt
    assert any(c["op_type"] == "FULLY_CONNECTED" and "int8" in c["outputs"] for c in census)
    x = calib[:8]
    got, want = run_tflite(blob, x), model.predict(x, verbose=0).reshape(-1)
    strict = run_tflite(make_converter(path, Mode.W8_A8, calib).convert(), x)
    assert np.all(np.isfinite(got))
    # more of the graph in float than strict int8, so no less accurate (random weights)
    err, strict_err = np.sqrt(np.mean((got - want) ** 2)), np.sqrt(np.mean((strict - want) ** 2))
    print(arch, "rmse vs keras: xnnpack mode", err, "w8_a8", strict_err)
    assert err <= 1.25 * strict_err + 1e-3


def test_constant_adds_feeding_finds_the_layernorm_epsilon(saved):
    from pipeline.convert.converters import constant_adds_feeding

    _, path = saved["transformer"]
    blob = make_converter(path, Mode.CONVERT_ONLY, None).convert()
    names = constant_adds_feeding(blob, ["RSQRT"])
    # the embedding, 4 block and the relative-position LayerNorms, plus the L2 pool
    assert len(names) == 7, names
    assert constant_adds_feeding(blob, ["SOFTMAX"]) == []


def test_mixed16_mode_puts_the_named_tensors_in_int16(saved, calib):
    pytest.importorskip("ai_edge_quantizer")
    from pipeline.convert.converters import mixed16_model

    model, path = saved["transformer"]
    float_census = op_census(make_converter(path, Mode.CONVERT_ONLY, None).convert())
    from pipeline.core.tflite_runtime import interpreter

    it = interpreter(make_converter(path, Mode.CONVERT_ONLY, None).convert(), xnnpack=False)
    names = {t["index"]: t["name"] for t in it.get_tensor_details()}
    softmax_out = [
        names[o]
        for op in it._get_ops_details()
        if op["op_name"] == "SOFTMAX"
        for o in op["outputs"]
    ]
    assert len(softmax_out) == 2 and float_census
    blob = mixed16_model(path, calib, softmax_out)
    census = op_census(blob)
    assert {c["op_type"] for c in census if "int16" in c["outputs"]} >= {"SOFTMAX"}
    assert any(c["op_type"] == "FULLY_CONNECTED" and "int8" in c["outputs"] for c in census)
    assert float_compute_ops(census) == 0
    out = run_tflite(blob, calib[:3])
    assert np.all(np.isfinite(out))


# -- issue 23: an L2 pool whose RSQRT has a bounded range -------------------------------------


def test_l2_pool_is_a_bounded_root_mean_square():
    """sqrt(t) within 0.5 % where t > 1, and the RSQRT never above 1/sqrt(eps), even where a
    channel is exactly zero (what gave the old pool's RSQRT a range of ~94,000)."""
    from keras import ops

    from pipeline.train.models import L2_POOL_EPSILON, L2Pool

    x = np.random.default_rng(0).normal(0, 2, (2, 40, 8)).astype(np.float32)
    x[0, :2, 0] = 0.0  # a channel silent over one pair of steps
    got = np.asarray(L2Pool(epsilon=L2_POOL_EPSILON)(x))
    t = (x.reshape(2, 20, 2, 8) ** 2).mean(axis=2)
    big = t > 1
    assert np.all(np.abs(got[big] - np.sqrt(t[big])) <= 0.005 * np.sqrt(t[big]))
    assert got[0, 0, 0] == 0.0
    rsqrt = np.asarray(ops.rsqrt(t + L2_POOL_EPSILON))
    assert rsqrt.max() <= 1 / np.sqrt(L2_POOL_EPSILON) + 1e-4


def test_new_transformers_use_the_bounded_pool_and_old_files_keep_theirs(tmp_path):
    import keras

    from pipeline.train.models import L2_POOL_EPSILON, L2Pool, load_keras_model

    model = build_model("transformer", 1 / 16)
    assert model.get_layer("l2_pool").epsilon == L2_POOL_EPSILON
    path = tmp_path / "m.keras"
    model.save(path)
    assert load_keras_model(path).get_layer("l2_pool").epsilon == L2_POOL_EPSILON
    # a layer config written before the setting existed loads with the old epsilon
    cfg = {k: v for k, v in model.get_layer("l2_pool").get_config().items() if k != "epsilon"}
    assert L2Pool.from_config(cfg).epsilon == 1e-10
    assert isinstance(keras.saving.get_registered_object("nilm_edge>L2Pool"), type)


def _rsqrt_output_range(blob: bytes) -> float:
    """The representable range of the L2 pool's int8 RSQRT output (the graph's first RSQRT:
    the pool comes before every LayerNorm)."""
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=blob)
    first = next(op for op in it._get_ops_details() if op["op_name"] == "RSQRT")
    scale = it._get_tensor_details(first["outputs"][0], 0)["quantization"][0]
    return 255 * scale


def test_bounded_pool_keeps_the_int8_rsqrt_range_small(tmp_path):
    """The same weights with the old and the new epsilon, quantized to full int8 on the same
    calibration windows: the old pool's RSQRT range explodes, the new one stays below
    1/sqrt(eps), and the int8 model follows the float one more closely."""
    import keras

    keras.utils.set_random_seed(5)
    new = build_model("transformer", 1 / 16)
    old = keras.models.clone_model(new)
    old.get_layer("l2_pool").epsilon = 1e-10
    old.set_weights(new.get_weights())
    rng = np.random.default_rng(6)
    calib = rng.normal(0, 1, (32, WINDOW)).astype(np.float32)
    calib[:, 100:300] = 0.0  # flat stretches: near-zero channels, as in idle mains
    test = rng.normal(0, 1, (16, WINDOW)).astype(np.float32)
    errors, ranges = {}, {}
    for name, model in (("old", old), ("new", new)):
        saved = export_saved_model(model, tmp_path / name)
        blob = make_converter(saved, Mode.W8_A8, calib).convert()
        ranges[name] = _rsqrt_output_range(blob)
        want = model.predict(test, verbose=0).reshape(-1)
        errors[name] = np.sqrt(np.mean((run_tflite(blob, test) - want) ** 2))
    assert ranges["new"] <= 1 / np.sqrt(1e-2) * 1.05 < ranges["old"] / 10
    assert errors["new"] < errors["old"]
