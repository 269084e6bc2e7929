"""nilm-edge batch pipeline: data -> train -> convert -> evaluate -> profile, into one DuckDB store.

One package per stage, each with a ``stage.py`` holding the stage's entry point (``run_<stage>``),
below them what every stage shares, above them the command line:

    cli/        the `pipeline` command (Typer app, shared options, the commands)
    all_stages  `pipeline all`: the stages in order (progress.py: its live progress file)
    exchange/   measurements made elsewhere in, files for other tools out (ingest, exports, edge kit)
    measure/    the `pipeline profile` stage: latency, memory, op profile, the measuring child
    evaluate/   the evaluation stage: sample, predictions, estimates, metrics, baselines
    convert/    the conversion stage: quantization modes, converters, variants, the inspector
    train/      the training stage: model builders, loss, callbacks, one model's fit, workers
    data/       the data stage: readers, synthetic data, series, windows, strata
    core/       what every stage shares: run context, artifacts, hashing, worker pool, TFLite runtime
    settings/   constants, the presets, TOML and --set overrides
    errors      the errors every layer raises

A package imports only the packages below it that its ``__init__`` docstring names on its
"Imports:" line (each top-level module says the same in its docstring); tests/test_boundaries.py
checks that, and that no modules import each other in a cycle. Everything may import ``store``;
nothing here imports ``dashboard``.
"""
