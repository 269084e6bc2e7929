"""Training stage: one seq2point model per appliance and architecture, recorded in the store."""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from pathlib import Path

import numpy as np

from pipeline import artifacts
from pipeline.config import (
    AGG_MEAN_W,
    AGG_STD_W,
    APPLIANCES,
    WINDOW,
    lr_for_batch,
    stable_hash,
)
from pipeline.context import RunContext, utcnow
from pipeline.data import load_split, split_record
from pipeline.windows import Windows
from store import db
from store.vocab import Appliance, Arch, Split

SOFT_BCE_TEMPERATURE = 0.05  # in normalised power units (fraction of P_m)
MODEL_CODE_VERSION = "m3"  # bump when an architecture changes so cached models are retrained
TRAIN_CODE_VERSION = "t3"  # bump when the training loop changes what a model learns


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


class BudgetCallback:
    """Learning rate per batch from the schedule, and the wall-clock budget.

    Progress is the larger of steps done / steps planned and seconds spent / seconds allowed, so
    a warm-up + cosine schedule ends on time whichever budget binds. Training stops at the end
    of the first epoch past the time budget (the best-validation checkpoint is what is kept).
    """

    def __new__(cls, *args, **kwargs):
        import keras

        class _CB(keras.callbacks.Callback):
            def __init__(self, schedule, peak_lr, warmup, total_steps, seconds):
                super().__init__()
                self.schedule, self.peak_lr, self.warmup = schedule, peak_lr, warmup
                self.total_steps, self.seconds = total_steps, seconds
                self.steps, self.timed_out = 0, False

            def on_train_begin(self, logs=None):
                self.t0 = time.perf_counter()

            def progress(self) -> float:
                p = self.steps / max(1, self.total_steps)
                if self.seconds:
                    p = max(p, (time.perf_counter() - self.t0) / self.seconds)
                return min(p, 1.0)

            def on_train_batch_begin(self, batch, logs=None):
                if self.schedule == "constant":
                    return
                self.model.optimizer.learning_rate.assign(
                    scheduled_lr(self.progress(), self.peak_lr, self.warmup)
                )

            def on_train_batch_end(self, batch, logs=None):
                self.steps += 1

            def on_epoch_end(self, epoch, logs=None):
                if self.seconds and time.perf_counter() - self.t0 >= self.seconds:
                    self.timed_out = True
                    self.model.stop_training = True

        return _CB(*args, **kwargs)


def scheduled_lr(progress: float, peak: float, warmup: float) -> float:
    """Linear warm-up to ``peak`` over the first ``warmup`` of training, then cosine to 2 % of it."""
    if warmup > 0 and progress < warmup:
        return peak * max(progress / warmup, 0.02)
    t = (progress - warmup) / max(1e-9, 1 - warmup)
    return peak * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(t, 1.0))))


def _plan(cfg, arch: Arch, n_available: int) -> dict:
    """Steps, epochs and learning rate of one model's training, as recorded with it."""
    n_train = min(cfg.train_windows[arch] or n_available, n_available)
    batch = cfg.batch[arch]
    steps = max(1, math.ceil(n_train / batch))
    peak = cfg.peak_lr[arch] or lr_for_batch(batch)
    schedule = (
        "constant"
        if cfg.schedule == "constant"
        else f"warmup_cosine(peak={peak:g}, warmup={cfg.warmup_fraction:g})"
    )
    return {
        "batch": batch,
        "clipnorm": cfg.clipnorm,
        "windows_per_epoch": n_train,
        "steps_per_epoch": steps,
        "epochs": cfg.epochs[arch],
        "seconds": cfg.train_seconds[arch],
        "peak_lr": peak,
        "schedule": schedule,
    }


def _compile(model, cfg, params, plan, article_bce: bool) -> None:
    import keras

    model.compile(
        optimizer=keras.optimizers.Adam(
            plan["peak_lr"], beta_1=0.9, beta_2=0.999, epsilon=1e-8, clipnorm=plan["clipnorm"]
        ),
        loss=make_loss(params.on_threshold_w / params.max_power_w, params.l1_weight, article_bce),
        metrics=[power_mae],
    )


def _zero_prediction_loss(va: Windows, val_starts, params, article_bce: bool) -> float:
    """Validation loss of predicting 0 W everywhere: a model not below it learned nothing."""
    y, s = va.targets(np.sort(val_starts))
    loss = make_loss(params.on_threshold_w / params.max_power_w, params.l1_weight, article_bce)
    y_true = np.stack([y, s], axis=1).astype(np.float32)
    return float(np.mean(np.asarray(loss(y_true, np.zeros((len(y), 1), np.float32)))))


