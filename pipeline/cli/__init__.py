"""The `pipeline` command line: the Typer app and what the commands share (common.py), the shared
options (options.py), the commands (stage_commands.py: data, train, convert, evaluate, profile,
all; store_commands.py: sql, status, gc; exchange_commands.py: ingest-*, export-*), and command.py,
the console script's entry point, which registers them in the order `--help` lists them.
The package itself runs it too (`python -m` on pipeline/cli/: __main__.py).

Imports: all_stages, exchange, measure, evaluate, convert, train, data, core, settings, errors, store.
"""
