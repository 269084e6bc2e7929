"""The `pipeline` command line. Heavy libraries (TensorFlow) are imported inside commands only,
so `pipeline --help` stays fast."""

from __future__ import annotations

import json
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from store.db import DEFAULT_STORE

os.environ.setdefault(
    "TF_CPP_MIN_LOG_LEVEL", "2"
)  # keep TensorFlow's C++ start-up chatter out of the output
from store.vocab import Appliance, Arch, Profile

app = typer.Typer(
    help="Train, quantize, evaluate and profile seq2point NILM models; results go to one DuckDB store.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

StoreOpt = Annotated[Path, typer.Option("--store", help="DuckDB store file.")]
ProfileOpt = Annotated[
    Profile,
    typer.Option(
        "--profile", help="smoke (tests), demo (default) or refit (the article's settings)."
    ),
]
ApplianceOpt = Annotated[
    list[Appliance] | None,
    typer.Option("--appliance", "-a", help="Only these appliances (repeatable)."),
]
ArchOpt = Annotated[
    list[Arch] | None, typer.Option("--arch", help="Only these architectures (repeatable).")
]
ForceOpt = Annotated[
    bool, typer.Option("--force", help="Redo work even when its inputs and config are unchanged.")
]


class Source(StrEnum):
    synthetic = "synthetic"
    refit = "refit"
    csv = "csv"


class Strategy(StrEnum):
    default = "default"
    mirrored = "mirrored"
    multi_worker = "multi-worker"


class OutFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"
    parquet = "parquet"


def _context(store, profile, appliance, arch, force, command, **options):
    from pipeline.config import profile_config
    from pipeline.context import RunContext

    return RunContext(
        store=Path(store),
        cfg=profile_config(profile),
        appliances=list(appliance) if appliance else list(Appliance),
        archs=list(arch) if arch else list(Arch),
        force=force,
        command=command,
        options={**options, "appliances_explicit": bool(appliance)},
    )


def _fail(message: str, code: int = 1):
    typer.secho(f"error: {message}", fg="red", err=True)
    raise typer.Exit(code)


def _run(ctx, body) -> None:
    """Run a command body inside a recorded run; errors a person can act on print without traceback."""
    from pipeline.errors import PipelineError
    from store.db import StoreError

    try:
        ctx.start_run()
    except StoreError as exc:
        _fail(str(exc))
    try:
        body()
    except KeyboardInterrupt:
        ctx.finish_run("interrupted")
        _fail("interrupted; the store holds everything that finished, re-run to resume", 130)
    except (PipelineError, StoreError) as exc:
        ctx.finish_run("failed")
        _fail(str(exc))
    except BaseException:
        ctx.finish_run("failed")
        raise
    ctx.finish_run("finished")


def _data_options(source, path, test_house, val_house, house_map, keep_issues, keep_zero):
    from pipeline.data import DataOptions

    mapping = None
    if house_map:
        mapping = {}
        for item in house_map:
            if "=" not in item:
                _fail(f"--house-map expects FILE=HOUSE, got {item!r}")
            f, h = item.split("=", 1)
            mapping[f] = h
    return DataOptions(
        source=source.value,
        path=path,
        test_house=test_house,
        val_house=val_house,
        house_map=mapping,
        drop_issues=not keep_issues,
        mask_zero_aggregate=not keep_zero,
    )


SourceOpt = Annotated[
    Source, typer.Option("--source", help="synthetic (embedded default), refit or csv.")
]
PathOpt = Annotated[
    Path | None, typer.Option("--path", help="Folder (or file) of the raw data for refit/csv.")
]
TestHouseOpt = Annotated[str | None, typer.Option("--test-house", help="Test house for csv data.")]
ValHouseOpt = Annotated[
    str | None, typer.Option("--val-house", help="Validation house for csv data.")
]
HouseMapOpt = Annotated[
    list[str] | None,
    typer.Option("--house-map", help="FILE=HOUSE, for file names without a house number."),
]
KeepIssuesOpt = Annotated[
    bool, typer.Option("--keep-issues", help="Keep REFIT rows flagged Issues=1.")
]
KeepZeroOpt = Annotated[
    bool, typer.Option("--keep-zero-aggregate", help="Do not treat aggregate == 0 as a gap (csv).")
]


@app.command()
def data(
    store: StoreOpt = DEFAULT_STORE,
    profile: ProfileOpt = Profile.DEMO,
    appliance: ApplianceOpt = None,
    force: ForceOpt = False,
    source: SourceOpt = Source.synthetic,
    path: PathOpt = None,
    test_house: TestHouseOpt = None,
    val_house: ValHouseOpt = None,
    house_map: HouseMapOpt = None,
    keep_issues: KeepIssuesOpt = False,
    keep_zero_aggregate: KeepZeroOpt = False,
    plot: Annotated[
        Path | None,
        typer.Option("--plot", help="Also write an HTML plot of one day of a house to this file."),
    ] = None,
):
    """Read raw data (or generate the embedded dataset) into per-appliance train/val/test splits."""
    opts = _data_options(
        source, path, test_house, val_house, house_map, keep_issues, keep_zero_aggregate
    )
    ctx = _context(store, profile, appliance, None, force, "data", data=opts.to_json())

    def body():
        from pipeline.data import run_data

        run_data(ctx, opts)
        if plot:
            from pipeline.plots import plot_day

            plot_day(ctx, plot)
            typer.echo(f"plot written to {plot}")

    _run(ctx, body)


@app.command()
def train(
    store: StoreOpt = DEFAULT_STORE,
    profile: ProfileOpt = Profile.DEMO,
    appliance: ApplianceOpt = None,
    arch: ArchOpt = None,
    force: ForceOpt = False,
    strategy: Annotated[
        Strategy,
        typer.Option(
            "--strategy",
            help="tf.distribute strategy: default (one device), mirrored (all local GPUs), multi-worker (TF_CONFIG).",
        ),
    ] = Strategy.default,
    article_loss: Annotated[
        bool,
        typer.Option(
            "--article-loss",
            help="Use the article's hard-threshold BCE term (no gradient) instead of the differentiable one.",
        ),
    ] = False,
):
    """Train one seq2point model per appliance and architecture."""
    ctx = _context(
        store,
        profile,
        appliance,
        arch,
        force,
        "train",
        strategy=strategy.value,
        article_loss=article_loss,
    )

    def body():
        from pipeline.train import run_train

        run_train(ctx)

    _run(ctx, body)


@app.command()
def convert(
    store: StoreOpt = DEFAULT_STORE,
    profile: ProfileOpt = Profile.DEMO,
    appliance: ApplianceOpt = None,
    arch: ArchOpt = None,
    force: ForceOpt = False,
    int8_io: Annotated[
        bool,
        typer.Option(
            "--int8-io", help="int8 model inputs/outputs for integer modes (Edge TPU style)."
        ),
    ] = False,
):
    """Convert every model to TFLite in every quantization mode and inspect per-layer error."""
    ctx = _context(store, profile, appliance, arch, force, "convert", int8_io=int8_io)

    def body():
        from pipeline.convert import run_convert

        run_convert(ctx)

    _run(ctx, body)


@app.command()
def evaluate(
    store: StoreOpt = DEFAULT_STORE,
    profile: ProfileOpt = Profile.DEMO,
    appliance: ApplianceOpt = None,
    arch: ArchOpt = None,
    force: ForceOpt = False,
    article_postprocess: Annotated[
        bool,
        typer.Option(
            "--article-postprocess",
            help="Zero predictions below the on-threshold (the article's quantized-model protocol).",
        ),
    ] = False,
):
    """Run every variant on the test split; store metrics and predicted traces."""
    ctx = _context(
        store, profile, appliance, arch, force, "evaluate", article_postprocess=article_postprocess
    )

    def body():
        from pipeline.evaluate import run_evaluate

        run_evaluate(ctx)

    _run(ctx, body)


@app.command()
def profile(
    store: StoreOpt = DEFAULT_STORE,
    profile: ProfileOpt = Profile.DEMO,
    appliance: ApplianceOpt = None,
    arch: ArchOpt = None,
    force: ForceOpt = False,
):
    """Measure latency, per-op latency, throughput and RAM of every variant on this host."""
    ctx = _context(store, profile, appliance, arch, force, "profile")

    def body():
        from pipeline.profile import run_profile

        run_profile(ctx)

    _run(ctx, body)


@app.command(name="all")
def all_(
    store: StoreOpt = DEFAULT_STORE,
    profile: ProfileOpt = Profile.DEMO,
    appliance: ApplianceOpt = None,
    arch: ArchOpt = None,
    force: ForceOpt = False,
    source: SourceOpt = Source.synthetic,
    path: PathOpt = None,
    test_house: TestHouseOpt = None,
    val_house: ValHouseOpt = None,
    strategy: Annotated[Strategy, typer.Option("--strategy")] = Strategy.default,
):
    """Run data -> train -> convert -> evaluate -> profile; skip whatever is already current."""
    opts = _data_options(source, path, test_house, val_house, None, False, False)
    ctx = _context(
        store,
        profile,
        appliance,
        arch,
        force,
        "all",
        data=opts.to_json(),
        strategy=strategy.value,
        article_loss=False,
        int8_io=False,
        article_postprocess=False,
    )

    def body():
        from pipeline.runner import run_all

        run_all(ctx, opts)

    _run(ctx, body)


@app.command()
def sql(
    query: Annotated[str, typer.Argument(help="One SQL statement, run read-only.")],
    store: StoreOpt = DEFAULT_STORE,
    format: Annotated[
        OutFormat, typer.Option("--format", help="table, csv, json or parquet.")
    ] = OutFormat.table,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")
    ] = None,
    max_rows: Annotated[int, typer.Option("--max-rows", help="Rows shown in table format.")] = 50,
):
    """Run a read-only SQL query against the store."""
    import duckdb

    from store.db import StoreError, connect_readonly, ensure_store

    try:
        ensure_store(store)
        con = connect_readonly(store)
    except StoreError as exc:
        _fail(str(exc))
    try:
        df = con.execute(query).df()
    except duckdb.Error as exc:
        _fail(f"{type(exc).__name__}: {exc}")
    finally:
        con.close()
    if format is OutFormat.parquet:
        if output is None:
            _fail("--format parquet needs --output FILE")
        df.to_parquet(output, index=False)
        typer.echo(f"{len(df)} rows written to {output}")
        return
    if format is OutFormat.csv:
        text = df.to_csv(index=False)
    elif format is OutFormat.json:
        text = df.to_json(orient="records", date_format="iso", indent=1)
    else:
        text = _table(df, max_rows)
    if output:
        Path(output).write_text(text)
        typer.echo(f"{len(df)} rows written to {output}")
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


