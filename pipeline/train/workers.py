"""Models trained at once in worker processes (`train.workers` > 1: tiny smoke models, whose time
goes to TensorFlow's overhead rather than the math), or as tasks of a remote executor (Ray)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pipeline.core.context import RunContext
from pipeline.core.executors import Job, Resources, executor_of
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
    """Train the (appliance, arch, model_id, key) items of ``todo`` as jobs of the run's executor
    (locally ``train.workers`` processes; on Ray one task each, with a GPU where the cluster has
    one); ``done(model_id, key, record, history)`` publishes each as it finishes."""
    executor = executor_of(ctx)
    need = Resources(cpus=1, gpus=1 if executor.remote and executor.gpus() > 0 else 0)
    jobs = [
        Job(_train_job, (str(ctx.store), ctx.cfg, ctx.options, a, arch, key), (mid, key), need)
        for a, arch, mid, key in todo
    ]
    for (model_id, key), (record, history) in executor.run(jobs, ctx.cfg.train_workers):
        done(model_id, key, record, history)
