"""One model's training: set up, fit in the budget, keep the best (or last) epoch, say what it learned.

The best model is kept beside the resume state (private to this model and these settings) and
renamed to a new content-addressed name under models/ when training ends: a published .keras
file is never rewritten, and the new one is visible only through the store row.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.core import artifacts
from pipeline.core.context import RunContext, utcnow
from pipeline.data.strata import hard_negatives
from pipeline.data.windows import Windows
from pipeline.settings.constants import (
    AGG_MEAN_W,
    AGG_STD_W,
    APPLIANCES,
    WINDOW,
    ApplianceParams,
    lr_for_batch,
)
from pipeline.train.callbacks import (
    BestCheckpoint,
    BudgetCallback,
    ProgressCallback,
    SafeBackup,
    UnreadableCheckpoint,
    checkpoint_problem,
)
from pipeline.train.facts import Fit, history_and_facts, outcome
from pipeline.train.loss import appliance_loss, power_mae, zero_prediction_loss
from store import ids
from store.vocab import Appliance, Arch


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
        "patience": cfg.patience[arch],
        "hard_fraction": cfg.hard_fraction[arch],
        "keep_epoch": cfg.keep_epoch[arch],
        "seconds": cfg.train_seconds[arch],
        "peak_lr": peak,
        "schedule": schedule,
    }


@dataclass
class _Job:
    """One model's training as set up before fitting."""

    model_id: str
    params: ApplianceParams
    plan: dict
    strategy_name: str
    strategy: object
    article_bce: bool
    model: object
    val: Windows
    val_starts: np.ndarray
    datasets: tuple  # (training stream, validation set) as tf.data datasets


def _set_up(ctx: RunContext, appliance: Appliance, arch: Arch, train_split, val_split, seed):
    """Seeds, windows, plan, model and datasets, in the order that makes a run reproducible."""
    import keras

    from pipeline.train.models import build_model

    cfg = ctx.cfg
    params = APPLIANCES[appliance]
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    tr = Windows(train_split, AGG_MEAN_W, AGG_STD_W, params.max_power_w)
    va = Windows(val_split, AGG_MEAN_W, AGG_STD_W, params.max_power_w)
    plan = _plan(cfg, arch, len(tr))
    hard_tr = hard_va = None
    if plan["hard_fraction"]:
        hard_tr = hard_negatives(tr, tr.starts, params.on_threshold_w)
        hard_va = hard_negatives(va, va.starts, params.on_threshold_w)
    val_starts = va.sample_with_on_share(
        cfg.val_windows, cfg.on_fraction, rng, hard_va, plan["hard_fraction"]
    )
    strategy_name = ctx.options.strategy
    strategy = get_strategy(strategy_name)
    article_bce = ctx.options.article_loss
    with strategy.scope():
        model = build_model(arch, cfg.width_scale)
        _compile(model, params, plan, article_bce, cfg.off_weight)
    train_ds = tr.tf_dataset(
        tr.starts,
        plan["batch"],
        seed=seed,
        on_fraction=cfg.on_fraction,
        train=True,
        hard=hard_tr,
        hard_fraction=plan["hard_fraction"],
        augment_fraction=cfg.augment_fraction,
        distract_fraction=cfg.distract_fraction,
    )
    val_ds = va.tf_dataset(np.sort(val_starts), plan["batch"])
    return _Job(
        model_id=ids.model_id(appliance, arch),
        params=params,
        plan=plan,
        strategy_name=strategy_name,
        strategy=strategy,
        article_bce=article_bce,
        model=model,
        val=va,
        val_starts=val_starts,
        datasets=(train_ds, val_ds),
    )


def _compile(model, params, plan, article_bce: bool, off_weight: float = 0.0) -> None:
    import keras

    model.compile(
        optimizer=keras.optimizers.Adam(
            plan["peak_lr"], beta_1=0.9, beta_2=0.999, epsilon=1e-8, clipnorm=plan["clipnorm"]
        ),
        loss=appliance_loss(params, article_bce, off_weight),
        metrics=[power_mae],
    )


def _checkpoint_dir(ctx: RunContext, model_id: str, train_key: str) -> Path:
    """The folder of this model's resume state and best epoch under these settings; checkpoints
    of other settings are stale and removed (a run resumes only a run of the same settings),
    and so is a resume state that cannot be read (training starts afresh, and says so)."""
    key_dir = ctx.path("checkpoints", model_id, train_key, "x").parent
    for stale in key_dir.parent.iterdir():
        if stale != key_dir:
            shutil.rmtree(stale, ignore_errors=True)
    problem = checkpoint_problem(key_dir)
    if problem:
        _start_afresh(ctx, model_id, key_dir, problem)
    return key_dir


def _start_afresh(ctx: RunContext, model_id: str, key_dir: Path, problem: str) -> None:
    """Remove an unusable resume state, saying so in one line."""
    ctx.console.print(
        f"train: {model_id}: its checkpoint is unreadable ({problem}); training starts afresh"
    )
    shutil.rmtree(key_dir, ignore_errors=True)
    key_dir.mkdir(parents=True, exist_ok=True)


