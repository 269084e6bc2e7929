"""Training stage: one seq2point model per appliance and architecture, recorded in the store."""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from pathlib import Path

import numpy as np

from pipeline.config import (
    AGG_MEAN_W,
    AGG_STD_W,
    APPLIANCES,
    WINDOW,
    file_sha256,
    lr_for_batch,
    stable_hash,
)
from pipeline.context import RunContext, utcnow
from pipeline.data import load_split, split_record
from pipeline.windows import Windows
from store.vocab import Appliance, Arch, Split

SOFT_BCE_TEMPERATURE = 0.05  # in normalised power units (fraction of P_m)
MODEL_CODE_VERSION = "m2"  # bump when an architecture changes so cached models are retrained


def make_loss(threshold_norm: float, l1_weight: float, article_bce: bool = False):
    """The article's loss: MSE + BCE on the on/off status + lambda * L1 on 'on or misclassified'.

    y_true carries [normalised power, status]. The article's BCE uses a hard 0/1 prediction and
    so gives no gradient; by default the status probability is instead a sigmoid of the distance
    to the threshold, which does. Returns per-sample values whose batch mean is the loss.
    """
    from keras import ops

    def seq2point_loss(y_true, y_pred):
        y = y_true[:, 0:1]
        s = y_true[:, 1:2]
        err = y_pred - y
        hard = ops.cast(y_pred >= threshold_norm, "float32")
        if article_bce:
            p = ops.stop_gradient(hard)
        else:
            p = ops.sigmoid((y_pred - threshold_norm) / SOFT_BCE_TEMPERATURE)
        p = ops.clip(p, 1e-7, 1 - 1e-7)
        bce = -(s * ops.log(p) + (1 - s) * ops.log(1 - p))
        mask = ops.cast(ops.logical_or(s > 0.5, ops.not_equal(s, hard)), "float32")
        batch = ops.cast(ops.shape(y_pred)[0], "float32")
        l1 = l1_weight * ops.abs(err) * mask * batch / ops.maximum(ops.sum(mask), 1.0)
        return ops.squeeze(err * err + bce + l1, axis=-1)

    seq2point_loss.__name__ = "article_loss" if article_bce else "soft_bce_loss"
    return seq2point_loss


def power_mae(y_true, y_pred):
    from keras import ops

    return ops.mean(ops.abs(y_pred - y_true[:, 0:1]))


def get_strategy(name: str):
    import tensorflow as tf

    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi-worker":
        if not os.environ.get("TF_CONFIG"):
            from pipeline.errors import PipelineError

            raise PipelineError("--strategy multi-worker needs TF_CONFIG describing the cluster")
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


class ProgressCallback:
    """Rich progress bar per epoch (batch, loss, ETA) and wall time per epoch."""

    def __new__(cls, *args, **kwargs):
        import keras

        class _CB(keras.callbacks.Callback):
            def __init__(self, label, steps, epochs, console):
                super().__init__()
                self.label, self.steps, self.epochs, self.console = label, steps, epochs, console
                self.epoch_seconds: list[float] = []

            def on_train_begin(self, logs=None):
                from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

                self.progress = Progress(
                    TextColumn("[bold]{task.description}"),
                    BarColumn(),
                    TextColumn("{task.completed}/{task.total}"),
                    TextColumn("{task.fields[info]}"),
                    TimeRemainingColumn(),
                    console=self.console,
                    transient=True,
                )
                self.progress.start()

            def on_epoch_begin(self, epoch, logs=None):
                self.t0 = time.perf_counter()
                self.task = self.progress.add_task(
                    f"{self.label} epoch {epoch + 1}/{self.epochs}", total=self.steps, info=""
                )

            def on_train_batch_end(self, batch, logs=None):
                loss = (logs or {}).get("loss")
                self.progress.update(
                    self.task,
                    completed=batch + 1,
                    info=f"loss {loss:.4f}" if loss is not None else "",
                )

            def on_epoch_end(self, epoch, logs=None):
                self.epoch_seconds.append(time.perf_counter() - self.t0)
                self.progress.remove_task(self.task)
                logs = logs or {}
                self.console.print(
                    f"train: {self.label} epoch {epoch + 1}: loss {logs.get('loss', float('nan')):.4f}"
                    f" val_loss {logs.get('val_loss', float('nan')):.4f}"
                    f" ({self.epoch_seconds[-1]:.1f} s)"
                )

            def on_train_end(self, logs=None):
                self.progress.stop()

        return _CB(*args, **kwargs)


