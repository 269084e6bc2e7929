"""One model's variants: its file in every mode, built as the mode's record says, checked on
the debug windows, and described in rows for the variants, op_census and quant_layer_stats
tables. Variants with int8 activations are inspected with TFLite's QuantizationDebugger; the
tensors that break w8_a8 end to end (pipeline/convert/quant_sensitivity.py) are kept in float by
`w8_a8_selective` and given int16 activations by `w8_a8_mixed16`.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.convert.converters import export_saved_model, make_converter, mixed16_model
from pipeline.convert.modes import MODE_SPECS, Build, ModeSpec, recorded_settings
from pipeline.convert.quant_debug import inspect
from pipeline.convert.quant_sensitivity import Sensitivity, rank_tensors
from pipeline.core import artifacts
from pipeline.core.context import RunContext
from pipeline.core.hashing import file_sha256
from pipeline.core.quiet import quiet_tf, silenced
from pipeline.core.tflite_runtime import (
    float_compute_ops,
    op_census,
    run_tflite,
    xnnpack_partitions,
)
from pipeline.data.stage import load_split
from pipeline.data.windows import Windows
from pipeline.errors import ModelFileError
from pipeline.settings.constants import AGG_MEAN_W, AGG_STD_W, APPLIANCES
from store import ids
from store.vocab import Appliance, Arch, Mode, Split

# the variants columns describing a produced file (NULL when it cannot be produced)
FILE_COLUMNS = (
    "file_path",
    "file_bytes",
    "sha256",
    "xnnpack_partitions",
    "n_ops",
    "float_compute_ops",
    "debug_rmse",
    "debug_max_abs",
)


def calibration_sets(ctx: RunContext, appliance: Appliance):
    """Balanced calibration and debug windows, both drawn from the training split only."""
    split, row = load_split(ctx, appliance, Split.TRAIN)
    if row["split"] != Split.TRAIN.value:
        raise AssertionError("calibration must come from the training split")
    w = Windows(split, AGG_MEAN_W, AGG_STD_W, APPLIANCES[appliance].max_power_w)
    rng = np.random.default_rng(ctx.cfg.seed + 7)
    cal_starts, cal_info = w.balanced(ctx.cfg.calibration_windows, rng)
    dbg_starts, dbg_info = w.balanced(
        ctx.cfg.debug_windows, np.random.default_rng(ctx.cfg.seed + 11)
    )
    sens_starts, sens_info = w.balanced(
        ctx.cfg.sensitivity_windows, np.random.default_rng(ctx.cfg.seed + 13)
    )
    info = {
        "calibration": cal_info,
        "debug": dbg_info,
        "sensitivity": sens_info,
        "sensitivity_inputs": w.inputs(sens_starts),
        "split": row["dataset_id"],
        "houses": row["houses"],
    }
    return w.inputs(cal_starts), w.inputs(dbg_starts), info, row


@dataclass
class ModelConversion:
    """What the modes of one model share: its SavedModel, the calibration and debug windows,
    the Keras model's outputs on the debug and sensitivity windows, the debugger's statistics
    and end-to-end sensitivity by mode, and the rows collected so far."""

    ctx: RunContext
    model_id: str
    appliance: Appliance
    arch: Arch
    saved: Path
    calibration: np.ndarray
    debug: np.ndarray
    cal_info: dict
    keras_debug_out: np.ndarray
    int8_io: bool
    sensitivity_windows: np.ndarray | None = None
    keras_sensitivity_out: np.ndarray | None = None
    model_path: Path | None = None  # the trained Keras file (quantization-aware fine-tuning)
    qat: tuple | None = None  # (SavedModel, record, seconds) of the fine-tuned model, once made
    stats: dict[Mode, pd.DataFrame] = field(default_factory=dict)
    sensitivity: dict[Mode, Sensitivity] = field(default_factory=dict)
    variants: list[dict] = field(default_factory=list)
    census_rows: list[dict] = field(default_factory=list)
    stats_rows: list[tuple[str, pd.DataFrame]] = field(default_factory=list)
    sensitivity_rows: list[tuple[str, pd.DataFrame]] = field(default_factory=list)
    # lines for the console, printed once the (silenced) build is done
    notes: list[str] = field(default_factory=list)

    def debugged(self, mode: Mode, denylist=None):
        """(statistics, file) from the debugger with the mode's settings. Without a denylist
        the statistics are kept by mode and, for a mode whose tensors another mode protects,
        the tensors are ranked end to end (its sensitivity rows are stored with its variant)."""
        cfg = self.ctx.cfg
        found = inspect(
            self.saved, self.calibration, self.debug, denylist, cfg.suspect_threshold, mode
        )
        if denylist is None:
            self.stats[mode] = found.stats
            if any(s.suspects_of is mode for s in MODE_SPECS.values()):
                self.sensitivity[mode] = self._ranked(found, mode)
        return found.stats, found.model

    def _ranked(self, found, mode: Mode) -> Sensitivity:
        on_level = (
            APPLIANCES[self.appliance].on_threshold_w / APPLIANCES[self.appliance].max_power_w
        )
        cfg = self.ctx.cfg
        sens = rank_tensors(
            found,
            self.sensitivity_windows,
            self.keras_sensitivity_out,
            on_level,
            cfg.sensitivity_top_k,
            cfg.protect_recovered_share,
        )
        self.sensitivity_rows.append((ids.variant_id(self.model_id, mode), sens.ranking))
        self.notes.append(
            f"convert: {ids.variant_id(self.model_id, mode)}: {len(sens.ranking)} tensors ranked end to "
            f"end in {sens.seconds:.1f} s; protect {sens.protected or 'none'} (output RMSE "
            f"{sens.rmse_quant:.4g} -> {sens.rmse_protected:.4g})"
        )
        return sens

    def protected_of(self, mode: Mode) -> Sensitivity:
        """The end-to-end ranking of `mode` and the tensors it says to protect."""
        if mode not in self.sensitivity:
            self.debugged(mode)
        return self.sensitivity[mode]


# -- how a file is built, by the record's `build` ------------------------------------------
# each returns (debugger statistics or None, file); settings get the suspects a build uses


def _by_converter(job: ModelConversion, mode: Mode, spec: ModeSpec, settings: dict):
    return None, make_converter(job.saved, mode, job.calibration, job.int8_io).convert()


def _by_debugger(job: ModelConversion, mode: Mode, spec: ModeSpec, settings: dict):
    if job.int8_io:  # the debugger builds float I/O only: statistics come after (_produce)
        return _by_converter(job, mode, spec, settings)
    return job.debugged(mode)


def _protected(job: ModelConversion, spec: ModeSpec, settings: dict) -> list[str]:
    """The tensors the end-to-end ranking of `spec.suspects_of` protects, recorded with why."""
    sens = job.protected_of(spec.suspects_of)
    settings[spec.suspects_setting] = sens.protected
    settings["protected_by"] = {
        "ranking": "quant_sensitivity of " + ids.variant_id(job.model_id, spec.suspects_of),
        "rule": (
            "tensors in rank order, each kept only if it lowers the output error, until "
            f"{job.ctx.cfg.protect_recovered_share:.0%} of the int8 output error is recovered "
            f"or {job.ctx.cfg.sensitivity_top_k} are chosen"
        ),
        "output_rmse_int8": sens.rmse_quant,
        "output_rmse_protected_float": sens.rmse_protected,
        "ranking_seconds": round(sens.seconds, 1),
        "why": {r.tensor_name: r.why for r in sens.ranking.itertuples() if r.protected},
    }
    return sens.protected


def _by_debugger_denylist(job: ModelConversion, mode: Mode, spec: ModeSpec, settings: dict):
    deny = _protected(job, spec, settings)
    return job.debugged(mode, denylist=deny)


def _by_ai_edge_quantizer(job: ModelConversion, mode: Mode, spec: ModeSpec, settings: dict):
    int16 = _protected(job, spec, settings)
    return None, mixed16_model(job.saved, job.calibration, int16)


def _by_qat(job: ModelConversion, mode: Mode, spec: ModeSpec, settings: dict):
    """Fine-tune a fresh copy of the trained model with fake-quant on the training split
    (pipeline/convert/qat.py), then quantize it as the mode's record says, with the same calibration
    windows as the other modes."""
    if job.qat is None:  # the fine-tune is done once per model, for every QAT mode
        job.qat = _fine_tune(job)
    saved, record, seconds = job.qat
    settings["quantization_aware_training"] = record
    job.notes.append(
        f"convert: {ids.variant_id(job.model_id, mode)}: from the model fine-tuned with fake-quant for "
        f"{record['steps']} steps in {seconds:.0f} s (final loss {record['final_loss']:.4g})"
    )
    return None, make_converter(saved, mode, job.calibration, job.int8_io).convert()


def _fine_tune(job: ModelConversion) -> tuple[Path, dict, float]:
    """The model fine-tuned with fake-quant on its training split, in the training mix and with
    the training loss (its off-power weight included; not the augmented or distractor windows)."""
    from pipeline.convert.qat import QatPlan, fine_tuned_saved_model
    from pipeline.data.strata import hard_negatives
    from pipeline.train.loss import appliance_loss

    ctx, params = job.ctx, APPLIANCES[job.appliance]
    split, _ = load_split(ctx, job.appliance, Split.TRAIN)
    w = Windows(split, AGG_MEAN_W, AGG_STD_W, params.max_power_w)
    hard_fraction = ctx.cfg.hard_fraction[job.arch]
    mix = {
        "on_fraction": ctx.cfg.on_fraction,
        "hard": hard_negatives(w, w.starts, params.on_threshold_w) if hard_fraction else None,
        "hard_fraction": hard_fraction,
    }
    plan = QatPlan(
        steps=ctx.cfg.qat_steps[job.arch],
        batch=ctx.cfg.batch[job.arch],
        lr=ctx.cfg.qat_peak_lr,
        seed=ctx.cfg.seed + 17,
    )
    loss = appliance_loss(params, ctx.options.article_loss, ctx.cfg.off_weight)
    saved, record = fine_tuned_saved_model(
        job.model_path, job.saved.parent / "qat", w, loss, job.calibration, plan, mix
    )
    return saved, record, record["seconds"]


BUILDERS: dict[Build, Callable] = {
    Build.CONVERTER: _by_converter,
    Build.DEBUGGER: _by_debugger,
    Build.DEBUGGER_DENYLIST: _by_debugger_denylist,
    Build.AI_EDGE_QUANTIZER: _by_ai_edge_quantizer,
    Build.QAT: _by_qat,
}


# -- one mode --------------------------------------------------------------------------------


def _produce(job: ModelConversion, mode: Mode, row: dict, settings: dict) -> None:
    """Build, publish and check one mode's file; fill its row and collect its census and stats."""
    spec, vid, ctx = MODE_SPECS[mode], row["variant_id"], job.ctx
    with silenced():
        stats, blob = BUILDERS[spec.build](job, mode, spec, settings)
    # a new content-addressed file: a published variant is never rewritten
    path, _ = artifacts.write_bytes(ctx.artifacts / "variants", vid, ".tflite", blob)
    census = op_census(blob)
    outs = run_tflite(blob, job.debug)  # also proves the model runs
    if not np.all(np.isfinite(outs)):
        raise RuntimeError("non-finite outputs on the debug set")
    if spec.debugger and stats is None:
        with silenced():
            stats, _ = job.debugged(mode)
    for line in job.notes:
        ctx.console.print(line)
    job.notes.clear()
    diff = outs - job.keras_debug_out
    row.update(
        status="ok",
        error=None,
        file_path=ctx.rel(path),
        file_bytes=len(blob),
        sha256=file_sha256(path),
        xnnpack_partitions=xnnpack_partitions(blob),
        n_ops=len(census),
        float_compute_ops=float_compute_ops(census),
        debug_rmse=float(np.sqrt(np.mean(diff**2))),
        debug_max_abs=float(np.max(np.abs(diff))),
    )
    job.census_rows += census_records(vid, census)
    if stats is not None:
        job.stats_rows.append((vid, stats))
    ctx.console.print(
        f"convert: {vid}: {len(blob) / 1e6:.2f} MB, {row['n_ops']} ops "
        f"({row['float_compute_ops']} float compute), XNNPACK partitions {row['xnnpack_partitions']}"
    )


