"""The `pipeline` command line (the console script `pipeline = pipeline.cli:main`).

The Typer app and what the commands share are in pipeline/cli_app.py, the shared options in
pipeline/cli_options.py; the commands are in pipeline/cli_stages.py (data, train, convert,
evaluate, profile, all), pipeline/cli_store.py (sql, status, gc) and pipeline/cli_exchange.py
(ingest-*, export-*). Importing them registers the commands, in the order `--help` lists them.
"""

from __future__ import annotations

from pipeline.cli_app import WIDE_OUTPUT, app, console

# importing a command module registers its commands; this order is the order of `--help`
# isort: off
from pipeline import cli_stages  # noqa: F401
from pipeline import cli_store  # noqa: F401
from pipeline import cli_exchange  # noqa: F401

# isort: on

__all__ = ["WIDE_OUTPUT", "app", "console", "main"]


def main() -> None:
    app()


if __name__ == "__main__":
    main()