def train_one(
    ctx: RunContext,
    appliance: Appliance,
    arch: Arch,
    train_split,
    val_split,
    seed: int,
    train_key: str = "default",
):
    """Train and save one model; returns (model record dict, history rows)."""
    import keras

    from pipeline.models import build_model

    cfg = ctx.cfg
    params = APPLIANCES[appliance]
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    tr = Windows(train_split, AGG_MEAN_W, AGG_STD_W, params.max_power_w)
    va = Windows(val_split, AGG_MEAN_W, AGG_STD_W, params.max_power_w)
    plan = _plan(cfg, arch, len(tr))
    val_starts = va.sample_with_on_share(cfg.val_windows, cfg.on_fraction, rng)
    strategy_name = ctx.options.get("strategy", "default")
    strategy = get_strategy(strategy_name)
    article_bce = bool(ctx.options.get("article_loss", False))
    model_id = f"{appliance.value}.{arch.value}"
    with strategy.scope():
        model = build_model(arch, cfg.width_scale)
        _compile(model, cfg, params, plan, article_bce)
    train_ds = tr.tf_dataset(
        tr.starts, plan["batch"], seed=seed, on_fraction=cfg.on_fraction, train=True
    )
    val_ds = va.tf_dataset(np.sort(val_starts), plan["batch"])
    # the best model is kept beside the resume state (private to this model and these settings)
    # and renamed to a new content-addressed name under models/ when training ends: a published
    # .keras file is never rewritten, and the new one is visible only through the store row
    key_dir = ctx.path("checkpoints", model_id, train_key, "x").parent
    backup = key_dir / "backup"
    best = key_dir / "best.keras"
    # resume only a run of the same settings: checkpoints of other settings are stale
    for stale in key_dir.parent.iterdir():
        if stale != key_dir:
            shutil.rmtree(stale, ignore_errors=True)
    progress = ProgressCallback(
        f"{appliance.value}/{arch.value}", plan["steps_per_epoch"], plan["epochs"], ctx.console
    )
    budget = BudgetCallback(
        cfg.schedule,
        plan["peak_lr"],
        cfg.warmup_fraction,
        plan["steps_per_epoch"] * plan["epochs"],
        plan["seconds"],
    )
    early = keras.callbacks.EarlyStopping(monitor="val_loss", patience=cfg.patience)
    t0 = time.perf_counter()
    hist = model.fit(
        train_ds,
        epochs=plan["epochs"],
        steps_per_epoch=plan["steps_per_epoch"],
        validation_data=val_ds,
        shuffle=False,  # the stream is already a fresh permutation on every pass
        verbose=0,
        callbacks=[
            keras.callbacks.BackupAndRestore(str(backup)),
            keras.callbacks.ModelCheckpoint(str(best), monitor="val_loss", save_best_only=True),
            early,
            budget,
            progress,
        ],
    )
    seconds = time.perf_counter() - t0
    if not best.exists():  # no epoch produced a finite validation loss
        from pipeline.errors import PipelineError

        raise PipelineError(
            f"{model_id}: no epoch gave a finite validation loss (diverged?); "
            "lower train.peak_lr or set train.clipnorm"
        )
    final, final_sha = artifacts.publish_file(best, ctx.artifacts / "models", model_id, ".keras")
    shutil.rmtree(key_dir.parent, ignore_errors=True)
    history, facts = _history_and_facts(model_id, hist, plan, progress.epoch_seconds)
    facts["stop_reason"] = (
        "time_budget"
        if budget.timed_out
        else "early_stopping"
        if early.stopped_epoch > 0
        else "epochs"
    )
    facts["steps"] = budget.steps
    facts["windows_seen"] = budget.steps * plan["batch"]
    zero_loss = _zero_prediction_loss(va, val_starts, params, article_bce)
    learned_nothing = facts["best_val_loss"] is None or facts["best_val_loss"] >= zero_loss
    facts["under_trained"] = bool(learned_nothing or facts["still_improving"])
    _write_sidecar(final, appliance, arch, params)
    record = {
        "model_id": model_id,
        "appliance": appliance.value,
        "arch": arch.value,
        "profile": cfg.name.value,
        "parameters": int(model.count_params()),
        "train_config": json.dumps(
            {
                **plan,
                "patience": cfg.patience,
                "val_windows": len(val_starts),
                "on_fraction": cfg.on_fraction,
                "seed": seed,
                "width_scale": cfg.width_scale,
                "optimizer": "adam(0.9, 0.999, 1e-8)",
                "zero_prediction_val_loss": zero_loss,
            }
        ),
        "loss_variant": "article_hard_bce" if article_bce else "soft_bce",
        "strategy": strategy_name,
        "replicas": int(strategy.num_replicas_in_sync),
        "train_seconds": seconds,
        "artifact_path": ctx.rel(final),
        "sha256": final_sha,
        "created_at": utcnow(),
        "schedule": plan["schedule"],
        **facts,
    }
    keras.backend.clear_session()
    return record, history