def census_records(vid: str, census: list[dict]) -> list[dict]:
    """op_census rows: ops counted by type and input/output dtypes."""
    counts = Counter((c["op_type"], c["inputs"], c["outputs"]) for c in census)
    return [
        {
            "variant_id": vid,
            "op_type": op_type,
            "input_dtypes": inputs,
            "output_dtypes": outputs,
            "count": n,
        }
        for (op_type, inputs, outputs), n in sorted(counts.items())
    ]


def convert_mode(job: ModelConversion, mode: Mode) -> dict:
    """The variants row of one mode: its file's facts, or why it cannot be produced."""
    vid = ids.variant_id(job.model_id, mode)
    calibration = job.cal_info["calibration"] | {"from": job.cal_info["split"]}
    settings = recorded_settings(mode, calibration, job.int8_io)
    row = {
        "variant_id": vid,
        "model_id": job.model_id,
        "appliance": job.appliance.value,
        "arch": job.arch.value,
        "mode": mode.value,
        "converter_settings": settings,
    }
    t0 = time.perf_counter()
    try:
        _produce(job, mode, row, settings)
    except Exception as exc:  # the converter and runtimes raise many types; record the reason
        text = str(exc).strip()
        reason = f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"
        row.update(status="failed", error=reason[:2000], **dict.fromkeys(FILE_COLUMNS))
        job.ctx.console.print(f"[yellow]convert: {vid} cannot be produced: {reason[:200]}[/yellow]")
    row["convert_seconds"] = time.perf_counter() - t0
    row["converter_settings"] = json.dumps(settings)
    return row


