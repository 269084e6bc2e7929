"""Models trained at once in worker processes (`train.workers` > 1: tiny smoke models, whose time
goes to TensorFlow's overhead rather than the math), and the guard that no worker outlives the
pipeline that started it."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from pipeline.context import RunContext
from pipeline.data import load_split
from pipeline.train_model import train_one
from store.vocab import Split


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


def _train_job(store, cfg, options, appliance, arch, key):
    """One model in a worker process (tiny smoke models: TensorFlow overhead, not math, dominates)."""
    from pipeline.quiet import quiet_tf

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
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

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
