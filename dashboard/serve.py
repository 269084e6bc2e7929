"""`dashboard`: serve the Dash app over a store with waitress, a production WSGI server.

Waitress answers each request on one of a pool of threads, so one slow callback does not queue
everyone. Callbacks read the store through short read-only sessions that share one open file
per version of the store, and keep their answers per version (dashboard/store_reads.py), so a
page load rarely touches the store; SQL-page queries run in worker processes (store/safe_sql.py),
so they never hold up or break the other pages.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from store.cli_conventions import flags_without_type, version_callback
from store.db import DEFAULT_STORE

flags_without_type()

cli = typer.Typer(
    help="Serve the nilm-edge dashboard over a store (http://127.0.0.1:8050/ unless told otherwise).",
    add_completion=False,
    pretty_exceptions_enable=False,
)


_version = version_callback("dashboard")


@cli.command()
def serve(
    store: Annotated[
        Path, typer.Option("--store", help="DuckDB store file written by `pipeline`.")
    ] = DEFAULT_STORE,
    host: Annotated[
        str,
        typer.Option("--host", help="Address to bind; 0.0.0.0 exposes it to the network."),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port.")] = 8050,
    threads: Annotated[
        int,
        typer.Option(
            "--threads",
            "--workers",
            min=1,
            max=256,
            help="Requests served at once (waitress worker threads in one process).",
        ),
    ] = 8,
    debug: Annotated[
        bool,
        typer.Option(
            "--debug", help="Flask's development server with Dash's debug tools (not for sharing)."
        ),
    ] = False,
    allow_missing: Annotated[
        bool,
        typer.Option(
            "--allow-missing",
            help="Start even when the store does not exist yet (`make run` starts the dashboard "
            "before `pipeline all` creates it); the pages say so until it appears.",
        ),
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Serve the nilm-edge dashboard."""
    from store.db import StoreError, connect_readonly

    try:
        if not (allow_missing and not Path(store).exists()):
            connect_readonly(store).close()  # a mistyped --store is an error, not an empty one
    except StoreError as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise typer.Exit(1) from None
    from dashboard.app import create_app

    app = create_app(store)
    typer.echo(f"nilm-edge dashboard on http://{host}:{port}/ (store {store})")
    if debug:
        app.run(host=host, port=port, debug=True)
        return
    import waitress

    waitress.serve(app.server, host=host, port=port, threads=threads, ident="nilm-edge")


def main(argv: list[str] | None = None) -> None:
    cli(args=argv, prog_name="dashboard")


if __name__ == "__main__":
    main()
