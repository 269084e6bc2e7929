"""Conversion stage: every model to TFLite in every quantization mode, with inspection.

Each mode is a record in pipeline/convert/modes.py, its converter settings recorded verbatim in the
store. The work is split by responsibility:

* pipeline/convert/modes.py: the mode registry (settings, build path, --int8-io, kernel facts);
* pipeline/convert/converters.py: SavedModel export and the converters that build the files;
* pipeline/convert/quant_debug.py: the QuantizationDebugger, per-layer statistics, SQNR, range checks;
* pipeline/convert/quant_sensitivity.py: which tensors break the model end to end, what to protect;
* pipeline/core/tflite_runtime.py: interpreters, batch-1 inference, op census, XNNPACK partitions;
* pipeline/convert/variants.py: one model's variants and their rows;
* this module: which models need converting, the worker processes, the store rows.
"""

from __future__ import annotations

import time
from pathlib import Path

from pipeline.convert.quant_debug import layer_stat_records
from pipeline.convert.quant_sensitivity import sensitivity_records
from pipeline.convert.variants import convert_model
from pipeline.core.context import RunContext
from pipeline.core.hashing import file_sha256, stable_hash
from pipeline.errors import ModelFileError, NotReadyError
from pipeline.settings.stages import settings_key, stage_settings
from store import db, ids
from store.vocab import Arch, Split

# part of every model's cache key: bump when the conversion of an unchanged model changes
CONVERT_CODE_VERSION = "v3"
# part of the key of a model that gets a quantization-aware fine-tune: bump when that changes
# (q2: the model is loaded with the fine-tune's seed set, so its qat files are reproducible)
QAT_CODE_VERSION = "q2"


def _model_row(ctx: RunContext, model_id: str) -> dict:
    rows = (
        ctx.read("SELECT * FROM models WHERE model_id = ?", [model_id])
        if ctx.store.exists()
        else None
    )
    if rows is None or rows.empty:
        raise NotReadyError(f"no trained model {model_id} in the store: run `pipeline train` first")
    return rows.iloc[0].to_dict()


def _cache_key(ctx: RunContext, appliance, model_row: dict) -> str:
    data_row = ctx.read(
        "SELECT sha256 FROM datasets WHERE dataset_id = ?", [ids.dataset_id(appliance, Split.TRAIN)]
    )
    cfg = ctx.cfg.for_appliance(appliance)  # the QAT fine-tune reads training settings
    settings = stage_settings("convert", cfg, ctx.options, Arch(model_row["arch"]))
    return convert_key(settings, model_row["sha256"], data_row["sha256"].iloc[0])


def convert_key(settings, model_sha: str, train_data_sha: str) -> str:
    """The cache key of one model's conversion: its file, its training split (calibration),
    its ConvertSettings and the code's version (and the fine-tune's, where it makes one)."""
    parts = [model_sha, train_data_sha, *settings_key(settings), CONVERT_CODE_VERSION]
    if getattr(settings, "qat_steps", None):
        parts.append(QAT_CODE_VERSION)
    return stable_hash(parts)


def _models_to_convert(ctx: RunContext) -> list[tuple]:
    """(appliance, arch, model row, cache key) of every selected model not converted as asked."""
    todo = []
    for appliance in ctx.appliances:
        for arch in ctx.archs:
            model_id = ids.model_id(appliance, arch)
            model_row = _model_row(ctx, model_id)
            key = _cache_key(ctx, appliance, model_row)
            if ctx.skip_if_current("convert", model_id, key):
                continue
            todo.append((appliance, arch, model_row, key))
    return todo


def _check_model_files(ctx: RunContext, todo: list[tuple]) -> None:
    """Fail fast, before any worker starts."""
    for _, _, model_row, _ in todo:
        path = ctx.artifacts / model_row["artifact_path"]
        if not path.exists() or file_sha256(path) != model_row["sha256"]:
            raise ModelFileError(
                f"{path}: missing, or its sha256 differs from the store's record; retrain it (`pipeline train --force`)"
            )


def _write(con, model_id: str, variants, census_rows, stats_rows, sensitivity_rows) -> None:
    ids = [v["variant_id"] for v in variants]
    for table in ("variants", "op_census", "quant_layer_stats", "quant_sensitivity"):
        con.execute(f"DELETE FROM {table} WHERE variant_id IN (SELECT unnest(?))", [ids])
    db.insert_records(con, "variants", variants)
    db.insert_records(con, "op_census", census_rows)
    for vid, stats in stats_rows:
        db.insert_records(con, "quant_layer_stats", layer_stat_records(vid, stats))
    for vid, ranking in sensitivity_rows:
        db.insert_records(con, "quant_sensitivity", sensitivity_records(vid, ranking))


def _convert_job(store, cfg, options, appliance, arch, model_row):
    """One model's conversions in a worker process; returns the rows for the parent to commit."""
    ctx = RunContext(
        store=Path(store),
        cfg=cfg,
        appliances=[appliance],
        archs=[arch],
        options=options,
    )
    t0 = time.perf_counter()
    variants, census, stats, sensitivity = convert_model(ctx, appliance, arch, model_row)
    return variants, census, stats, sensitivity, time.perf_counter() - t0


def _convert_in_workers(ctx: RunContext, todo: list[tuple]) -> None:
    """Models are converted as jobs of the run's executor (locally parallel worker processes:
    the converter and calibration are mostly single-threaded); each finished model is committed."""
    from pipeline.core.executors import Job, Resources, executor_of

    jobs = [
        Job(
            _convert_job,
            (str(ctx.store), ctx.cfg, ctx.options, a, arch, row),
            (a, arch, key),
            Resources(cpus=1),
        )
        for a, arch, row, key in todo
    ]
    for (appliance, arch, key), result in executor_of(ctx).run(jobs, ctx.cfg.convert_workers):
        model_id = ids.model_id(appliance, arch)
        variants, census, stats, sensitivity, seconds = result
        ctx.commit(
            "convert",
            model_id,
            key,
            seconds,
            lambda con, a=(model_id, variants, census, stats, sensitivity): _write(con, *a),
        )
        ok = sum(v["status"] == "ok" for v in variants) - 1
        ctx.console.print(f"convert: {model_id} done ({ok} TFLite variants, {seconds:.0f} s)")


def run_convert(ctx: RunContext) -> None:
    """Convert every selected model that is not converted as asked already."""
    todo = _models_to_convert(ctx)
    if not todo:
        return
    _check_model_files(ctx, todo)
    _convert_in_workers(ctx, todo)
