"""Models trained at once in worker processes (`train.workers` > 1: tiny smoke models, whose time
goes to TensorFlow's overhead rather than the math)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pipeline.core.context import RunContext
from pipeline.core.workers import worker_pool
from pipeline.data.stage import load_split
from pipeline.train.fit import train_one
from store.vocab import Split


def _train_job(store, cfg, options, appliance, arch, key):
    """One model in a worker process (tiny smoke models: TensorFlow overhead, not math, dominates)."""
    from pipeline.core.quiet import quiet_tf

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


def train_in_workers(ctx: RunContext, todo: list, done: Callable) -> None:
    """Train the (appliance, arch, model_id, key) items of ``todo`` in ``train.workers`` processes;
    ``done(model_id, key, record, history)`` records each, in the order of ``todo``."""
    with worker_pool(ctx.cfg.train_workers) as pool:
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