# -- one model -------------------------------------------------------------------------------


def _check_model_file(model_path: Path, model_row: dict) -> None:
    if not model_path.exists():
        raise ModelFileError(f"{model_path}: model file missing; run `pipeline train`")
    if file_sha256(model_path) != model_row["sha256"]:
        raise ModelFileError(f"{model_path}: sha256 differs from the store's record; retrain it")


def keras_row(model_id: str, appliance: Appliance, arch: Arch, model_row: dict, path: Path):
    """The variants row of the trained float model itself."""
    return {
        "variant_id": ids.float_variant_id(model_id),
        "model_id": model_id,
        "appliance": appliance.value,
        "arch": arch.value,
        "mode": Mode.KERAS.value,
        "status": "ok",
        "error": None,
        "converter_settings": json.dumps({"format": "keras", "note": "the trained float model"}),
        "file_path": model_row["artifact_path"],
        "file_bytes": path.stat().st_size,
        "sha256": model_row["sha256"],
        "xnnpack_partitions": None,
        "n_ops": None,
        "float_compute_ops": None,
        "convert_seconds": 0.0,
        "debug_rmse": 0.0,
        "debug_max_abs": 0.0,
    }


def _modes_of(ctx: RunContext, arch: Arch) -> list[Mode]:
    """The modes converted for one architecture: qat_w8_a8 only where it is fine-tuned."""
    qat = {m for m, spec in MODE_SPECS.items() if spec.build is Build.QAT}
    skip = {Mode.KERAS} | (qat if ctx.cfg.qat_steps[arch] <= 0 else set())
    return [m for m in ctx.cfg.modes if m not in skip]


