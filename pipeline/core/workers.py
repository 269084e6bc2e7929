"""The one kind of worker pool the stages use (spawned processes), and the guard that no worker
outlives the pipeline that started it."""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor


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


def worker_pool(workers: int) -> ProcessPoolExecutor:
    """``workers`` spawned processes (no forked TensorFlow state), each dying with its parent."""
    from multiprocessing import get_context

    return ProcessPoolExecutor(
        max_workers=workers, mp_context=get_context("spawn"), initializer=die_with_parent
    )
