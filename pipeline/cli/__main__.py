"""The package run with `python -m`: the same as the `pipeline` command."""

from pipeline.cli.command import main

main()