def convert_model(ctx: RunContext, appliance: Appliance, arch: Arch, model_row: dict):
    """All modes of one model. Returns variant rows, census rows and layer-stat frames."""
    quiet_tf()
    from pipeline.train.models import load_keras_model  # imports keras: after quiet_tf()

    ctx = dataclasses.replace(ctx, cfg=ctx.cfg.for_appliance(appliance))
    model_id = ids.model_id(appliance, arch)
    model_path = ctx.artifacts / model_row["artifact_path"]
    _check_model_file(model_path, model_row)
    model = load_keras_model(model_path)
    calibration, debug, cal_info, _ = calibration_sets(ctx, appliance)
    keras_debug_out = model.predict(debug, verbose=0, batch_size=64).reshape(-1)
    sens_windows = cal_info.pop("sensitivity_inputs")
    keras_sens_out = model.predict(sens_windows, verbose=0, batch_size=64).reshape(-1)
    tmp = Path(tempfile.mkdtemp(prefix="nilm-export-"))
    int8_io = ctx.options.int8_io
    try:
        saved = export_saved_model(model, tmp / "saved")
        job = ModelConversion(
            ctx=ctx,
            model_id=model_id,
            appliance=appliance,
            arch=arch,
            saved=saved,
            calibration=calibration,
            debug=debug,
            cal_info=cal_info,
            keras_debug_out=keras_debug_out,
            int8_io=int8_io,
            sensitivity_windows=sens_windows,
            keras_sensitivity_out=keras_sens_out,
            model_path=model_path,
        )
        for mode in _modes_of(ctx, arch):
            job.variants.append(convert_mode(job, mode))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    first = keras_row(model_id, appliance, arch, model_row, model_path)
    return [first, *job.variants], job.census_rows, job.stats_rows, job.sensitivity_rows
