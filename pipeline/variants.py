"""One model's variants: its file in every mode, built as the mode's record says, checked on
the debug windows, and described in rows for the variants, op_census and quant_layer_stats
tables. Variants with int8 activations are inspected with TFLite's QuantizationDebugger;
`w8_a8_selective` keeps the debugger's suspect tensors in float.
"""

from __future__ import annotations

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

from pipeline import artifacts
from pipeline.config import AGG_MEAN_W, AGG_STD_W, APPLIANCES, file_sha256
from pipeline.context import RunContext
from pipeline.converters import export_saved_model, make_converter, mixed16_model
from pipeline.data import load_split
from pipeline.errors import ModelFileError
from pipeline.modes import MODE_SPECS, Build, ModeSpec, recorded_settings
from pipeline.quant_debug import run_debugger, suspects
from pipeline.quiet import quiet_tf, silenced
from pipeline.tflite_runtime import float_compute_ops, op_census, run_tflite, xnnpack_partitions
from pipeline.windows import Windows
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
    info = {
        "calibration": cal_info,
        "debug": dbg_info,
        "split": row["dataset_id"],
        "houses": row["houses"],
    }
    return w.inputs(cal_starts), w.inputs(dbg_starts), info, row


@dataclass
class ModelConversion:
    """What the modes of one model share: its SavedModel, the calibration and debug windows,
    the Keras model's outputs on the debug windows, the debugger's statistics by mode, and the
    rows collected so far."""

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
    stats: dict[Mode, pd.DataFrame] = field(default_factory=dict)
    variants: list[dict] = field(default_factory=list)
    census_rows: list[dict] = field(default_factory=list)
    stats_rows: list[tuple[str, pd.DataFrame]] = field(default_factory=list)

    def debugged(self, mode: Mode, denylist=None):
        """(statistics, file) from the debugger with the mode's settings; kept by mode when
        no tensor was denylisted, for the modes that need its suspects."""
        stats, blob = run_debugger(
            self.saved,
            self.calibration,
            self.debug,
            denylist=denylist,
            threshold=self.ctx.cfg.suspect_threshold,
            mode=mode,
        )
        if denylist is None:
            self.stats[mode] = stats
        return stats, blob

    def suspects_of(self, mode: Mode) -> list[str]:
        if mode not in self.stats:
            self.debugged(mode)
        return suspects(self.stats[mode])


# -- how a file is built, by the record's `build` ------------------------------------------
# each returns (debugger statistics or None, file); settings get the suspects a build uses


def _by_converter(job: ModelConversion, mode: Mode, spec: ModeSpec, settings: dict):
    return None, make_converter(job.saved, mode, job.calibration, job.int8_io).convert()


def _by_debugger(job: ModelConversion, mode: Mode, spec: ModeSpec, settings: dict):
    if job.int8_io:  # the debugger builds float I/O only: statistics come after (_produce)
        return _by_converter(job, mode, spec, settings)
    return job.debugged(mode)


def _by_debugger_denylist(job: ModelConversion, mode: Mode, spec: ModeSpec, settings: dict):
    deny = job.suspects_of(spec.suspects_of)
    settings[spec.suspects_setting] = deny
    return job.debugged(mode, denylist=deny)


def _by_ai_edge_quantizer(job: ModelConversion, mode: Mode, spec: ModeSpec, settings: dict):
    int16 = job.suspects_of(spec.suspects_of)
    settings[spec.suspects_setting] = int16
    return None, mixed16_model(job.saved, job.calibration, int16)


BUILDERS: dict[Build, Callable] = {
    Build.CONVERTER: _by_converter,
    Build.DEBUGGER: _by_debugger,
    Build.DEBUGGER_DENYLIST: _by_debugger_denylist,
    Build.AI_EDGE_QUANTIZER: _by_ai_edge_quantizer,
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
    vid = f"{job.model_id}.{mode.value}"
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
        "variant_id": f"{model_id}.keras",
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


def convert_model(ctx: RunContext, appliance: Appliance, arch: Arch, model_row: dict):
    """All modes of one model. Returns variant rows, census rows and layer-stat frames."""
    quiet_tf()
    from pipeline.models import load_keras_model  # imports keras: after quiet_tf()

    model_id = f"{appliance.value}.{arch.value}"
    model_path = ctx.artifacts / model_row["artifact_path"]
    _check_model_file(model_path, model_row)
    model = load_keras_model(model_path)
    calibration, debug, cal_info, _ = calibration_sets(ctx, appliance)
    keras_debug_out = model.predict(debug, verbose=0, batch_size=64).reshape(-1)
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
        )
        for mode in [m for m in ctx.cfg.modes if m is not Mode.KERAS]:
            job.variants.append(convert_mode(job, mode))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    first = keras_row(model_id, appliance, arch, model_row, model_path)
    return [first, *job.variants], job.census_rows, job.stats_rows