def train_one(ctx: RunContext, appliance: Appliance, arch: Arch, train_split, val_split, seed: int):
    """Train and save one model; returns (model path, record dict, history rows)."""
    import keras

    from pipeline.models import build_model

    cfg = ctx.cfg
    params = APPLIANCES[appliance]
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    tr = Windows(train_split, AGG_MEAN_W, AGG_STD_W, params.max_power_w)
    va = Windows(val_split, AGG_MEAN_W, AGG_STD_W, params.max_power_w)
    n_train = cfg.train_windows[arch] or len(tr)
    n_train = min(n_train, len(tr))
    steps = max(1, math.ceil(n_train / cfg.batch))
    val_starts = va.sample(cfg.val_windows, rng)
    strategy_name = ctx.options.get("strategy", "default")
    strategy = get_strategy(strategy_name)
    article_bce = bool(ctx.options.get("article_loss", False))
    model_id = f"{appliance.value}.{arch.value}"
    with strategy.scope():
        model = build_model(arch, cfg.width_scale)
        model.compile(
            optimizer=keras.optimizers.Adam(
                lr_for_batch(cfg.batch), beta_1=0.9, beta_2=0.999, epsilon=1e-8
            ),
            loss=make_loss(
                params.on_threshold_w / params.max_power_w, params.l1_weight, article_bce
            ),
            metrics=[power_mae],
        )
    train_ds = tr.tf_dataset(tr.starts, cfg.batch, shuffle=True, seed=seed).repeat()
    val_ds = va.tf_dataset(np.sort(val_starts), cfg.batch, shuffle=False, seed=seed)
    final = ctx.path("models", f"{model_id}.keras")
    best = ctx.path("models", f".{model_id}.best.keras")
    backup = ctx.path("checkpoints", model_id, "x").parent
    progress = ProgressCallback(
        f"{appliance.value}/{arch.value}", steps, cfg.epochs[arch], ctx.console
    )
    t0 = time.perf_counter()
    hist = model.fit(
        train_ds,
        epochs=cfg.epochs[arch],
        steps_per_epoch=steps,
        validation_data=val_ds,
        verbose=0,
        callbacks=[
            keras.callbacks.BackupAndRestore(str(backup)),
            keras.callbacks.ModelCheckpoint(str(best), monitor="val_loss", save_best_only=True),
            keras.callbacks.EarlyStopping(monitor="val_loss", patience=cfg.patience),
            progress,
        ],
    )
    seconds = time.perf_counter() - t0
    best.replace(final)
    shutil.rmtree(backup, ignore_errors=True)
    h = hist.history
    val_losses = h.get("val_loss", [])
    best_epoch = int(np.nanargmin(val_losses)) + 1 if val_losses else len(h["loss"])
    # epochs restored by BackupAndRestore are not in this History: number from the end
    first_epoch = (
        cfg.epochs[arch] - len(h["loss"]) + 1
        if len(h["loss"]) < cfg.epochs[arch] and hist.epoch and hist.epoch[0] > 0
        else 1
    )
    history = [
        (
            model_id,
            first_epoch + i,
            h["loss"][i],
            _at(val_losses, i),
            _at(h.get("power_mae"), i),
            _at(h.get("val_power_mae"), i),
            _at(progress.epoch_seconds, i),
        )
        for i in range(len(h["loss"]))
    ]
    sidecar = {
        "appliance": appliance.value,
        "arch": arch.value,
        "window": WINDOW,
        "agg_mean_w": AGG_MEAN_W,
        "agg_std_w": AGG_STD_W,
        **{k: v for k, v in params.__dict__.items()},
    }
    final.with_suffix(".json").write_text(json.dumps(sidecar, indent=1))
    record = {
        "model_id": model_id,
        "appliance": appliance.value,
        "arch": arch.value,
        "profile": cfg.name.value,
        "parameters": int(model.count_params()),
        "train_config": json.dumps(
            {
                "batch": cfg.batch,
                "learning_rate": lr_for_batch(cfg.batch),
                "epochs": cfg.epochs[arch],
                "patience": cfg.patience,
                "windows_per_epoch": n_train,
                "val_windows": len(val_starts),
                "seed": seed,
                "width_scale": cfg.width_scale,
                "optimizer": "adam(0.9, 0.999, 1e-8)",
            }
        ),
        "loss_variant": "article_hard_bce" if article_bce else "soft_bce",
        "strategy": strategy_name,
        "replicas": int(strategy.num_replicas_in_sync),
        "epochs_run": first_epoch + len(h["loss"]) - 1,
        "best_epoch": first_epoch + best_epoch - 1,
        "best_val_loss": float(np.nanmin(val_losses)) if val_losses else None,
        "train_seconds": seconds,
        "artifact_path": ctx.rel(final),
        "sha256": file_sha256(final),
        "created_at": utcnow(),
    }
    keras.backend.clear_session()
    return record, history


