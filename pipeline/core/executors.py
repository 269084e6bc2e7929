"""Where the items of a stage run: the executor interface, and the local one (today's worker
processes of this machine, the default).

A stage hands its executor a list of :class:`Job` (a module-level function, its arguments, a tag
the stage keeps, the resources one run of it needs) and publishes each ``(tag, result)`` as it
comes back, in the order the jobs finish. The executor never touches the store: the process
that calls :meth:`Executor.run` (the driver) stays its only writer, through ``RunContext.commit``.

``local`` (``LocalExecutor``) runs the jobs in spawned worker processes of this machine
(pipeline/core/workers.py), ``workers`` at a time; ``remote`` is False, so the stages that work
in this process today (evaluation, latency measurement) keep doing so. ``ray``
(pipeline/core/ray_executor.py, an optional extra imported only when asked for) runs them as Ray
tasks with their resource requests, on whatever node has them free.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import as_completed
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Resources:
    """What one run of a job needs on the node that runs it (Ray's resource requests; the local
    executor has one machine and reads none of it)."""

    cpus: float = 1
    gpus: float = 0
    memory_mb: int = 0  # bytes of RAM reserved for it, in 10^6 (0: no reservation)
    node: str | None = None  # run on this node only (a Ray node id): latency is per host


@dataclass(frozen=True)
class Job:
    fn: Callable  # a module-level function (pickled by reference)
    args: tuple
    tag: Any = None
    resources: Resources = field(default_factory=Resources)


@dataclass(frozen=True)
class Node:
    """A machine the executor can run jobs on."""

    node_id: str | None
    cpus: float
    gpus: float


class Executor:
    """Runs jobs somewhere and yields ``(tag, result)`` as each finishes. A job that raises ends
    the iteration with its exception (the stage fails as it would in this process)."""

    name = "local"
    remote = False  # True: even the work a stage does in this process today goes out as jobs

    def run(self, jobs: list[Job], workers: int = 1) -> Iterator[tuple[Any, Any]]:
        raise NotImplementedError

    def nodes(self) -> list[Node]:
        """The machines jobs can run on (the local executor: this one)."""
        import os

        return [Node(None, float(os.cpu_count() or 1), 0.0)]

    def gpus(self) -> float:
        return sum(n.gpus for n in self.nodes())

    def cpus(self) -> float:
        return sum(n.cpus for n in self.nodes())

    def describe(self) -> str:
        return self.name

    def close(self) -> None:
        """Release what the executor started (nothing, here)."""


class LocalExecutor(Executor):
    """Today's behaviour: the jobs in ``workers`` spawned processes of this machine, each dying
    with its parent (pipeline/core/workers.py)."""

    def run(self, jobs: list[Job], workers: int = 1) -> Iterator[tuple[Any, Any]]:
        from pipeline.core.workers import worker_pool

        if not jobs:
            return
        with worker_pool(max(1, min(workers, len(jobs)))) as pool:
            futures = {pool.submit(j.fn, *j.args): j.tag for j in jobs}
            for fut in as_completed(futures):
                yield futures[fut], fut.result()


LOCAL = LocalExecutor()


def executor_of(ctx) -> Executor:
    """The run's executor (a context made without one: local)."""
    return getattr(ctx, "executor", None) or LOCAL


def is_remote(ctx) -> bool:
    return executor_of(ctx).remote
