"""The options the `pipeline` commands share, each defined once (and the choices they take)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from store.vocab import Appliance, Arch, Profile


class Source(StrEnum):
    synthetic = "synthetic"
    refit = "refit"
    csv = "csv"


class Strategy(StrEnum):
    default = "default"
    mirrored = "mirrored"
    multi_worker = "multi-worker"


class ExecutorName(StrEnum):
    local = "local"
    ray = "ray"


class OutFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"
    parquet = "parquet"


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
TestHouseOpt = Annotated[
    str | None, typer.Option("--test-house", help="Test house(s) for csv data, comma-separated.")
]
ValHouseOpt = Annotated[
    str | None,
    typer.Option(
        "--val-house",
        help="Validation house for csv data ('train': each training house's last 15 % by time).",
    ),
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
ResampleOpt = Annotated[
    float | None,
    typer.Option(
        "--resample",
        metavar="SECONDS",
        help="Bring every house of csv data to this sampling period (a mean over each period when "
        "coarser; each reading held over the shorter periods it covers when finer), so that "
        "houses recorded at different rates (30 s, 1 min) can be used together.",
    ),
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
ExecutorOpt = Annotated[
    ExecutorName,
    typer.Option(
        "--executor",
        help="Where the items run: local (this machine's worker processes, the default) or ray "
        "(Ray tasks; pip install 'nilm-edge[ray]'). The store is written by this process only.",
    ),
]
RayAddressOpt = Annotated[
    str | None,
    typer.Option(
        "--ray-address",
        help="Ray cluster to join (host:port or ray://...); without it, a local Ray instance.",
    ),
]
RayCpusOpt = Annotated[
    int | None,
    typer.Option("--ray-cpus", min=1, help="CPUs of the local Ray instance (default: all)."),
]
