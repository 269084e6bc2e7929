"""Commands that exchange measurements with other machines: ingest benchmark_model output or an
edge kit's results, export an edge kit or Model Explorer node data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipeline.cli.common import (
    app,
    check_readable_store,
    fail,
    guard,
    ingest_context,
    run_recorded_once,
)
from pipeline.cli.options import ApplianceOpt, ArchOpt, ReadStoreOpt
from store.db import DEFAULT_STORE


@app.command(name="ingest-benchmark")
def ingest_benchmark(
    file: Annotated[
        Path,
        typer.Argument(
            help="benchmark_model output: its --profiling_output_csv_file CSV or its printed text."
        ),
    ],
    host: Annotated[
        str, typer.Option("--host", help="Name of the machine that ran it, e.g. rpi4.")
    ],
    variant: Annotated[
        str, typer.Option("--variant", help="Variant id the model file was, e.g. kettle.cnn.w8_a8.")
    ],
    threads: Annotated[
        int, typer.Option("--threads", help="--num_threads it ran with (1..1024).")
    ] = 1,
    store: ReadStoreOpt = DEFAULT_STORE,
):
    """Store the C++ benchmark_model tool's latency and per-op profile for one variant and host."""
    from pipeline.exchange import ingest

    if not 1 <= threads <= ingest.MAX_THREADS:
        fail(f"--threads: expected a whole number in 1..{ingest.MAX_THREADS}, got {threads}")
    res = guard(lambda: ingest.load_benchmark(file))
    guard(lambda: ingest.check_host(file, host))
    check_readable_store(store)
    guard(lambda: ingest.check_variant(store, file, variant))
    ctx = ingest_context(
        store,
        "ingest-benchmark",
        file=str(file),
        host=host,
        variant=variant,
        threads=threads,
    )
    run_recorded_once(
        ctx, lambda record: ingest.store_benchmark(store, res, variant, host, threads, record)
    )
    avg = res.timings_us.get("avg")
    typer.echo(
        f"{variant} on {host}: {len(res.ops)} ops"
        + (f", {avg / 1000:.4f} ms average" if avg is not None else "")
    )


@app.command(name="export-edge-kit")
def export_edge_kit(
    out: Annotated[Path, typer.Argument(help="Folder to write the kit into.")],
    store: ReadStoreOpt = DEFAULT_STORE,
    appliance: ApplianceOpt = None,
    arch: ArchOpt = None,
):
    """Write the TFLite variants plus a self-contained measuring script for a device (needs only ai-edge-litert + numpy)."""
    from pipeline.exchange.exports import export_edge_kit as export

    check_readable_store(store)
    clauses, params = [], []
    if appliance:
        clauses.append("appliance IN (SELECT unnest(?))")
        params.append([a.value for a in appliance])
    if arch:
        clauses.append("arch IN (SELECT unnest(?))")
        params.append([a.value for a in arch])
    n = guard(lambda: export(store, out, " AND ".join(clauses), params))
    typer.echo(
        f"{n} variants written to {out}; on the device: python3 run_kit.py --out results.json"
    )


@app.command(name="ingest-edge-kit")
def ingest_edge_kit(
    file: Annotated[Path, typer.Argument(help="results.json written by the edge kit.")],
    host: Annotated[
        str | None,
        typer.Option("--host", help="Store under this host name instead of the device's own."),
    ] = None,
    store: ReadStoreOpt = DEFAULT_STORE,
):
    """Load an edge kit's results into the store under the device's host name."""
    from pipeline.exchange import ingest

    kit = guard(lambda: ingest.load_edge_kit(file, host))
    check_readable_store(store)
    guard(lambda: ingest.check_edge_kit_variants(store, kit))
    ctx = ingest_context(store, "ingest-edge-kit", file=str(file), host=kit.host)
    counted = []
    run_recorded_once(ctx, lambda record: counted.append(ingest.store_edge_kit(store, kit, record)))
    typer.echo(f"{counted[0]} latency measurements loaded from {file}")


@app.command(name="export-model-explorer")
def export_model_explorer(
    variant: Annotated[str, typer.Argument(help="Variant id, e.g. kettle.transformer.w8_a8.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for the node-data JSON files.")] = Path(
        "model-explorer"
    ),
    store: ReadStoreOpt = DEFAULT_STORE,
):
    """Write per-tensor rmse/scale and per-op latency as Model Explorer node-data JSON."""
    from pipeline.exchange.exports import model_explorer_node_data

    check_readable_store(store)
    for p in guard(lambda: model_explorer_node_data(store, variant, out)):
        typer.echo(f"wrote {p}")
