"""The `pipeline` command line. Heavy libraries (TensorFlow) are imported inside commands only,
so `pipeline --help` stays fast.

Every error a person can act on (bad input, a missing or damaged store, a refused query) ends the
command with exit code 1 and one line `error: <file or field>: <what was expected>`; argument
checks run before a run is recorded, so a typo leaves no failed run behind.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from store.cli_conventions import flags_without_type, version_callback
from store.db import DEFAULT_STORE
from store.vocab import Appliance, Arch, Profile

# TensorFlow reads this once, at its import inside a command: keep its C++ start-up chatter out
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

WIDE_OUTPUT = 200  # columns for tables and progress written to a file or pipe (rich uses 80)


flags_without_type()

app = typer.Typer(
    help="Train, quantize, evaluate and profile seq2point NILM models; results go to one DuckDB store.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


_version = version_callback("pipeline")


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Train, quantize, evaluate and profile seq2point NILM models; results go to one DuckDB store."""


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


# -- options shared by several commands, defined once ------------------------------------------
StoreOpt = Annotated[
    Path, typer.Option("--store", help="DuckDB store file (created by the first run).")
]
ReadStoreOpt = Annotated[
    Path, typer.Option("--store", help="DuckDB store file to read (must exist).")
]
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
ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config", help="TOML file of settings over the profile's (see `--set` for the keys)."
    ),
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="KEY=VALUE over the profile and --config, e.g. --set train.epochs=5 (repeatable; "
        "an unknown key lists the valid ones).",
    ),
]
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
StrategyOpt = Annotated[
    Strategy,
    typer.Option(
        "--strategy",
        help="tf.distribute strategy: default (one device), mirrored (all local GPUs), multi-worker (TF_CONFIG).",
    ),
]
ArticleLossOpt = Annotated[
    bool,
    typer.Option(
        "--article-loss",
        help="Use the article's hard-threshold BCE term (no gradient) instead of the differentiable one.",
    ),
]
Int8IoOpt = Annotated[
    bool,
    typer.Option("--int8-io", help="int8 model inputs/outputs for integer modes (Edge TPU style)."),
]
ArticlePostprocessOpt = Annotated[
    bool,
    typer.Option(
        "--article-postprocess",
        help="Zero predictions below the on-threshold (the article's quantized-model protocol).",
    ),
]


# -- helpers ------------------------------------------------------------------------------------
def _fail(message: str, code: int = 1):
    text = " ".join(str(message).split()) if code == 1 else str(message)
    typer.secho(f"error: {text}", fg="red", err=True)
    raise typer.Exit(code)


def _console():
    """stderr console; written to a file or pipe it does not wrap at rich's default 80 columns."""
    from rich.console import Console

    tty = sys.stderr.isatty()
    return Console(stderr=True, width=None if tty else WIDE_OUTPUT, soft_wrap=not tty)


def _resolve(profile, config, overrides):
    from pipeline.config import resolve_config
    from pipeline.errors import ConfigError

    try:
        return resolve_config(profile, config, list(overrides or []))
    except ConfigError as exc:
        _fail(str(exc))


def _context(store, cfg, appliance, arch, force, command, **options):
    from pipeline.context import RunContext

    _check_writable_store(store)
    return RunContext(
        store=Path(store),
        cfg=cfg,
        appliances=list(appliance) if appliance else list(Appliance),
        archs=list(arch) if arch else list(Arch),
        force=force,
        command=command,
        options={**options, "appliances_explicit": bool(appliance)},
        console=_console(),
    )


def _check_writable_store(store: Path) -> None:
    """A store that exists must be a DuckDB file; a missing one is created by the run."""
    from store.db import StoreError, check_store_file

    if Path(store).exists():
        try:
            check_store_file(store)
        except StoreError as exc:
            _fail(str(exc))


def _check_readable_store(store: Path) -> None:
    """Read commands never create a store: a mistyped --store is an error."""
    from store.db import StoreError, connect_readonly

    try:
        connect_readonly(store).close()
    except StoreError as exc:
        _fail(str(exc))


def _guard(fn: Callable):
    """Call fn; errors a person can act on become one line and exit code 1."""
    import duckdb

    from pipeline.errors import PipelineError
    from store.db import StoreError

    try:
        return fn()
    except (PipelineError, StoreError) as exc:
        _fail(str(exc))
    except duckdb.Error as exc:
        _fail(f"store: {type(exc).__name__}: {str(exc).strip().splitlines()[0]}")
    except OSError as exc:  # e.g. gc on a read-only artifacts folder
        _fail(f"{exc.filename or 'file'}: {exc.strerror or exc}")


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

    if source is not Source.synthetic:
        if path is None:
            _fail(f"--source {source.value} needs --path (the folder or file of the raw data)")
        if not Path(path).exists():
            _fail(f"{path}: --path not found (expected the folder or file of the raw data)")
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