def _table(df, max_rows: int) -> str:
    from io import StringIO

    from rich.console import Console
    from rich.table import Table

    table = Table(show_lines=False)
    for c in df.columns:
        table.add_column(str(c), overflow="fold")
    for row in df.head(max_rows).itertuples(index=False):
        table.add_row(*[_cell(v) for v in row])
    buf = StringIO()
    Console(file=buf, width=200).print(table)
    more = (
        f"({len(df)} rows, first {max_rows} shown)\n"
        if len(df) > max_rows
        else f"({len(df)} rows)\n"
    )
    return buf.getvalue() + more


def _cell(v) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return "" if v is None else str(v)


@app.command()
def status(store: StoreOpt = DEFAULT_STORE):
    """Show what the store holds: runs, datasets, models, variants, when it was refreshed."""
    from store.db import StoreError, connect_readonly, table_counts

    try:
        con = connect_readonly(store)
    except StoreError as exc:
        _fail(str(exc))
    try:
        meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
        counts = table_counts(con)
        runs = con.execute(
            "SELECT run_id, command, profile, status, started_at, finished_at FROM runs ORDER BY started_at DESC LIMIT 5"
        ).df()
        variants = con.execute(
            "SELECT appliance, arch, count(*) FILTER (WHERE status = 'ok') AS ok, count(*) FILTER (WHERE status <> 'ok') AS failed FROM variants GROUP BY ALL ORDER BY ALL"
        ).df()
        last_cfg = con.execute(
            "SELECT config FROM runs ORDER BY started_at DESC LIMIT 1"
        ).fetchall()
    finally:
        con.close()
    typer.echo(f"store: {Path(store).resolve()}")
    typer.echo(
        f"schema version {meta.get('schema_version')}, refreshed {meta.get('refreshed_at', 'never')}"
    )
    typer.echo("rows: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    typer.echo("\nlatest runs:")
    typer.echo(_table(runs, 5))
    if not variants.empty:
        typer.echo("variants per model:")
        typer.echo(_table(variants, 20))
    if last_cfg:
        prof = json.loads(last_cfg[0][0]).get("profile", {})
        typer.echo(
            f"last run profile: {prof.get('name')} (width scale {prof.get('width_scale')}, batch {prof.get('batch')})"
        )


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
    threads: Annotated[int, typer.Option("--threads", help="--num_threads it ran with.")] = 1,
    store: StoreOpt = DEFAULT_STORE,
):
    """Store the C++ benchmark_model tool's latency and per-op profile for one variant and host."""
    from pipeline.errors import PipelineError
    from pipeline.ingest import ingest_benchmark as ingest

    try:
        n, avg = ingest(store, file, variant, host, threads)
    except PipelineError as exc:
        _fail(str(exc))
    typer.echo(
        f"{variant} on {host}: {n} ops" + (f", {avg:.4f} ms average" if avg is not None else "")
    )


