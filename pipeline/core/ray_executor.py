"""The Ray executor (`pipeline all --executor ray`): a stage's jobs as Ray tasks.

Imported only when ``--executor ray`` is asked for; Ray is the optional extra
``nilm-edge[ray]``. ``address`` None starts a local instance (``cpus`` CPUs, default all) that
ends with this process; an address (``ray://`` or ``host:port``) joins a running cluster.

* Each job is a ``ray.remote`` task with the job's resource requests: CPUs, GPUs (training, where
  the cluster has them), memory (evaluation shards), a node (latency measurements are made on a
  named host), and at most ``MAX_RETRIES`` re-runs when the process or node running it dies. A
  job that raises is not re-run: its error ends the stage as it would locally.
* Results come back to the driver as each task finishes; the driver alone writes the store.
* Tasks read the store's published rows and the artifacts folder, and write new
  content-addressed files there; on a cluster that folder must be the same path on every node
  (a shared file system). A re-run task writes its file again under a new private name and the
  same final name (same bytes), so a killed attempt leaves at most an unreferenced temporary,
  which `pipeline gc` removes.
* When the driver stops early (an error, Ctrl-C), the tasks still queued or running are
  cancelled (their processes killed); nothing they wrote is referenced by the store.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from typing import Any

from pipeline.core.executors import Executor, Job, Node, Resources

MAX_RETRIES = 2  # re-runs of a task whose worker process or node died (not of one that raised)


class RayExecutor(Executor):
    name = "ray"
    remote = True

    def __init__(self, address: str | None = None, cpus: int | None = None):
        import ray

        self._started = False
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"logging_level": logging.WARNING}
            if address is None:
                kwargs["num_cpus"] = cpus or os.cpu_count() or 1
                kwargs["include_dashboard"] = False
            ray.init(address=address, **kwargs)
            self._started = True
        self.address = address
        self._remote: dict[Any, Any] = {}

    def describe(self) -> str:
        n = self.nodes()
        where = self.address or "a local instance"
        return (
            f"ray ({where}: {len(n)} node(s), {self.cpus():g} CPUs, {self.gpus():g} GPUs; "
            f"a task whose worker dies is re-run up to {MAX_RETRIES} times)"
        )

    def nodes(self) -> list[Node]:
        import ray

        return [
            Node(
                n["NodeID"],
                float(n["Resources"].get("CPU", 0)),
                float(n["Resources"].get("GPU", 0)),
            )
            for n in ray.nodes()
            if n.get("Alive")
        ]

    def _options(self, r: Resources) -> dict:
        opts: dict[str, Any] = {"num_cpus": r.cpus, "num_gpus": r.gpus, "max_retries": MAX_RETRIES}
        if r.memory_mb:
            opts["memory"] = int(r.memory_mb * 1e6)
        if r.node is not None:
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

            opts["scheduling_strategy"] = NodeAffinitySchedulingStrategy(r.node, soft=False)
        return opts

    def _submit(self, job: Job):
        import ray

        fn = self._remote.get(job.fn)
        if fn is None:
            fn = self._remote[job.fn] = ray.remote(job.fn)
        return fn.options(**self._options(job.resources)).remote(*job.args)

    def run(self, jobs: list[Job], workers: int = 1) -> Iterator[tuple[Any, Any]]:
        """Every job submitted at once (Ray queues what the cluster cannot run yet);
        ``workers`` is the local executor's and is not read here."""
        import ray

        pending = {self._submit(j): j.tag for j in jobs}
        try:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                ref = done[0]
                tag = pending.pop(ref)
                yield tag, _result(ref)
        finally:
            for ref in pending:  # the driver stopped early: nothing more runs for this stage
                ray.cancel(ref, force=True)

    def close(self) -> None:
        import ray

        if self._started and ray.is_initialized():
            ray.shutdown()


def _result(ref):
    """The task's return value; a task that raised re-raises its own exception here (so a
    PipelineError is still one line on the command line)."""
    import ray

    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as exc:
        cause = getattr(exc, "cause", None)
        if isinstance(cause, BaseException):
            raise cause from None
        raise