def _at(seq, i):
    return float(seq[i]) if seq is not None and i < len(seq) else None


def train_key(ctx: RunContext, arch: Arch, train_row: dict, val_row: dict) -> str:
    cfg = ctx.cfg
    return stable_hash(
        [
            train_row["sha256"],
            val_row["sha256"],
            arch.value,
            cfg.width_scale,
            cfg.batch,
            cfg.epochs[arch],
            cfg.patience,
            cfg.train_windows[arch],
            cfg.val_windows,
            cfg.seed,
            bool(ctx.options.get("article_loss", False)),
            MODEL_CODE_VERSION,
        ]
    )


def _train_job(store, profile, options, appliance, arch):
    """One model in a worker process (tiny smoke models: TensorFlow overhead, not math, dominates)."""
    from pipeline.config import profile_config
    from pipeline.convert import quiet_tf

    quiet_tf()
    ctx = RunContext(
        store=Path(store),
        cfg=profile_config(profile),
        appliances=[appliance],
        archs=[arch],
        options=options,
    )
    train_split, _ = load_split(ctx, appliance, Split.TRAIN)
    val_split, _ = load_split(ctx, appliance, Split.VAL)
    return train_one(ctx, appliance, arch, train_split, val_split, ctx.cfg.seed)


def run_train(ctx: RunContext) -> None:
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    from pipeline.convert import quiet_tf

    quiet_tf()
    todo = []
    for appliance in ctx.appliances:
        train_row = split_record(ctx, appliance, Split.TRAIN)
        val_row = split_record(ctx, appliance, Split.VAL)
        for arch in ctx.archs:
            model_id = f"{appliance.value}.{arch.value}"
            key = train_key(ctx, arch, train_row, val_row)
            if ctx.skip_if_current(
                "train", model_id, key, (ctx.artifacts / "models" / f"{model_id}.keras").exists()
            ):
                continue
            todo.append((appliance, arch, model_id, key))

    def done(model_id, key, record, history):
        ctx.commit(
            "train",
            model_id,
            key,
            record["train_seconds"],
            lambda con, r=record, h=history: _write(con, r, h),
        )
        ctx.console.print(
            f"train: {model_id} saved ({record['parameters']:,} parameters, "
            f"best val loss {record['best_val_loss']:.4f} at epoch {record['best_epoch']})"
        )

    if ctx.cfg.train_workers > 1 and len(todo) > 1:
        with ProcessPoolExecutor(
            max_workers=ctx.cfg.train_workers, mp_context=get_context("spawn")
        ) as pool:
            futures = [
                (
                    pool.submit(
                        _train_job, str(ctx.store), ctx.cfg.name.value, ctx.options, a, arch
                    ),
                    mid,
                    key,
                )
                for a, arch, mid, key in todo
            ]
            for fut, model_id, key in futures:
                done(model_id, key, *fut.result())
        return
    splits = {}
    for appliance, arch, model_id, key in todo:
        if appliance not in splits:  # both architectures of an appliance share one read
            splits = {
                appliance: (
                    load_split(ctx, appliance, Split.TRAIN)[0],
                    load_split(ctx, appliance, Split.VAL)[0],
                )
            }
        done(model_id, key, *train_one(ctx, appliance, arch, *splits[appliance], ctx.cfg.seed))


def _write(con, record: dict, history: list) -> None:
    model_id = record["model_id"]
    con.execute("DELETE FROM models WHERE model_id = ?", [model_id])
    con.execute("DELETE FROM training_history WHERE model_id = ?", [model_id])
    con.execute(
        f"INSERT INTO models ({', '.join(record)}) VALUES ({', '.join('?' * len(record))})",
        list(record.values()),
    )
    con.executemany("INSERT INTO training_history VALUES (?,?,?,?,?,?,?)", history)
