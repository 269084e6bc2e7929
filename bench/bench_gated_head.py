"""Does a supervised on/off gate stop a CNN claiming power on other loads in an unseen house?

A seq2point CNN whose output is its power head times the probability of a separate on/off
head (``power x sigmoid(gate)``, the gate trained with a binary cross-entropy on the status,
as in subtask-gated networks), against the plain CNN trained by the same loop: the stored
model's batch, steps, epochs, learning rate, 'on' share, off-power weight and seed (read from
the store), warm-up and cosine decay, the last epoch kept. Both are scored on every
``--stride``-th window of the store's test house with the article's post-processing
(predictions under the on-threshold -> 0 W): F1, precision, recall, MAE against always-off's,
energy-per-day error. Nothing is written to the store; the figures go to bench/results.

    python bench/bench_gated_head.py --store S -a microwave
    python bench/bench_gated_head.py --store S -a washing_machine --stride 10
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from _common import save
from bench_whole_house import predict_windows
from bench_whole_house import scores as whole_house_scores

from pipeline.data.windows import SplitData, Windows
from pipeline.evaluate.predict import postprocess
from pipeline.evaluate.scoring import threshold_status
from pipeline.settings.constants import AGG_MEAN_W, AGG_STD_W, APPLIANCES, MIDPOINT
from pipeline.train.loss import make_loss
from store import db
from store.vocab import Appliance


def build(gated: bool):
    """The project's CNN (``build_cnn``); ``gated``: a second head (Dense 256, Dense 1: the
    gate's logit) on its convolutional features, and the output [power x sigmoid(logit), logit]."""
    import keras
    from keras import layers

    from pipeline.train.models import build_cnn

    plain = build_cnn()
    if not gated:
        return plain
    features = next(lyr for lyr in plain.layers if isinstance(lyr, layers.Flatten)).output
    logit = layers.Dense(1, name="gate")(layers.Dense(256, activation="relu")(features))
    gated_power = layers.Multiply()([plain.output, layers.Activation("sigmoid")(logit)])
    return keras.Model(plain.input, layers.Concatenate()([gated_power, logit]))


def gated_loss(base):
    """The project's loss on the gated power plus the gate's BCE (on its logit) on the status."""
    from keras import ops

    def loss(y_true, y_pred):
        s, logit = y_true[:, 1], y_pred[:, 1]
        bce = ops.maximum(logit, 0) - logit * s + ops.log1p(ops.exp(-ops.abs(logit)))
        return base(y_true, y_pred[:, 0:1]) + bce

    return loss


def scores(truth: np.ndarray, pred: np.ndarray, app: Appliance) -> dict:
    """The whole-house check's scores (the evaluation's definitions), threshold statuses."""
    return whole_house_scores(
        truth, pred, threshold_status(truth, app), threshold_status(pred, app)
    )


def _stored(store: Path, appliance: str) -> tuple[dict, dict]:
    import duckdb

    con = duckdb.connect(str(store), read_only=True)
    try:
        paths = dict(
            con.execute(
                "SELECT split, artifact_path FROM datasets WHERE appliance = ?", [appliance]
            ).fetchall()
        )
        row = con.execute(
            "SELECT train_config FROM models WHERE appliance = ? AND arch = 'cnn'", [appliance]
        ).fetchone()
    finally:
        con.close()
    if row is None or not {"train", "val", "test"} <= set(paths):
        raise SystemExit(f"{store}: no trained {appliance} CNN with its data splits")
    return paths, json.loads(row[0])


def compare(store: Path, appliance: str, stride: int, epochs: int | None = None) -> dict:
    """Train the plain and the gated CNN as the stored one was trained, score both."""
    import keras

    app = Appliance(appliance)
    params = APPLIANCES[app]
    paths, plan = _stored(store, appliance)
    art = db.artifacts_dir(store)
    tr, te = (
        Windows(SplitData.read(art / paths[s]), AGG_MEAN_W, AGG_STD_W, params.max_power_w)
        for s in ("train", "test")
    )
    epochs = epochs or plan["epochs"]
    steps = plan["steps_per_epoch"] * epochs
    warmup = max(1, int(0.1 * steps))
    base = make_loss(
        params.on_threshold_w / params.max_power_w, params.l1_weight, False, plan["off_weight"]
    )
    starts = te.starts[::stride]
    truth = te.split.appliance_w[starts + MIDPOINT].astype(np.float64)
    result = {
        "appliance": appliance,
        "windows": len(starts),
        "stride": stride,
        "epochs": epochs,
        "always_off_mae": float(truth.mean()),
        "train_config": plan,
    }
    for gated in (False, True):
        keras.utils.set_random_seed(plan["seed"])
        model = build(gated)
        lr = keras.optimizers.schedules.CosineDecay(
            0.0, max(1, steps - warmup), warmup_target=plan["peak_lr"], warmup_steps=warmup
        )
        model.compile(
            keras.optimizers.Adam(lr, clipnorm=plan["clipnorm"]),
            loss=gated_loss(base) if gated else base,
        )
        stream = tr.tf_dataset(
            tr.starts, plan["batch"], seed=plan["seed"], on_fraction=plan["on_fraction"], train=True
        )
        t0 = time.perf_counter()
        model.fit(stream, steps_per_epoch=plan["steps_per_epoch"], epochs=epochs, verbose=0)
        seconds = time.perf_counter() - t0
        out, _ = predict_windows(model, te, starts)
        pred = postprocess(out, app, article_threshold=True)
        result["gated" if gated else "plain"] = {
            "train_seconds": seconds,
            **scores(truth, pred, app),
        }
    return result


def report(r: dict) -> None:
    print(
        f"{r['appliance']}: {r['windows']:,} test windows (every {r['stride']}), "
        f"always-off MAE {r['always_off_mae']:.1f} W, off-power weight "
        f"{r['train_config']['off_weight']:g}, {r['epochs']} epochs"
    )
    for name in ("plain", "gated"):
        s = r[name]
        print(
            f"  {name:6s} F1 {s['f1']:.3f}  precision {s['precision']:.2f}  recall "
            f"{s['recall']:.2f}  MAE {s['mae']:.1f} W  energy {s['epd_error_pct']:+.0f} %  "
            f"(trained in {s['train_seconds']:.0f} s)"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--store", type=Path, required=True)
    ap.add_argument("-a", "--appliance", required=True)
    ap.add_argument("--stride", type=int, default=5, help="every Nth test window")
    args = ap.parse_args()
    if not args.store.exists():
        raise SystemExit(f"{args.store}: no such store")
    if args.stride < 1:
        raise SystemExit(f"--stride {args.stride}: must be 1 or more")
    r = compare(args.store, args.appliance, args.stride)
    report(r)
    save(f"gated_head_{args.store.stem}_{args.appliance}", r)


if __name__ == "__main__":
    main()