# improvement of the last epoch over the best before it that counts as "still improving"
STILL_IMPROVING = 0.02


def _history_and_facts(model_id: str, hist, plan: dict, epoch_seconds: list) -> tuple[list, dict]:
    """Per-epoch rows for training_history, and the best epoch / still-improving facts."""
    h = hist.history
    losses = h.get("loss", [])
    val_losses = [v for v in h.get("val_loss", []) if v is not None]
    # epochs restored by BackupAndRestore are not in this History: number from the end
    first_epoch = hist.epoch[0] + 1 if hist.epoch else 1
    history = [
        {
            "model_id": model_id,
            "epoch": first_epoch + i,
            "loss": float(losses[i]),
            "val_loss": _at(h.get("val_loss"), i),
            "mae": _at(h.get("power_mae"), i),
            "val_mae": _at(h.get("val_power_mae"), i),
            "seconds": _at(epoch_seconds, i),
        }
        for i in range(len(losses))
    ]
    best_i = int(np.nanargmin(val_losses)) if val_losses else len(losses) - 1
    still = (
        bool(
            len(val_losses) >= 2
            and best_i == len(val_losses) - 1
            and val_losses[-1] < (1 - STILL_IMPROVING) * min(val_losses[:-1])
        )
        or len(val_losses) == 1
    )
    facts = {
        "epochs_run": first_epoch + len(losses) - 1,
        "best_epoch": first_epoch + best_i,
        "best_val_loss": float(np.nanmin(val_losses)) if val_losses else None,
        "still_improving": still,
    }
    return history, facts


def _write_sidecar(final: Path, appliance: Appliance, arch: Arch, params) -> None:
    sidecar = {
        "appliance": appliance.value,
        "arch": arch.value,
        "window": WINDOW,
        "agg_mean_w": AGG_MEAN_W,
        "agg_std_w": AGG_STD_W,
        **dict(params.__dict__.items()),
    }
    # named after its (content-addressed) model, written privately and renamed into place
    target = final.with_suffix(".json")
    text = json.dumps(sidecar, indent=1)
    if target.is_file() and target.read_text() == text:
        return  # the same model was saved before: its sidecar is already there
    tmp = artifacts.temp_path(target.parent, target.stem, ".json")
    try:
        tmp.write_text(text)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


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
            cfg.batch[arch],
            cfg.clipnorm,
            cfg.epochs[arch],
            cfg.patience,
            cfg.train_windows[arch],
            cfg.train_seconds[arch],
            cfg.schedule,
            cfg.peak_lr[arch],
            cfg.warmup_fraction,
            cfg.on_fraction,
            cfg.val_windows,
            cfg.seed,
            bool(ctx.options.get("article_loss", False)),
            MODEL_CODE_VERSION,
            TRAIN_CODE_VERSION,
        ]
    )


def _train_job(store, cfg, options, appliance, arch, key):
    """One model in a worker process (tiny smoke models: TensorFlow overhead, not math, dominates)."""
    from pipeline.convert import quiet_tf

    quiet_tf()
    ctx = RunContext(
        store=Path(store),
        cfg=cfg,
        appliances=[appliance],
        archs=[arch],
        options=options,
    )
    train_split, _ = load_split(ctx, appliance, Split.TRAIN)
    val_split, _ = load_split(ctx, appliance, Split.VAL)
    return train_one(ctx, appliance, arch, train_split, val_split, ctx.cfg.seed, key)


def die_with_parent() -> None:
    """Worker-process initializer: the kernel kills this process when its parent dies, so a
    killed pipeline leaves no worker behind to rewrite artifacts (Linux only; no-op elsewhere)."""
    import ctypes
    import signal

    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() == 1:  # the parent died before prctl took effect
        os._exit(1)


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
            model_ok = artifacts.recorded_files_ok(
                ctx.store, "SELECT artifact_path, sha256 FROM models WHERE model_id = ?", [model_id]
            )
            if ctx.skip_if_current("train", model_id, key, model_ok):
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
            max_workers=ctx.cfg.train_workers,
            mp_context=get_context("spawn"),
            initializer=die_with_parent,
        ) as pool:
            futures = [
                (
                    pool.submit(_train_job, str(ctx.store), ctx.cfg, ctx.options, a, arch, key),
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
        record, history = train_one(
            ctx, appliance, arch, *splits[appliance], ctx.cfg.seed, train_key=key
        )
        done(model_id, key, record, history)


def _write(con, record: dict, history: list) -> None:
    model_id = record["model_id"]
    con.execute("DELETE FROM models WHERE model_id = ?", [model_id])
    con.execute("DELETE FROM training_history WHERE model_id = ?", [model_id])
    db.insert_records(con, "models", [record])
    db.insert_records(con, "training_history", history)
