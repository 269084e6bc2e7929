"""Training stage: one seq2point model per appliance and architecture, recorded in the store.

The pieces: the loss (pipeline/train/loss.py), the callbacks and learning-rate schedule
(pipeline/train/callbacks.py), one model's training (pipeline/train/fit.py) and training in
worker processes (pipeline/train/workers.py). The names tests use are importable from here.
"""

from __future__ import annotations

from functools import partial

from pipeline.core import artifacts
from pipeline.core.context import RunContext
from pipeline.core.executors import is_remote
from pipeline.core.hashing import stable_hash
from pipeline.data.stage import load_split, split_record
from pipeline.settings.stages import settings_key, stage_settings
from pipeline.train.callbacks import scheduled_lr
from pipeline.train.fit import train_one
from pipeline.train.loss import make_loss, power_mae
from pipeline.train.workers import train_in_workers
from store import db, ids
from store.vocab import Arch, Split

__all__ = [
    "MODEL_CODE_VERSION",
    "TRAIN_CODE_VERSION",
    "make_loss",
    "power_mae",
    "run_train",
    "scheduled_lr",
    "train_key",
    "train_one",
]

# per architecture: bump one when that architecture changes, so only its cached models are retrained
# (transformer m4: the L2 pool's epsilon 1e-10 -> 1e-2, so its RSQRT has a bounded range)
MODEL_CODE_VERSION = {Arch.CNN: "m3", Arch.TRANSFORMER: "m4"}
TRAIN_CODE_VERSION = "t3"  # bump when the training loop changes what a model learns


def train_key(ctx: RunContext, arch: Arch, train_row: dict, val_row: dict, appliance) -> str:
    """The cache key of one model: its splits' files, its TrainSettings (with the appliance's own
    values, ``appliance.<name>.train.*``: hence ``appliance`` is required), the code's version."""
    settings = stage_settings("train", ctx.cfg.for_appliance(appliance), ctx.options, arch)
    return stable_hash(
        [
            train_row["sha256"],
            val_row["sha256"],
            arch.value,
            *settings_key(settings),
            MODEL_CODE_VERSION[arch],
            TRAIN_CODE_VERSION,
        ]
    )


def run_train(ctx: RunContext) -> None:
    from pipeline.core.quiet import quiet_tf

    quiet_tf()
    todo = _todo(ctx)
    done = partial(_save, ctx)
    if (ctx.cfg.train_workers > 1 and len(todo) > 1) or (todo and is_remote(ctx)):
        train_in_workers(ctx, todo, done)
    else:
        _train_here(ctx, todo, done)


def _todo(ctx: RunContext) -> list[tuple]:
    """(appliance, arch, model_id, key) of every selected model that is not current."""
    todo = []
    for appliance in ctx.appliances:
        train_row = split_record(ctx, appliance, Split.TRAIN)
        val_row = split_record(ctx, appliance, Split.VAL)
        for arch in ctx.archs:
            model_id = ids.model_id(appliance, arch)
            key = train_key(ctx, arch, train_row, val_row, appliance)
            model_ok = artifacts.recorded_files_ok(
                ctx.store, "SELECT artifact_path, sha256 FROM models WHERE model_id = ?", [model_id]
            )
            if ctx.skip_if_current("train", model_id, key, model_ok):
                continue
            todo.append((appliance, arch, model_id, key))
    return todo


def _train_here(ctx: RunContext, todo: list, done) -> None:
    """Train the models one after the other in this process."""
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


def _save(ctx: RunContext, model_id: str, key: str, record: dict, history: list) -> None:
    """Publish one trained model's rows with its cache key, and say so."""
    ctx.commit(
        "train",
        model_id,
        key,
        record["train_seconds"],
        lambda con: _write(con, record, history),
    )
    ctx.console.print(
        f"train: {model_id} saved ({record['parameters']:,} parameters, "
        f"best val loss {record['best_val_loss']:.4f} at epoch {record['best_epoch']})"
    )


def _write(con, record: dict, history: list) -> None:
    model_id = record["model_id"]
    con.execute("DELETE FROM models WHERE model_id = ?", [model_id])
    con.execute("DELETE FROM training_history WHERE model_id = ?", [model_id])
    db.insert_records(con, "models", [record])
    db.insert_records(con, "training_history", history)