# -- stages ------------------------------------------------------------------------------------
@app.command()
def data(
    store: StoreOpt = DEFAULT_STORE,
    profile: ProfileOpt = Profile.DEMO,
    appliance: ApplianceOpt = None,
    force: ForceOpt = False,
    config: ConfigOpt = None,
    set_: SetOpt = None,
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
    cfg = _resolve(profile, config, set_)
    ctx = _context(store, cfg, appliance, None, force, "data", data=opts.to_json())

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
    config: ConfigOpt = None,
    set_: SetOpt = None,
    strategy: StrategyOpt = Strategy.default,
    article_loss: ArticleLossOpt = False,
):
    """Train one seq2point model per appliance and architecture."""
    cfg = _resolve(profile, config, set_)
    ctx = _context(
        store,
        cfg,
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
    config: ConfigOpt = None,
    set_: SetOpt = None,
    int8_io: Int8IoOpt = False,
):
    """Convert every model to TFLite in every quantization mode and inspect per-layer error."""
    cfg = _resolve(profile, config, set_)
    ctx = _context(store, cfg, appliance, arch, force, "convert", int8_io=int8_io)

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
    config: ConfigOpt = None,
    set_: SetOpt = None,
    article_postprocess: ArticlePostprocessOpt = False,
):
    """Run every variant on the test split; store metrics and predicted traces."""
    cfg = _resolve(profile, config, set_)
    ctx = _context(
        store, cfg, appliance, arch, force, "evaluate", article_postprocess=article_postprocess
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
    config: ConfigOpt = None,
    set_: SetOpt = None,
):
    """Measure latency, per-op latency, throughput and RAM of every variant on this host."""
    cfg = _resolve(profile, config, set_)
    ctx = _context(store, cfg, appliance, arch, force, "profile")

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
    config: ConfigOpt = None,
    set_: SetOpt = None,
    source: SourceOpt = Source.synthetic,
    path: PathOpt = None,
    test_house: TestHouseOpt = None,
    val_house: ValHouseOpt = None,
    house_map: HouseMapOpt = None,
    keep_issues: KeepIssuesOpt = False,
    keep_zero_aggregate: KeepZeroOpt = False,
    strategy: StrategyOpt = Strategy.default,
    article_loss: ArticleLossOpt = False,
    int8_io: Int8IoOpt = False,
    article_postprocess: ArticlePostprocessOpt = False,
):
    """Run every stage in order (data, train, convert, evaluate, profile); skip what is current."""
    opts = _data_options(
        source, path, test_house, val_house, house_map, keep_issues, keep_zero_aggregate
    )
    cfg = _resolve(profile, config, set_)
    ctx = _context(
        store,
        cfg,
        appliance,
        arch,
        force,
        "all",
        data=opts.to_json(),
        strategy=strategy.value,
        article_loss=article_loss,
        int8_io=int8_io,
        article_postprocess=article_postprocess,
    )

    def body():
        from pipeline.all_stages import run_all

        run_all(ctx, opts)

    _run(ctx, body)


# -- reading the store --------------------------------------------------------------------------
@app.command()
def sql(
    query: Annotated[
        str,
        typer.Argument(
            help="One read statement (SELECT, WITH, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN)."
        ),
    ],
    store: ReadStoreOpt = DEFAULT_STORE,
    format: Annotated[
        OutFormat, typer.Option("--format", help="table, csv, json or parquet.")
    ] = OutFormat.table,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")
    ] = None,
    max_rows: Annotated[
        int, typer.Option("--max-rows", min=1, help="Rows shown in table format.")
    ] = 50,
    timeout: Annotated[
        float,
        typer.Option("--timeout", min=0.1, help="Stop the query after this many seconds."),
    ] = 60.0,
    allow_files: Annotated[
        bool,
        typer.Option(
            "--allow-files",
            help="Let the query read and write files (read_csv, COPY ... TO, EXPORT) for your own "
            "exports; without it the query reaches no file and no network.",
        ),
    ] = False,
):
    """Run one read-only SQL statement against the store, sandboxed and time-limited.

    The rules are the dashboard SQL page's: one read statement, no file or network access
    (unless --allow-files), a time limit. --format/--output write the result with no need for
    --allow-files.
    """
    from store import safe_sql

    def query_df():
        try:
            res = safe_sql.run_query(store, query, timeout_s=timeout, allow_files=allow_files)
        except safe_sql.UnsafeQueryError as exc:
            _fail(f"query: {exc}")
        return res.to_df()

    df = _guard(query_df)
    if format is OutFormat.parquet and output is None:
        _fail("--format parquet needs --output FILE")
    try:
        _write_result(df, format, output, max_rows)
    except OSError as exc:
        _fail(f"{output}: cannot write ({exc.strerror})")