@app.command(name="export-edge-kit")
def export_edge_kit(
    out: Annotated[Path, typer.Argument(help="Folder to write the kit into.")],
    store: StoreOpt = DEFAULT_STORE,
    appliance: ApplianceOpt = None,
    arch: ArchOpt = None,
):
    """Write the TFLite variants plus a self-contained measuring script for a device (needs only ai-edge-litert + numpy)."""
    from pipeline.errors import PipelineError
    from pipeline.exports import export_edge_kit as export

    clauses, params = [], []
    if appliance:
        clauses.append("appliance IN (SELECT unnest(?))")
        params.append([a.value for a in appliance])
    if arch:
        clauses.append("arch IN (SELECT unnest(?))")
        params.append([a.value for a in arch])
    try:
        n = export(store, out, " AND ".join(clauses), params)
    except PipelineError as exc:
        _fail(str(exc))
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
    store: StoreOpt = DEFAULT_STORE,
):
    """Load an edge kit's results into the store under the device's host name."""
    from pipeline.errors import PipelineError
    from pipeline.ingest import ingest_edge_kit as ingest

    try:
        n = ingest(store, file, host)
    except PipelineError as exc:
        _fail(str(exc))
    typer.echo(f"{n} latency measurements loaded from {file}")


@app.command(name="export-model-explorer")
def export_model_explorer(
    variant: Annotated[str, typer.Argument(help="Variant id, e.g. kettle.transformer.w8_a8.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for the node-data JSON files.")] = Path(
        "model-explorer"
    ),
    store: StoreOpt = DEFAULT_STORE,
):
    """Write per-tensor rmse/scale and per-op latency as Model Explorer node-data JSON."""
    from pipeline.errors import PipelineError
    from pipeline.exports import model_explorer_node_data

    try:
        paths = model_explorer_node_data(store, variant, out)
    except PipelineError as exc:
        _fail(str(exc))
    for p in paths:
        typer.echo(f"wrote {p}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
