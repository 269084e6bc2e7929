"""The `pipeline` Typer app, and what its commands share: the console, the error line, the
recorded run, the store checks. Heavy libraries (TensorFlow) are imported inside commands only,
so `pipeline --help` stays fast.

Every error a person can act on (bad input, a missing or damaged store, a refused query) ends the
command with exit code 1 and one line `error: <file or field>: <what was expected>`; argument
checks run before a run is recorded, so a typo leaves no failed run behind.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from pipeline.cli.options import Source
from store.cli_conventions import flags_without_type, version_callback
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


def fail(message: str, code: int = 1):
    """End the command with `error: <message>` on stderr (one line for exit code 1)."""
    text = " ".join(str(message).split()) if code == 1 else str(message)
    typer.secho(f"error: {text}", fg="red", err=True)
    raise typer.Exit(code)


def console():
    """stderr console; written to a file or pipe it does not wrap at rich's default 80 columns."""
    from rich.console import Console

    tty = sys.stderr.isatty()
    return Console(stderr=True, width=None if tty else WIDE_OUTPUT, soft_wrap=not tty)


def resolve_profile(profile, config, overrides):
    """The run's settings: the preset, then --config, then each --set (a bad one ends here)."""
    from pipeline.errors import ConfigError
    from pipeline.settings.overrides import resolve_config

    try:
        return resolve_config(profile, config, list(overrides or []))
    except ConfigError as exc:
        fail(str(exc))


def stage_context(store, cfg, appliance, arch, force, command, **options):
    """The RunContext of a command (every appliance and architecture unless some are named)."""
    from pipeline.core.context import RunContext, RunOptions

    check_writable_store(store)
    if getattr(cfg, "eval_postprocess", "none") == "threshold":  # the setting, as the flag
        options["article_postprocess"] = True
    return RunContext(
        store=Path(store),
        cfg=cfg,
        appliances=list(appliance) if appliance else list(Appliance),
        archs=list(arch) if arch else list(Arch),
        force=force,
        command=command,
        options=RunOptions.of(**options, appliances_explicit=bool(appliance)),
        console=console(),
    )


def start_executor(name: str, address: str | None, cpus: int | None):
    """The executor `--executor` names: local, or Ray (pipeline/core/ray_executor.py, imported
    only here); a missing extra or an unreachable cluster ends the command with one line."""
    from pipeline.core.executors import LOCAL

    if name == "local":
        if address is not None or cpus is not None:
            fail("--ray-address and --ray-cpus are for --executor ray")
        return LOCAL
    try:
        import ray  # noqa: F401
    except ImportError:
        fail("--executor ray needs Ray, which is not installed: pip install 'nilm-edge[ray]'")
    from pipeline.core.ray_executor import RayExecutor

    try:
        return RayExecutor(address=address, cpus=cpus)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        fail(f"--ray-address {address}: cannot start or join Ray ({exc})")


def check_writable_store(store: Path) -> None:
    """A store that exists must be a DuckDB file; a missing one is created by the run."""
    from store.db import StoreError, check_store_file

    if Path(store).exists():
        try:
            check_store_file(store)
        except StoreError as exc:
            fail(str(exc))


def check_readable_store(store: Path) -> None:
    """Read commands never create a store: a mistyped --store is an error."""
    from store.db import StoreError, connect_readonly

    try:
        connect_readonly(store).close()
    except StoreError as exc:
        fail(str(exc))


def guard(fn: Callable):
    """Call fn; errors a person can act on become one line and exit code 1."""
    import duckdb

    from pipeline.errors import PipelineError
    from store.db import StoreError

    try:
        return fn()
    except (PipelineError, StoreError) as exc:
        fail(str(exc))
    except duckdb.Error as exc:
        fail(f"store: {type(exc).__name__}: {str(exc).strip().splitlines()[0]}")
    except OSError as exc:  # e.g. gc on a read-only artifacts folder
        fail(f"{exc.filename or 'file'}: {exc.strerror or exc}")


def run_recorded(ctx, body) -> None:
    """Run a command body inside a recorded run; errors a person can act on print without traceback."""
    from pipeline.errors import PipelineError
    from store.db import StoreError

    try:
        ctx.start_run()
    except StoreError as exc:
        fail(str(exc))
    try:
        body()
    except KeyboardInterrupt:
        ctx.finish_run("interrupted")
        fail("interrupted; the store holds everything that finished, re-run to resume", 130)
    except (PipelineError, StoreError) as exc:
        ctx.finish_run("failed")
        fail(str(exc))
    except BaseException:
        ctx.finish_run("failed")
        raise
    ctx.finish_run("finished")


def run_recorded_once(ctx, body) -> None:
    """Run a short command whose rows are one publish: ``body(record)`` calls ``record(con)``
    inside its write, so the run's row (finished) is published with its rows. Readers see one
    new version instead of three; a command that fails leaves the store as it was."""
    from pipeline.core.context import utcnow
    from pipeline.errors import PipelineError
    from store.db import StoreError

    started = utcnow()
    try:
        body(lambda con: ctx.record_finished_run(con, started))
    except KeyboardInterrupt:
        fail("interrupted; nothing was stored", 130)
    except (PipelineError, StoreError) as exc:
        fail(str(exc))


def data_options(
    source, path, test_house, val_house, house_map, keep_issues, keep_zero, resample=None
):
    """The data stage's options from the command line, checked before any run is recorded."""
    from pipeline.data.stage import DataOptions

    if source is not Source.synthetic:
        if path is None:
            fail(f"--source {source.value} needs --path (the folder or file of the raw data)")
        if not Path(path).exists():
            fail(f"{path}: --path not found (expected the folder or file of the raw data)")
    if resample is not None:
        if source is not Source.csv:
            fail("--resample applies to --source csv (REFIT and the embedded data are at 8 s)")
        if not (resample >= 1 and float(resample).is_integer()):
            fail(f"--resample expects a whole number of seconds, at least 1, got {resample:g}")
        resample = int(resample)
    mapping = None
    if house_map:
        mapping = {}
        for item in house_map:
            if "=" not in item:
                fail(f"--house-map expects FILE=HOUSE, got {item!r}")
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
        resample_s=resample,
    )


def ingest_context(store: Path, command: str, **options):
    """A recorded run for an ingest command (ingests use no profile settings; demo is recorded)."""
    from pipeline.settings.presets import profile_config

    return stage_context(store, profile_config(Profile.DEMO), None, None, False, command, **options)