def _write_result(df, format: OutFormat, output: Path | None, max_rows: int) -> None:
    if format is OutFormat.parquet:
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
    Console(file=buf, width=WIDE_OUTPUT).print(table)
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
def status(store: ReadStoreOpt = DEFAULT_STORE):
    """Show what the store holds: runs, datasets, models, variants, when it was refreshed."""
    meta, counts, runs, variants, last_cfg = _guard(lambda: _status_facts(store))
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


@app.command()
def gc(
    store: ReadStoreOpt = DEFAULT_STORE,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only list what would be removed.")
    ] = False,
    verify: Annotated[
        bool,
        typer.Option(
            "--verify", help="Also check every referenced file's sha256 (exit 1 on a mismatch)."
        ),
    ] = False,
):
    """Remove artifact files no row of the store references (superseded versions, leftovers of
    failed or killed runs). Never touches a referenced file; does nothing while a run is in
    progress on the store."""
    from pipeline import artifacts

    _check_readable_store(store)
    report = _guard(lambda: artifacts.collect(store, dry_run=dry_run))
    if dry_run:
        for p in report.removed:
            typer.echo(str(p))
    if report.blocked_by:
        _fail(report.text())
    typer.echo(report.text(), err=True)
    if verify:
        problems = _guard(lambda: artifacts.verify(store))
        if problems:
            _fail(f"{len(problems)} referenced file(s) inconsistent: " + "; ".join(problems[:5]))
        typer.echo("gc: every referenced file holds its recorded bytes", err=True)


def _status_facts(store: Path):
    import duckdb

    from store.db import StoreError, connect_readonly, table_counts

    con = connect_readonly(store)
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
    except duckdb.Error as exc:
        raise StoreError(
            f"{store}: damaged store, cannot read it ({str(exc).strip().splitlines()[0]})"
        ) from exc
    finally:
        con.close()
    return meta, counts, runs, variants, last_cfg


# -- measurements from elsewhere, exports -------------------------------------------------------
def _ingest_context(store: Path, command: str, **options):
    """A recorded run for an ingest command (ingests use no profile settings; demo is recorded)."""
    from pipeline.config import profile_config

    return _context(store, profile_config(Profile.DEMO), None, None, False, command, **options)


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
    from pipeline import ingest

    if not 1 <= threads <= ingest.MAX_THREADS:
        _fail(f"--threads: expected a whole number in 1..{ingest.MAX_THREADS}, got {threads}")
    res = _guard(lambda: ingest.load_benchmark(file))
    _check_readable_store(store)
    _guard(lambda: ingest.check_variant(store, file, variant))
    ctx = _ingest_context(
        store,
        "ingest-benchmark",
        file=str(file),
        host=host,
        variant=variant,
        threads=threads,
    )
    _run(ctx, lambda: ingest.store_benchmark(store, res, variant, host, threads))
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
    from pipeline.exports import export_edge_kit as export

    _check_readable_store(store)
    clauses, params = [], []
    if appliance:
        clauses.append("appliance IN (SELECT unnest(?))")
        params.append([a.value for a in appliance])
    if arch:
        clauses.append("arch IN (SELECT unnest(?))")
        params.append([a.value for a in arch])
    n = _guard(lambda: export(store, out, " AND ".join(clauses), params))
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
    from pipeline import ingest

    kit = _guard(lambda: ingest.load_edge_kit(file, host))
    _check_readable_store(store)
    _guard(lambda: ingest.check_edge_kit_variants(store, kit))
    ctx = _ingest_context(store, "ingest-edge-kit", file=str(file), host=kit.host)
    counted = []
    _run(ctx, lambda: counted.append(ingest.store_edge_kit(store, kit)))
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
    from pipeline.exports import model_explorer_node_data

    _check_readable_store(store)
    for p in _guard(lambda: model_explorer_node_data(store, variant, out)):
        typer.echo(f"wrote {p}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
