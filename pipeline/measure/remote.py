"""The profiling stage on a remote executor (`--executor ray`): every model measured on every node.

Latency, memory and op profiles describe the machine that measured them, so each (model, node)
is a job pinned to that node, and its rows carry that node's host name, with the node's own
``hosts`` row (CPU model, cores, architecture, runtime versions); the cache item is
``<model>@<host>`` as locally, so nodes never share a device row and a new node measures only
itself. A job asks for every CPU of its node: nothing else the executor schedules runs beside a
measurement (the multi-thread and parallel-throughput figures use all the cores). Two nodes that
report the same host name are one host: the first measures. A node that offers Ray no CPU (a
head started with `--num-cpus 0`) measures nothing.
"""

from __future__ import annotations

import time
from pathlib import Path

from pipeline.core.context import RunContext, host_facts
from pipeline.core.executors import Job, Resources, executor_of
from pipeline.measure.stage import _host_row, models_to_measure, profile_model


def _host_job() -> dict:
    """The ``hosts`` row of the node this runs on."""
    return _host_row(host_facts())


def _profile_job(store: str, cfg, options, records: list[dict], host: str):
    """One model's measurements on this node: (Measurements, seconds)."""
    ctx = RunContext(store=Path(store), cfg=cfg, appliances=[], archs=[], options=options)
    t0 = time.perf_counter()
    m = profile_model(ctx, records, host)
    return m, time.perf_counter() - t0


def node_hosts(ctx: RunContext) -> list[tuple]:
    """(node, hosts row) of every node with CPUs, one per host name."""
    executor = executor_of(ctx)
    # a node that offers no CPU (a head kept free of work) measures nothing
    nodes = {n.node_id: n for n in executor.nodes() if n.cpus > 0}
    jobs = [Job(_host_job, (), nid, Resources(cpus=0, node=nid)) for nid in nodes]
    seen: dict[str, tuple] = {}
    for nid, row in executor.run(jobs):
        if row["host"] in seen:
            ctx.console.print(f"profile: node {nid} is host {row['host']} again; measured once")
            continue
        seen[row["host"]] = (nodes[nid], row)
    return [seen[h] for h in sorted(seen)]


def run_profile_remote(ctx: RunContext) -> None:
    """Every selected model on every node that is not measured there already, published as each
    returns."""
    jobs, keys = [], {}
    for node, host_row in node_hosts(ctx):
        host = host_row["host"]
        for item, key, records in models_to_measure(ctx, host, on=f" on {host}"):
            keys[item] = (key, host_row, [v["variant_id"] for v in records])
            need = Resources(cpus=node.cpus, node=node.node_id)
            args = (str(ctx.store), ctx.cfg, ctx.options, records, host)
            jobs.append(Job(_profile_job, args, item, need))
    for item, (m, seconds) in executor_of(ctx).run(jobs):
        key, host_row, vids = keys[item]
        ctx.commit(
            "profile",
            item,
            key,
            seconds,
            lambda con, m=m, row=host_row, vids=vids: m.write(con, row, vids),
        )
        ctx.console.print(f"profile: {item} measured ({seconds:.0f} s)")
