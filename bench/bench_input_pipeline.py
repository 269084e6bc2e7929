"""3. Training input pipeline: windows/s of the tf.data pipeline alone vs the training step.

A ratio above 1 means the input pipeline produces windows faster than the model consumes them
(it is not the bottleneck). Full-size CNN and transformer, batch 256 (transformer 64), on CPU.
"""

from __future__ import annotations

import time

import numpy as np
from _common import save


def windows_per_s(ds, batches: int, batch: int) -> float:
    it = iter(ds)
    next(it)
    t0 = time.perf_counter()
    for _ in range(batches):
        next(it)
    return batches * batch / (time.perf_counter() - t0)


def main() -> None:
    import keras

    from pipeline.data.windows import SplitData, Windows
    from pipeline.train.models import build_model
    from pipeline.train.stage import make_loss

    n = 2_000_000
    rng = np.random.default_rng(0)
    split = SplitData(
        np.arange(n) * 8,
        rng.uniform(0, 3000, n).astype(np.float32),
        rng.uniform(0, 3000, n).astype(np.float32),
        (rng.random(n) > 0.9).astype(np.int8),
        np.zeros(n, np.int32),
        np.full(n, "1", object),
    )
    w = Windows(split, 522, 814, 3100)
    out = {}
    for arch, batch, steps in (("cnn", 256, 20), ("transformer", 64, 6)):
        ds = w.tf_dataset(w.starts, batch, seed=0, train=True)
        pipe = windows_per_s(ds, 200, batch)
        model = build_model(arch)
        model.compile(optimizer=keras.optimizers.Adam(1e-4), loss=make_loss(0.5, 1.0))
        model.fit(ds, steps_per_epoch=2, epochs=1, verbose=0)  # trace
        t0 = time.perf_counter()
        model.fit(ds, steps_per_epoch=steps, epochs=1, verbose=0)
        train = steps * batch / (time.perf_counter() - t0)
        out[arch] = {
            "batch": batch,
            "pipeline_windows_per_s": pipe,
            "train_windows_per_s": train,
            "ratio": pipe / train,
        }
        print(
            f"{arch:12s} input pipeline {pipe:,.0f} windows/s   training step {train:,.0f} windows/s   ratio {pipe / train:.1f}x"
        )
        keras.backend.clear_session()
    save("input_pipeline", {"archs": out, "series_samples": n})


if __name__ == "__main__":
    main()
