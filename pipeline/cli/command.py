"""The `pipeline` command line (the console script `pipeline = pipeline.cli.command:main`).

The Typer app and what the commands share are in pipeline/cli/common.py, the shared options in
pipeline/cli/options.py; the commands are in pipeline/cli/stage_commands.py (data, train, convert,
evaluate, profile, all), pipeline/cli/store_commands.py (sql, status, gc) and pipeline/cli/exchange_commands.py
(ingest-*, export-*). Importing them registers the commands, in the order `--help` lists them.
"""

from __future__ import annotations

from pipeline.cli.common import WIDE_OUTPUT, app, console

# importing a command module registers its commands; this order is the order of `--help`
# isort: off
from pipeline.cli import stage_commands as cli_stages  # noqa: F401
from pipeline.cli import store_commands as cli_store  # noqa: F401
from pipeline.cli import exchange_commands as cli_exchange  # noqa: F401

# isort: on

__all__ = ["WIDE_OUTPUT", "app", "console", "main"]


def main() -> None:
    app()


if __name__ == "__main__":
    main()
