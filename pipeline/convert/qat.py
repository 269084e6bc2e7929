"""Quantization-aware fine-tuning: the trained float model, briefly trained on with fake-quant.

Post-training quantization rounds every activation to an int8 grid the model never saw. Here a
copy of the trained model's graph gets a fake-quant op (round to 256 levels between fixed
bounds, straight-through gradient) after every layer, its bounds the layer's min and max on the
calibration windows, and is trained on for a few steps at a low learning rate on the training
split (the training mix: 'on' windows and, where set, look-alike 'off' ones). The fake-quant
copy shares its layers with the model, so the model's weights are the fine-tuned ones; it is
then exported and quantized with the calibration windows as `w8_a8` is. The file is the
`qat_w8_a8` variant; the float Keras model stays what it is judged against.

Only layer outputs get fake-quant (inside the custom attention and normalisation layers the
activations are not simulated), so this is an approximation of the int8 graph, not a copy.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# layers whose output is its input's reshaped or (at inference) unchanged: nothing to simulate
_PASS_THROUGH = ("Dropout", "Reshape", "InputLayer")


@dataclass(frozen=True)
class QatPlan:
    """What the fine-tune does: steps of `batch` windows at a constant `lr`."""

    steps: int
    batch: int
    lr: float
    seed: int

    def record(self) -> dict:
        return {
            "steps": self.steps,
            "batch": self.batch,
            "learning_rate": self.lr,
            "fake_quant": "8-bit, after every layer, bounds = min/max on the calibration windows",
            "data": "training split, the training mix",
        }


def layer_ranges(model, calibration: np.ndarray) -> dict[str, tuple[float, float]]:
    """Each layer's output range on the calibration windows, widened to include 0 (as TFLite's
    asymmetric int8 grid always holds 0 exactly)."""
    import keras

    names = [lyr.name for lyr in model.layers if type(lyr).__name__ not in _PASS_THROUGH]
    probe = keras.Model(model.input, [model.get_layer(n).output for n in names])
    outs = probe.predict(calibration, batch_size=32, verbose=0)
    outs = outs if isinstance(outs, list) else [outs]
    return {
        n: (min(0.0, float(np.min(v))), max(0.0, float(np.max(v))))
        for n, v in zip(names, outs, strict=True)
    }


def fake_quant_copy(model, ranges: dict[str, tuple[float, float]]):
    """The model's graph with an 8-bit fake-quant after every layer in `ranges`; the layers
    (and so the weights) are the model's own."""
    import keras

    def call(layer, *args, **kwargs):
        out = layer(*args, **kwargs)
        if layer.name not in ranges:
            return out
        lo, hi = ranges[layer.name]
        return FakeQuant(lo, hi, name=f"{layer.name}_fake_quant")(out)

    return keras.models.clone_model(model, clone_function=lambda lyr: lyr, call_function=call)


def _fake_quant_layer():
    import keras
    import tensorflow as tf

    class _FakeQuant(keras.layers.Layer):
        """Round to 256 levels between fixed bounds; the gradient passes straight through
        inside them (tf.quantization.fake_quant_with_min_max_args)."""

        def __init__(self, lo: float, hi: float, **kw):
            super().__init__(**kw)
            self.lo, self.hi = float(lo), float(hi)

        def call(self, x):
            if self.hi <= self.lo:
                return x
            return tf.quantization.fake_quant_with_min_max_args(
                x, min=self.lo, max=self.hi, num_bits=8
            )

    return _FakeQuant


def FakeQuant(lo: float, hi: float, name: str):  # noqa: N802 - a layer factory
    return _fake_quant_layer()(lo, hi, name=name)


def fine_tune(model, windows, loss, calibration: np.ndarray, plan: QatPlan, mix: dict) -> dict:
    """Train the model's fake-quant copy for `plan.steps` steps; the model's weights change.
    `windows` is the training split (pipeline.data.windows.Windows), `mix` the training mix
    (on_fraction, hard, hard_fraction). Returns what was done, for the variant's settings."""
    import keras

    keras.utils.set_random_seed(plan.seed)
    ranges = layer_ranges(model, calibration)
    copy = fake_quant_copy(model, ranges)
    rng = np.random.default_rng(plan.seed)
    starts = windows.sample_with_on_share(plan.steps * plan.batch, rng=rng, **mix)
    rng.shuffle(starts)
    x = windows.inputs(starts)
    y, status = windows.targets(starts)
    copy.compile(optimizer=keras.optimizers.Adam(plan.lr, clipnorm=1.0), loss=loss)
    t0 = time.perf_counter()
    hist = copy.fit(
        x, np.stack([y, status], axis=1), batch_size=plan.batch, epochs=1, shuffle=False, verbose=0
    )
    return plan.record() | {
        "windows": len(starts),
        "layers_simulated": len(ranges),
        "final_loss": float(hist.history["loss"][-1]),
        "seconds": round(time.perf_counter() - t0, 1),
    }


def load_for_fine_tune(model_path: Path, seed: int):
    """The trained model, loaded with the fine-tune's seed set first: its dropout layers draw
    their seeds when they are built, so a model loaded unseeded dropped different units in every
    process and the qat files differed from run to run (the kettle transformer's qat_w8_a8 F1
    0.83 in one run, 0.95 in the next, from the same model)."""
    import keras

    from pipeline.train.models import load_keras_model

    keras.utils.set_random_seed(seed)
    return load_keras_model(model_path)


def fine_tuned_saved_model(model_path: Path, out_dir: Path, windows, loss, calibration, plan, mix):
    """Load the trained model afresh, fine-tune it with fake-quant, export a SavedModel of it.
    Returns (SavedModel folder, the record of what was done)."""
    from pipeline.convert.converters import export_saved_model

    model = load_for_fine_tune(model_path, plan.seed)
    record = fine_tune(model, windows, loss, calibration, plan, mix)
    return export_saved_model(model, out_dir), record
