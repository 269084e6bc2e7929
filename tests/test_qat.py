"""Quantization-aware fine-tuning (pipeline/convert/qat.py) and its qat_w8_a8 variant."""

import json

import duckdb
import numpy as np
import pytest

from pipeline.settings.constants import WINDOW

pytest.importorskip("tensorflow")

from pipeline.convert.qat import QatPlan, fake_quant_copy, fine_tune, layer_ranges  # noqa: E402
from pipeline.train.loss import appliance_loss  # noqa: E402
from pipeline.train.models import build_model  # noqa: E402


class _Windows:
    """The part of pipeline.data.windows.Windows the fine-tune reads, over random data."""

    def __init__(self, n: int):
        rng = np.random.default_rng(0)
        self.x = rng.normal(0, 1, (n, WINDOW)).astype(np.float32)
        self.y = rng.uniform(0, 1, n).astype(np.float32)

    def sample_with_on_share(self, n, rng, **mix):
        return rng.choice(len(self.x), size=n, replace=False)

    def inputs(self, starts):
        return self.x[starts]

    def targets(self, starts):
        return self.y[starts], (self.y[starts] > 0.5).astype(np.float32)


def test_fake_quant_copy_shares_the_layers_and_rounds_each_output():
    import keras

    keras.utils.set_random_seed(1)
    model = build_model("cnn", 1 / 16)
    calib = np.random.default_rng(2).normal(0, 1, (16, WINDOW)).astype(np.float32)
    ranges = layer_ranges(model, calib)
    assert "power" in ranges and all(lo <= 0 <= hi for lo, hi in ranges.values())
    copy = fake_quant_copy(model, ranges)
    assert {id(w) for w in copy.trainable_weights} == {id(w) for w in model.trainable_weights}
    lo, hi = ranges["power"]
    out = copy.predict(calib, verbose=0).reshape(-1)
    step = (hi - lo) / 255
    # every output sits on one 256-level grid (TensorFlow nudges it so that 0 is on it): the
    # gaps between outputs are whole steps
    gaps = (out - out.min()) / step
    assert np.abs(gaps - np.round(gaps)).max() < 0.02
    # rounding after every layer adds up, but stays small against the output's range
    assert np.abs(out - model.predict(calib, verbose=0).reshape(-1)).max() <= 0.1 * (hi - lo)


def test_fine_tune_changes_the_models_own_weights_and_says_what_it_did():
    import keras

    from pipeline.settings.constants import APPLIANCES
    from store.vocab import Appliance

    keras.utils.set_random_seed(3)
    model = build_model("transformer", 1 / 16)
    before = [w.copy() for w in model.get_weights()]
    windows = _Windows(64)
    plan = QatPlan(steps=3, batch=8, lr=1e-3, seed=4)
    loss = appliance_loss(APPLIANCES[Appliance.KETTLE], False)
    record = fine_tune(model, windows, loss, windows.x[:16], plan, mix={})
    assert record["steps"] == 3 and record["windows"] == 24 and record["layers_simulated"] > 10
    changed = [not np.allclose(a, b) for a, b in zip(before, model.get_weights(), strict=True)]
    assert sum(changed) > len(changed) // 2
    assert not any(type(lyr).__name__ == "_FakeQuant" for lyr in model.layers)


def test_the_fine_tune_gives_the_same_weights_whatever_ran_before(tmp_path):
    """Dropout draws its seeds when the model is loaded: the fine-tune loads it seeded, so two
    processes (or one that did other work first) make the same qat file."""
    import keras

    from pipeline.convert.qat import load_for_fine_tune
    from pipeline.settings.constants import APPLIANCES
    from store.vocab import Appliance

    keras.utils.set_random_seed(3)
    path = tmp_path / "m.keras"
    build_model("transformer", 1 / 16).save(path)
    windows = _Windows(64)
    plan = QatPlan(steps=3, batch=8, lr=1e-3, seed=4)
    loss = appliance_loss(APPLIANCES[Appliance.KETTLE], False)
    weights = []
    for before in (11, 12):
        keras.utils.set_random_seed(before)  # other work drew other random numbers first
        keras.random.uniform((3,))
        model = load_for_fine_tune(path, plan.seed)
        fine_tune(model, windows, loss, windows.x[:16], plan, mix={})
        weights.append(model.get_weights())
    assert all(np.array_equal(a, b) for a, b in zip(*weights, strict=True))


