"""Commands that read the store: sql, status, gc."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from pipeline.cli.common import WIDE_OUTPUT, app, check_readable_store, fail, guard
from pipeline.cli.options import OutFormat, ReadStoreOpt
from store.db import DEFAULT_STORE

CELL_CHARS = 1000  # longest value a table cell shows; longer ones are cut, with a note
CUT_MARK = "… (cut, use --format csv)"


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
            fail(f"query: {exc}")
        return res.to_df()

    df = guard(query_df)
    if format is OutFormat.parquet and output is None:
        fail("--format parquet needs --output FILE")
    try:
        _write_result(df, format, output, max_rows)
    except OSError as exc:
        fail(f"{output}: cannot write ({exc.strerror})")


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
        table.add_column(_cut(str(c)), overflow="fold")
    cut = 0
    for row in df.head(max_rows).itertuples(index=False):
        cells = [_cell(v) for v in row]
        cut += sum(len(c) > CELL_CHARS for c in cells)
        table.add_row(*[_cut(c) for c in cells])
    buf = StringIO()
    Console(file=buf, width=WIDE_OUTPUT).print(table)
    more = (
        f"({len(df)} rows, first {max_rows} shown)\n"
        if len(df) > max_rows
        else f"({len(df)} rows)\n"
    )
    if cut:
        more += (
            f"({cut} cell(s) longer than {CELL_CHARS:,} characters cut; "
            "--format csv or json prints whole values)\n"
        )
    return buf.getvalue() + more


def _cell(v) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return "" if v is None else str(v)


def _cut(text: str) -> str:
    """A table cell at most CELL_CHARS long: laying out a huge value would take minutes."""
    return text if len(text) <= CELL_CHARS else text[:CELL_CHARS] + CUT_MARK


@app.command()
def status(store: ReadStoreOpt = DEFAULT_STORE):
    """Show what the store holds: runs, datasets, models, variants, when it was refreshed."""
    meta, counts, runs, variants, last_cfg = guard(lambda: _status_facts(store))
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
        prof = json.loads(last_cfg[0]["config"]).get("profile", {})
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
    progress on the store. --dry-run and --verify work on a store in a read-only folder."""
    from pipeline.core import artifacts

    check_readable_store(store)
    if not dry_run and not os.access(Path(store).resolve().parent, os.W_OK):
        if not verify:
            fail(
                f"{store}: the store's folder is read-only: nothing can be removed (--dry-run lists)"
            )
        typer.echo("gc: the store's folder is read-only: nothing removed (as --dry-run)", err=True)
        dry_run = True
    report = guard(lambda: artifacts.collect(store, dry_run=dry_run))
    if dry_run:
        for p in report.removed:
            typer.echo(str(p))
    if report.blocked_by:
        fail(report.text())
    typer.echo(report.text(), err=True)
    if verify:
        problems = guard(lambda: artifacts.verify(store))
        if problems:
            fail(f"{len(problems)} referenced file(s) inconsistent: " + "; ".join(problems[:5]))
        typer.echo("gc: every referenced file holds its recorded bytes", err=True)


def _status_facts(store: Path):
    """What `status` shows, read in one read-only connection."""
    import duckdb

    from store.db import StoreError, connect_readonly, fetch_records, table_counts

    con = connect_readonly(store)
    try:
        meta = {r["key"]: r["value"] for r in fetch_records(con, "SELECT key, value FROM meta")}
        counts = table_counts(con)
        runs = con.execute(
            "SELECT run_id, command, profile, status, started_at, finished_at FROM runs ORDER BY started_at DESC LIMIT 5"
        ).df()
        variants = con.execute(
            "SELECT appliance, arch, count(*) FILTER (WHERE status = 'ok') AS ok, count(*) FILTER (WHERE status <> 'ok') AS failed FROM variants GROUP BY ALL ORDER BY ALL"
        ).df()
        last_cfg = fetch_records(con, "SELECT config FROM runs ORDER BY started_at DESC LIMIT 1")
    except duckdb.Error as exc:
        raise StoreError(
            f"{store}: damaged store, cannot read it ({str(exc).strip().splitlines()[0]})"
        ) from exc
    finally:
        con.close()
    return meta, counts, runs, variants, last_cfg
