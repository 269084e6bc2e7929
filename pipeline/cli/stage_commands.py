"""The stage commands: data, train, convert, evaluate, profile, and all of them in order."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipeline.cli.common import (
    app,
    data_options,
    resolve_profile,
    run_recorded,
    stage_context,
    start_executor,
)
from pipeline.cli.options import (
    ApplianceOpt,
    ArchOpt,
    ArticleLossOpt,
    ArticlePostprocessOpt,
    ConfigOpt,
    ExecutorName,
    ExecutorOpt,
    ForceOpt,
    HouseMapOpt,
    Int8IoOpt,
    KeepIssuesOpt,
    KeepZeroOpt,
    PathOpt,
    ProfileOpt,
    RayAddressOpt,
    RayCpusOpt,
    ResampleOpt,
    SetOpt,
    Source,
    SourceOpt,
    StoreOpt,
    Strategy,
    StrategyOpt,
    TestHouseOpt,
    ValHouseOpt,
)
from store.db import DEFAULT_STORE
from store.vocab import Profile


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
    resample: ResampleOpt = None,
    plot: Annotated[
        Path | None,
        typer.Option("--plot", help="Also write an HTML plot of one day of a house to this file."),
    ] = None,
):
    """Read raw data (or generate the embedded dataset) into per-appliance train/val/test splits."""
    opts = data_options(
        source, path, test_house, val_house, house_map, keep_issues, keep_zero_aggregate, resample
    )
    cfg = resolve_profile(profile, config, set_)
    ctx = stage_context(store, cfg, appliance, None, force, "data", data=opts.to_json())

    def body():
        from pipeline.data.stage import run_data

        run_data(ctx, opts)
        if plot:
            from pipeline.data.plots import plot_day

            plot_day(ctx, plot)
            typer.echo(f"plot written to {plot}")

    run_recorded(ctx, body)


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
    cfg = resolve_profile(profile, config, set_)
    ctx = stage_context(
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
        from pipeline.train.stage import run_train

        run_train(ctx)

    run_recorded(ctx, body)


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
    cfg = resolve_profile(profile, config, set_)
    ctx = stage_context(store, cfg, appliance, arch, force, "convert", int8_io=int8_io)

    def body():
        from pipeline.convert.stage import run_convert

        run_convert(ctx)

    run_recorded(ctx, body)


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
    cfg = resolve_profile(profile, config, set_)
    ctx = stage_context(
        store, cfg, appliance, arch, force, "evaluate", article_postprocess=article_postprocess
    )

    def body():
        from pipeline.evaluate.stage import run_evaluate

        run_evaluate(ctx)

    run_recorded(ctx, body)


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
    cfg = resolve_profile(profile, config, set_)
    ctx = stage_context(store, cfg, appliance, arch, force, "profile")

    def body():
        from pipeline.measure.stage import run_profile

        run_profile(ctx)

    run_recorded(ctx, body)


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
    resample: ResampleOpt = None,
    strategy: StrategyOpt = Strategy.default,
    article_loss: ArticleLossOpt = False,
    int8_io: Int8IoOpt = False,
    article_postprocess: ArticlePostprocessOpt = False,
    margin: Annotated[
        float | None,
        typer.Option(
            "--margin",
            help="F1 the recommendation lets a cheaper variant lose to the best, paired "
            "(default 0.02; the same as --set recommend.margin=...).",
        ),
    ] = None,
    executor: ExecutorOpt = ExecutorName.local,
    ray_address: RayAddressOpt = None,
    ray_cpus: RayCpusOpt = None,
):
    """Run every stage in order (data, train, convert, evaluate, profile); skip what is current."""
    opts = data_options(
        source, path, test_house, val_house, house_map, keep_issues, keep_zero_aggregate, resample
    )
    if margin is not None:
        set_ = [*(set_ or []), f"recommend.margin={margin}"]
    cfg = resolve_profile(profile, config, set_)
    ctx = stage_context(
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
        executor=executor.value,
        ray_address=ray_address,
    )
    ctx.executor = start_executor(executor.value, ray_address, ray_cpus)
    run_recorded(ctx, lambda: _run_all(ctx, opts))


def _run_all(ctx, opts) -> None:
    """`pipeline all`'s body: the stages on the run's executor, which is released at the end."""
    from pipeline.all_stages import run_all

    ctx.console.print(f"executor: {ctx.executor.describe()}")
    try:
        run_all(ctx, opts)
    finally:
        ctx.executor.close()