def test_smoke_run_makes_a_qat_file_for_the_transformer_only(smoke_store):
    con = duckdb.connect(str(smoke_store), read_only=True)
    rows = con.execute(
        "SELECT arch, status, converter_settings FROM variants WHERE mode = 'qat_w8_a8'"
    ).fetchall()
    assert [r[0] for r in rows] == ["transformer"]
    arch, status, settings = rows[0]
    assert status == "ok"
    record = json.loads(settings)["quantization_aware_training"]
    assert record["steps"] == 2 and record["seconds"] >= 0
    metrics = con.execute(
        "SELECT count(*) FROM metrics_wide WHERE mode = 'qat_w8_a8' AND split = 'test'"
    ).fetchone()[0]
    assert metrics == 1


def test_settings_that_shape_a_model_or_its_qat_file_are_in_their_cache_keys():
    """train.keep changes the transformer's training key and not the CNN's; train.qat_steps
    changes the conversion key of the architecture it is set for only; the off-power weight
    enters the conversion key of a model with a fine-tune only."""
    from dataclasses import replace

    from pipeline.convert.stage import convert_key
    from pipeline.settings.overrides import apply_overrides
    from pipeline.settings.presets import profile_config
    from pipeline.settings.stages import stage_settings
    from pipeline.train.stage import train_key
    from store.vocab import Arch

    class Ctx:
        def __init__(self, cfg):
            self.cfg = cfg
            self.options = type("O", (), {"article_loss": False})()

    demo = profile_config("demo")
    rows = ({"sha256": "a"}, {"sha256": "b"})
    best = replace(demo, keep_epoch={Arch.CNN: "best", Arch.TRANSFORMER: "best"})
    assert train_key(Ctx(demo), Arch.CNN, *rows, "kettle") == train_key(
        Ctx(best), Arch.CNN, *rows, "kettle"
    )
    assert train_key(Ctx(demo), Arch.TRANSFORMER, *rows, "kettle") != train_key(
        Ctx(best), Arch.TRANSFORMER, *rows, "kettle"
    )
    more = replace(demo, qat_steps={Arch.CNN: 0, Arch.TRANSFORMER: 96})

    def conv(cfg, arch):
        return convert_key(stage_settings("convert", cfg, Ctx(cfg).options, arch), "m", "t")

    assert conv(demo, Arch.CNN) == conv(more, Arch.CNN)
    assert conv(demo, Arch.TRANSFORMER) != conv(more, Arch.TRANSFORMER)
    # the fine-tune's loss carries the off-power weight (an appliance's own one too): it is in
    # the key of a model that gets a fine-tune only
    weighted = apply_overrides(demo, {"appliance.kettle.train.off_weight": 30})
    kettle = weighted.for_appliance("kettle")
    assert conv(demo, Arch.CNN) == conv(kettle, Arch.CNN)
    assert conv(demo, Arch.TRANSFORMER) != conv(kettle, Arch.TRANSFORMER)
    assert conv(demo, Arch.TRANSFORMER) == conv(weighted.for_appliance("fridge"), Arch.TRANSFORMER)
    # the fine-tune's code version is in the key of a model that gets one, not in the others
    import pipeline.convert.stage as convert_stage

    before = conv(demo, Arch.CNN), conv(demo, Arch.TRANSFORMER)
    convert_stage.QAT_CODE_VERSION += "-next"
    try:
        assert conv(demo, Arch.CNN) == before[0] and conv(demo, Arch.TRANSFORMER) != before[1]
    finally:
        convert_stage.QAT_CODE_VERSION = convert_stage.QAT_CODE_VERSION.removesuffix("-next")