def _fit(ctx: RunContext, job: _Job, key_dir: Path, label: str) -> Fit:
    import keras

    cfg, plan = ctx.cfg, job.plan
    progress = ProgressCallback(label, plan["steps_per_epoch"], plan["epochs"], ctx.console)
    budget = BudgetCallback(
        cfg.schedule,
        plan["peak_lr"],
        cfg.warmup_fraction,
        plan["steps_per_epoch"] * plan["epochs"],
        plan["seconds"],
    )
    early = keras.callbacks.EarlyStopping(monitor="val_loss", patience=plan["patience"])
    train_ds, val_ds = job.datasets
    t0 = time.perf_counter()
    hist = job.model.fit(
        train_ds,
        epochs=plan["epochs"],
        steps_per_epoch=plan["steps_per_epoch"],
        validation_data=val_ds,
        shuffle=False,  # the stream is already a fresh permutation on every pass
        verbose=0,
        callbacks=[
            SafeBackup(key_dir / "backup"),
            BestCheckpoint(key_dir),
            early,
            budget,
            progress,
        ],
    )
    return Fit(hist, time.perf_counter() - t0, progress, budget, early)


def _publish_best(ctx: RunContext, model_id: str, key_dir: Path, last=None) -> tuple[Path, str]:
    """The best epoch's model (or, given `last`, that final-epoch model) under its
    content-addressed name in models/ (and its sha256)."""
    best = key_dir / "best.keras"
    if last is not None and best.exists():
        # the final epoch's weights, saved beside best.keras in this model's private folder
        # (removed below; a kill here leaves nothing published)
        best = key_dir / "last.keras"
        last.save(best)
    if not best.exists():  # no epoch produced a finite validation loss
        from pipeline.errors import PipelineError

        raise PipelineError(
            f"{model_id}: no epoch gave a finite validation loss (diverged?); "
            "lower train.peak_lr or set train.clipnorm"
        )
    final, final_sha = artifacts.publish_file(best, ctx.artifacts / "models", model_id, ".keras")
    shutil.rmtree(key_dir.parent, ignore_errors=True)
    return final, final_sha


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

    ctx = dataclasses.replace(ctx, cfg=ctx.cfg.for_appliance(appliance))

    job = _set_up(ctx, appliance, arch, train_split, val_split, seed)
    key_dir = _checkpoint_dir(ctx, job.model_id, train_key)
    label = f"{appliance.value}/{arch.value}"
    try:
        fit = _fit(ctx, job, key_dir, label)
    except UnreadableCheckpoint as exc:  # its bytes matched their record but would not load
        _start_afresh(ctx, job.model_id, key_dir, str(exc))
        keras.backend.clear_session()
        job = _set_up(ctx, appliance, arch, train_split, val_split, seed)
        fit = _fit(ctx, job, key_dir, label)
    keep_last = job.plan["keep_epoch"] == "last"
    final, final_sha = _publish_best(ctx, job.model_id, key_dir, job.model if keep_last else None)
    history, facts = history_and_facts(job.model_id, fit.hist, job.plan, fit.progress.epoch_seconds)
    zero_loss = zero_prediction_loss(
        job.val, job.val_starts, job.params, job.article_bce, ctx.cfg.off_weight
    )
    facts.update(
        outcome(fit, job.plan, facts["best_val_loss"], facts["still_improving"], zero_loss)
    )
    _write_sidecar(final, appliance, arch, job.params)
    record = {
        "model_id": job.model_id,
        "appliance": appliance.value,
        "arch": arch.value,
        "profile": ctx.cfg.name.value,
        "parameters": int(job.model.count_params()),
        "train_config": _train_config(ctx.cfg, job, seed, zero_loss),
        "loss_variant": "article_hard_bce" if job.article_bce else "soft_bce",
        "strategy": job.strategy_name,
        "replicas": int(job.strategy.num_replicas_in_sync),
        "train_seconds": fit.seconds,
        "artifact_path": ctx.rel(final),
        "sha256": final_sha,
        "created_at": utcnow(),
        "schedule": job.plan["schedule"],
        **facts,
    }
    keras.backend.clear_session()
    return record, history


def _train_config(cfg, job: _Job, seed: int, zero_loss: float) -> str:
    """The models.train_config JSON: the plan and every setting that shaped the model."""
    return json.dumps(
        {
            **job.plan,
            "val_windows": len(job.val_starts),
            "on_fraction": cfg.on_fraction,
            "off_weight": cfg.off_weight,
            "augment_fraction": cfg.augment_fraction,
            "distract_fraction": cfg.distract_fraction,
            "seed": seed,
            "width_scale": cfg.width_scale,
            "optimizer": "adam(0.9, 0.999, 1e-8)",
            "zero_prediction_val_loss": zero_loss,
        }
    )


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
