"""Conversion stage: every model to TFLite in every quantization mode, with inspection.

Each mode is a named set of converter settings (MODES) recorded verbatim in the store. Models
go through a static batch-1 SavedModel export, never `from_concrete_functions` (on Keras 3 that
leaves variables unfrozen). Variants with int8 activations are inspected with TFLite's
QuantizationDebugger; `w8_a8_selective` keeps the debugger's suspect tensors in float.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline import artifacts
from pipeline.config import AGG_MEAN_W, AGG_STD_W, APPLIANCES, WINDOW, file_sha256, stable_hash
from pipeline.context import RunContext
from pipeline.data import load_split
from pipeline.errors import ModelFileError, NotReadyError
from pipeline.windows import Windows
from store.vocab import Appliance, Arch, Mode, Split

# Converter settings per mode, as stored. "supported_ops"/"supported_types" name tf.lite members.
MODES: dict[Mode, dict] = {
    Mode.CONVERT_ONLY: {},
    Mode.W8: {"optimizations": ["DEFAULT"]},
    Mode.W8_A8_FALLBACK: {"optimizations": ["DEFAULT"], "representative_dataset": True},
    Mode.W8_A8: {
        "optimizations": ["DEFAULT"],
        "representative_dataset": True,
        "supported_ops": ["TFLITE_BUILTINS_INT8"],
    },
    Mode.W8_A16: {
        "optimizations": ["DEFAULT"],
        "representative_dataset": True,
        "supported_ops": ["EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8"],
    },
    Mode.F16: {"optimizations": ["DEFAULT"], "supported_types": ["float16"]},
    Mode.W8_A8_SELECTIVE: {
        "optimizations": ["DEFAULT"],
        "representative_dataset": True,
        "supported_ops": ["TFLITE_BUILTINS_INT8"],
        "denylisted_nodes": "debugger suspects of w8_a8",
    },
    Mode.W8_A8_XNNPACK: {
        "optimizations": ["DEFAULT"],
        "representative_dataset": True,
        "supported_ops": ["TFLITE_BUILTINS_INT8"],
        "float_ops": ["SOFTMAX", "RSQRT", "BATCH_MATMUL", "GELU"],
        "float_nodes": "ADDs of a constant feeding a float op (the LayerNorm/L2-pool epsilon)",
    },
    Mode.W8_A8_MIXED16: {
        "quantizer": "ai-edge-quantizer",
        "recipe": "static_wi8_ai8",
        "representative_dataset": True,
        "int16_tensors": "debugger suspects of w8_a8 (int16 activations, int8 weights)",
    },
}
# Ops the XNNPACK delegate (LiteRT 2.3, tflite/delegates/xnnpack/xnnpack_delegate.cc) runs in
# float only: SOFTMAX, RSQRT and GELU check CheckTensorFloatType; int8 BATCH_MATMUL needs a zero
# zero point on its right operand, which asymmetric activations never have. Kept float32 between
# DEQUANTIZE and QUANTIZE (both of which XNNPACK runs), the int8 graph stays one partition.
XNNPACK_FLOAT_ONLY_OPS = tuple(MODES[Mode.W8_A8_XNNPACK]["float_ops"])
INT8_DEBUG_MODES = (Mode.W8_A8_FALLBACK, Mode.W8_A8, Mode.W8_A8_SELECTIVE)
DATA_MOVEMENT_OPS = {
    "QUANTIZE",
    "DEQUANTIZE",
    "RESHAPE",
    "EXPAND_DIMS",
    "SQUEEZE",
    "TRANSPOSE",
    "CONCATENATION",
    "STRIDED_SLICE",
    "SLICE",
    "GATHER",
    "PACK",
    "UNPACK",
    "SHAPE",
    "DELEGATE",
}


@contextlib.contextmanager
def silenced():
    """Silence C++ logging written straight to file descriptors 1 and 2 (converter chatter)."""
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, devnull):
            os.close(fd)


def quiet_tf():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    warnings.filterwarnings("ignore", category=UserWarning)
    warnings.filterwarnings("ignore", category=RuntimeWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)


def export_saved_model(model, out_dir: Path) -> Path:
    """Static batch-1 SavedModel: no shape ops, one XNNPACK partition for the float transformer."""
    import tensorflow as tf

    if out_dir.exists():
        shutil.rmtree(out_dir)
    with contextlib.redirect_stdout(io.StringIO()):
        model.export(
            str(out_dir),
            format="tf_saved_model",
            input_signature=[tf.TensorSpec([1, WINDOW], tf.float32)],
        )
    return out_dir


def make_converter(
    saved_model: Path, mode: Mode, calibration: np.ndarray | None, int8_io: bool = False
):
    import tensorflow as tf

    conv = tf.lite.TFLiteConverter.from_saved_model(str(saved_model))
    settings = MODES[mode]
    if "optimizations" in settings:
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
    if settings.get("representative_dataset"):
        if calibration is None:
            raise ValueError(f"{mode} needs calibration windows")

        def representative():
            for x in calibration:
                yield [x[None, :].astype(np.float32)]

        conv.representative_dataset = representative
    if "supported_ops" in settings:
        conv.target_spec.supported_ops = [
            getattr(tf.lite.OpsSet, s) for s in settings["supported_ops"]
        ]
    if "supported_types" in settings:
        conv.target_spec.supported_types = [tf.float16]
    if int8_io and mode is Mode.W8_A8:
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
    if "float_ops" in settings:
        return FloatIslandConverter(conv, settings["float_ops"])
    if mode is Mode.W8_A8_MIXED16:
        raise ValueError(f"{mode} is built by mixed16_model() from the debugger's suspects")
    return conv


class FloatIslandConverter:
    """Full-integer calibration, then MLIR quantization with `float_ops` (and the ADD of a
    constant that feeds one, such as `var + eps`) left in float32: the same selective
    quantization as the debugger's denylist, chosen by op type."""

    def __init__(self, converter, float_ops):
        self.converter, self.float_ops = converter, list(float_ops)

    def convert(self) -> bytes:
        from tensorflow.lite.python import convert

        conv = self.converter
        conv.experimental_mlir_quantizer = True
        conv._experimental_calibrate_only = True
        calibrated = conv.convert()
        return convert.mlir_quantize(
            calibrated,
            disable_per_channel=conv._experimental_disable_per_channel,
            fully_quantize=True,
            denylisted_ops=self.float_ops,
            denylisted_nodes=constant_adds_feeding(calibrated, self.float_ops),
        )


def _op_names(model) -> list[str]:
    from ai_edge_litert import schema_py_generated as schema

    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    return [names.get(max(c.builtinCode, c.deprecatedBuiltinCode), "") for c in model.operatorCodes]


def constant_adds_feeding(content: bytes, op_types) -> list[str]:
    """Output tensor names of ADD ops with a constant operand whose result feeds an op of
    `op_types`. In int8 such an ADD (x + 1e-3) has an input/output scale ratio below XNNPACK's
    1/1024 floor, so it would sit alone on the builtin path between two partitions."""
    from ai_edge_litert.tools import flatbuffer_utils as fu

    model = fu.read_model_from_bytearray(bytearray(content))
    kinds = _op_names(model)
    out = []
    for sg in model.subgraphs:
        producer = {t: op for op in sg.operators for t in op.outputs}

        def constant(t, sg=sg):
            buf = model.buffers[sg.tensors[t].buffer]
            return buf.data is not None and len(buf.data) > 0

        for op in sg.operators:
            if kinds[op.opcodeIndex] not in op_types:
                continue
            for t in op.inputs:
                p = producer.get(t)
                if (
                    p is not None
                    and kinds[p.opcodeIndex] == "ADD"
                    and any(i >= 0 and constant(i) for i in p.inputs)
                ):
                    name = sg.tensors[t].name
                    out.append(name.decode() if isinstance(name, bytes) else str(name))
    return out


def mixed16_model(saved_model: Path, calibration: np.ndarray, int16_tensors) -> bytes:
    """int8 everywhere except the ops producing `int16_tensors` (the debugger's suspects),
    which get int16 activations and int8 weights; built with ai-edge-quantizer's per-op
    recipe from the float TFLite model (the TF converter has no per-tensor 16x8 option)."""
    import re

    from ai_edge_litert.interpreter import Interpreter
    from ai_edge_quantizer import quantizer, recipe

    float_model = make_converter(saved_model, Mode.CONVERT_ONLY, None).convert()
    qt = quantizer.Quantizer(float_model)
    qt.load_quantization_recipe(recipe.static_wi8_ai8())
    # float input and output, as in every other mode (the recipe would make them integer)
    for io_op in ("INPUT", "OUTPUT"):
        qt.update_quantization_recipe(".*", io_op, algorithm_key="no_quantize")
    for name in int16_tensors:
        qt.add_static_config(
            # an op's scope is its output tensor names, each followed by ";"
            regex=f"(^|;){re.escape(name)};",
            operation_name="*",
            activation_num_bits=16,
            weight_num_bits=8,
        )
    sigs = Interpreter(model_content=float_model).get_signature_list()
    key = next(iter(sigs))
    name = sigs[key]["inputs"][0]
    data = {key: [{name: x[None, :].astype(np.float32)} for x in calibration]}
    blob = bytes(qt.quantize(qt.calibrate(data, num_threads=2)).quantized_model)
    it = interpreter(blob, xnnpack=False)
    io = [d["dtype"] for d in (*it.get_input_details(), *it.get_output_details())]
    if any(np.dtype(t) != np.float32 for t in io):
        # ai-edge-quantizer 0.10 leaves an int16 model output unquantized-to-float when the
        # op producing it is one of the int16 tensors; refuse rather than store raw integers
        raise ValueError(
            f"ai-edge-quantizer left integer model I/O ({[np.dtype(t).name for t in io]})"
        )
    return blob


def interpreter(
    model: bytes | Path,
    xnnpack: bool = True,
    threads: int = 1,
    preserve: bool = False,
    runtime: str = "litert",
):
    """A TFLite interpreter, allocated: LiteRT's by default, TensorFlow's with runtime="tf_lite"."""
    if runtime == "tf_lite":
        import tensorflow as tf

        Interpreter, OpResolverType = tf.lite.Interpreter, tf.lite.experimental.OpResolverType
    else:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

    kw = {"model_content": model} if isinstance(model, bytes) else {"model_path": str(model)}
    if not xnnpack:
        kw["experimental_op_resolver_type"] = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    # no redirect_stderr here: it swaps the process-wide sys.stderr and races between the
    # evaluation threads (the runtime's own log line is written to fd 2 anyway)
    it = Interpreter(num_threads=threads, experimental_preserve_all_tensors=preserve, **kw)
    it.allocate_tensors()
    return it


def op_census(model: bytes) -> list[dict]:
    """Every op with the dtypes of its inputs and outputs (before any delegate)."""
    it = interpreter(model, xnnpack=False)
    tensors = {t["index"]: t for t in it.get_tensor_details()}

    def dtypes(idx):
        return ",".join(np.dtype(tensors[i]["dtype"]).name for i in idx if i >= 0 and i in tensors)

    return [
        {
            "op_type": op["op_name"],
            "inputs": dtypes(op["inputs"]),
            "outputs": dtypes(op["outputs"]),
            "index": op["index"],
        }
        for op in it._get_ops_details()
    ]


def float_compute_ops(census: list[dict]) -> int:
    return sum(
        1 for op in census if op["op_type"] not in DATA_MOVEMENT_OPS and ("float" in op["outputs"])
    )


def xnnpack_partitions(model: bytes) -> int:
    it = interpreter(model, xnnpack=True)
    return sum(1 for op in it._get_ops_details() if op["op_name"] == "DELEGATE")


def run_tflite(
    model: bytes | Path, windows: np.ndarray, threads: int = 1, runtime: str = "litert"
) -> np.ndarray:
    """Batch-1 outputs of a TFLite model on (N, 599) float windows, handling int8 I/O."""
    it = interpreter(model, threads=threads, runtime=runtime)
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    res = np.empty(len(windows), np.float32)
    in_scale, in_zp = inp["quantization"]
    out_scale, out_zp = out["quantization"]
    for i, x in enumerate(windows):
        x = x[None, :]
        if inp["dtype"] == np.int8:
            x = np.clip(np.round(x / in_scale + in_zp), -128, 127).astype(np.int8)
        it.set_tensor(inp["index"], x.astype(inp["dtype"]))
        it.invoke()
        y = it.get_tensor(out["index"]).reshape(-1)[0]
        res[i] = (float(y) - out_zp) * out_scale if out["dtype"] == np.int8 else y
    return res


def run_debugger(
    saved_model: Path, calibration, debug, denylist=None, threshold=0.7, fallback=False
):
    """QuantizationDebugger statistics; returns (DataFrame of per-tensor stats, quantized model)."""
    import tensorflow as tf

    mode = Mode.W8_A8_FALLBACK if fallback else Mode.W8_A8
    conv = make_converter(saved_model, mode, calibration)

    def debug_gen():
        for x in debug:
            yield [x[None, :].astype(np.float32)]

    opts = tf.lite.experimental.QuantizationDebugOptions(
        layer_direct_compare_metrics={"signal_power": _signal_power},
        denylisted_nodes=list(denylist or []),
    )
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        dbg = tf.lite.experimental.QuantizationDebugger(
            converter=conv, debug_dataset=debug_gen, debug_options=opts
        )
        dbg.run()
        buf = io.StringIO()
        dbg.layer_statistics_dump(buf)
        model = dbg.get_nondebug_quantized_model()
    buf.seek(0)
    df = pd.read_csv(buf)
    return layer_stats(df, threshold), model


def layer_stats(df: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Derive range, rmse/scale, SQNR and the suspect flag from the debugger's CSV."""
    df = df.copy()
    df["range"] = 255.0 * df["scale"]
    with np.errstate(divide="ignore", invalid="ignore"):
        df["rmse_scale"] = np.sqrt(df["mean_squared_error"]) / df["scale"]
        df["sqnr_db"] = (
            sqnr_db(df["signal_power"], df["mean_squared_error"])
            if "signal_power" in df
            else np.nan
        )
    df["sqnr_db"] = df["sqnr_db"].replace([np.inf, -np.inf], np.nan)
    df["suspect"] = df["rmse_scale"] > threshold
    df["layer_index"] = np.arange(len(df))
    return df


def sqnr_db(signal_power, noise_power):
    """SQNR = 10 log10(mean(f^2) / mean((f - q)^2)) for a float tensor f and its dequantized
    int8 counterpart q; NaN when either power is zero or missing."""
    s = np.asarray(signal_power, dtype=float)
    n = np.asarray(noise_power, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = 10 * np.log10(s / n)
    return np.where((s > 0) & (n > 0), out, np.nan)


def _signal_power(float_tensors, quant_tensors, scale, zero_point) -> float:
    """Mean square of the float tensor over the debug set (the debugger's direct-compare hook)."""
    return float(
        np.mean([np.mean(np.square(np.asarray(f, dtype=np.float64))) for f in float_tensors])
    )


def suspects(stats: pd.DataFrame) -> list[str]:
    return [str(n) for n in stats.loc[stats["suspect"], "tensor_name"].dropna()]


def load_keras_model(path: Path):
    import keras

    import pipeline.models  # noqa: F401  (registers the custom layers)

    if not path.exists():
        raise ModelFileError(f"{path}: model file missing; run `pipeline train` first")
    try:
        return keras.models.load_model(path, compile=False)
    except Exception as exc:  # keras raises many types for a damaged file
        raise ModelFileError(
            f"{path}: cannot load the Keras model ({type(exc).__name__}: {exc})"
        ) from exc


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


def convert_model(ctx: RunContext, appliance: Appliance, arch: Arch, model_row: dict):
    """All modes of one model. Returns variant rows, census rows and layer-stat rows."""
    quiet_tf()
    model_id = f"{appliance.value}.{arch.value}"
    model_path = ctx.artifacts / model_row["artifact_path"]
    if not model_path.exists():
        raise ModelFileError(f"{model_path}: model file missing; run `pipeline train`")
    if file_sha256(model_path) != model_row["sha256"]:
        raise ModelFileError(f"{model_path}: sha256 differs from the store's record; retrain it")
    model = load_keras_model(model_path)
    calibration, debug, cal_info, _ = calibration_sets(ctx, appliance)
    keras_debug_out = model.predict(debug, verbose=0, batch_size=64).reshape(-1)
    tmp = Path(tempfile.mkdtemp(prefix="nilm-export-"))
    variants, census_rows, stats_rows = [], [], []
    int8_io = bool(ctx.options.get("int8_io", False))
    try:
        saved = export_saved_model(model, tmp / "saved")
        w8a8_stats = None

        def debugged(mode: Mode, denylist=None):
            return run_debugger(
                saved,
                calibration,
                debug,
                denylist=denylist,
                threshold=ctx.cfg.suspect_threshold,
                fallback=mode is Mode.W8_A8_FALLBACK,
            )

        for mode in [m for m in ctx.cfg.modes if m is not Mode.KERAS]:
            vid = f"{model_id}.{mode.value}"
            settings = dict(MODES[mode])
            if settings.get("representative_dataset"):
                settings["calibration"] = cal_info["calibration"] | {"from": cal_info["split"]}
            if int8_io and mode is Mode.W8_A8:
                settings["inference_io"] = "int8"
            elif int8_io and mode is Mode.W8_A8_SELECTIVE:
                # the debugger's selective model is built with float input and output
                settings["inference_io"] = "float (int8 I/O not available for this mode)"
            row = {
                "variant_id": vid,
                "model_id": model_id,
                "appliance": appliance.value,
                "arch": arch.value,
                "mode": mode.value,
                "converter_settings": settings,
            }
            t0 = time.perf_counter()
            stats = None
            try:
                with silenced():
                    if mode is Mode.W8_A8_SELECTIVE:
                        if w8a8_stats is None:
                            w8a8_stats, _ = debugged(Mode.W8_A8)
                        deny = suspects(w8a8_stats)
                        settings["denylisted_nodes"] = deny
                        stats, blob = debugged(Mode.W8_A8, denylist=deny)
                    elif mode is Mode.W8_A8_MIXED16:
                        if w8a8_stats is None:
                            w8a8_stats, _ = debugged(Mode.W8_A8)
                        deny = suspects(w8a8_stats)
                        settings["int16_tensors"] = deny
                        blob = mixed16_model(saved, calibration, deny)
                    elif mode in (Mode.W8_A8, Mode.W8_A8_FALLBACK) and not int8_io:
                        # the debugger calibrates and quantizes with exactly these settings:
                        # its non-debug model is the variant, so calibration runs once
                        stats, blob = debugged(mode)
                        if mode is Mode.W8_A8:
                            w8a8_stats = stats
                    else:
                        blob = make_converter(saved, mode, calibration, int8_io).convert()
                # a new content-addressed file: a published variant is never rewritten
                path, _ = artifacts.write_bytes(ctx.artifacts / "variants", vid, ".tflite", blob)
                census = op_census(blob)
                outs = run_tflite(blob, debug)  # also proves the model runs
                if not np.all(np.isfinite(outs)):
                    raise RuntimeError("non-finite outputs on the debug set")
                if mode in (Mode.W8_A8, Mode.W8_A8_FALLBACK) and stats is None:
                    with silenced():
                        stats, _ = debugged(mode)
                    if mode is Mode.W8_A8:
                        w8a8_stats = stats
                diff = outs - keras_debug_out
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
                counts = Counter((c["op_type"], c["inputs"], c["outputs"]) for c in census)
                census_rows += [(vid, *k, n) for k, n in sorted(counts.items())]
                if stats is not None:
                    stats_rows.append((vid, stats))
                ctx.console.print(
                    f"convert: {vid}: {len(blob) / 1e6:.2f} MB, {row['n_ops']} ops "
                    f"({row['float_compute_ops']} float compute), XNNPACK partitions {row['xnnpack_partitions']}"
                )
            except (
                Exception
            ) as exc:  # the converter and runtimes raise many types; record the reason
                reason = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
                row.update(
                    status="failed",
                    error=reason[:2000],
                    file_path=None,
                    file_bytes=None,
                    sha256=None,
                    xnnpack_partitions=None,
                    n_ops=None,
                    float_compute_ops=None,
                    debug_rmse=None,
                    debug_max_abs=None,
                )
                ctx.console.print(
                    f"[yellow]convert: {vid} cannot be produced: {reason[:200]}[/yellow]"
                )
            row["convert_seconds"] = time.perf_counter() - t0
            row["converter_settings"] = json.dumps(settings)
            variants.append(row)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    keras_row = {
        "variant_id": f"{model_id}.keras",
        "model_id": model_id,
        "appliance": appliance.value,
        "arch": arch.value,
        "mode": Mode.KERAS.value,
        "status": "ok",
        "error": None,
        "converter_settings": json.dumps({"format": "keras", "note": "the trained float model"}),
        "file_path": model_row["artifact_path"],
        "file_bytes": model_path.stat().st_size,
        "sha256": model_row["sha256"],
        "xnnpack_partitions": None,
        "n_ops": None,
        "float_compute_ops": None,
        "convert_seconds": 0.0,
        "debug_rmse": 0.0,
        "debug_max_abs": 0.0,
    }
    return [keras_row, *variants], census_rows, stats_rows


def _write(con, model_id: str, variants, census_rows, stats_rows) -> None:
    ids = [v["variant_id"] for v in variants]
    for table in ("variants", "op_census", "quant_layer_stats"):
        con.execute(f"DELETE FROM {table} WHERE variant_id IN (SELECT unnest(?))", [ids])
    for v in variants:
        con.execute(
            f"INSERT INTO variants ({', '.join(v)}) VALUES ({', '.join('?' * len(v))})",
            list(v.values()),
        )
    if census_rows:
        con.executemany("INSERT INTO op_census VALUES (?,?,?,?,?)", census_rows)
    cols = [
        "layer_index",
        "op_name",
        "tensor_idx",
        "tensor_name",
        "num_elements",
        "stddev",
        "mean_error",
        "max_abs_error",
        "mean_squared_error",
        "scale",
        "zero_point",
        "range",
        "rmse_scale",
        "sqnr_db",
        "suspect",
    ]
    for vid, df in stats_rows:
        frame = df.reindex(columns=cols).assign(variant_id=vid)[["variant_id", *cols]]
        frame = frame.astype(object).where(pd.notna(frame), None)
        con.executemany(
            f"INSERT INTO quant_layer_stats VALUES ({', '.join('?' * (len(cols) + 1))})",
            frame.values.tolist(),
        )


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
    variants, census, stats = convert_model(ctx, appliance, arch, model_row)
    return variants, census, stats, time.perf_counter() - t0


def run_convert(ctx: RunContext) -> None:
    """Convert every selected model. Models are converted in parallel worker processes (the
    converter and calibration are mostly single-threaded); each finished model is committed."""
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from multiprocessing import get_context

    todo = []
    for appliance in ctx.appliances:
        for arch in ctx.archs:
            model_id = f"{appliance.value}.{arch.value}"
            rows = (
                ctx.read("SELECT * FROM models WHERE model_id = ?", [model_id])
                if ctx.store.exists()
                else None
            )
            if rows is None or rows.empty:
                raise NotReadyError(
                    f"no trained model {model_id} in the store: run `pipeline train` first"
                )
            model_row = rows.iloc[0].to_dict()
            data_row = ctx.read(
                "SELECT sha256 FROM datasets WHERE dataset_id = ?", [f"{appliance.value}.train"]
            )
            key = stable_hash(
                [
                    model_row["sha256"],
                    data_row.iloc[0, 0],
                    [m.value for m in ctx.cfg.modes],
                    ctx.cfg.calibration_windows,
                    ctx.cfg.debug_windows,
                    ctx.cfg.suspect_threshold,
                    bool(ctx.options.get("int8_io", False)),
                    "v2",
                ]
            )
            if ctx.skip_if_current("convert", model_id, key):
                continue
            todo.append((appliance, arch, model_row, key))
    if not todo:
        return
    for _, _, model_row, _ in todo:  # fail fast, before any worker starts
        path = ctx.artifacts / model_row["artifact_path"]
        if not path.exists() or file_sha256(path) != model_row["sha256"]:
            raise ModelFileError(
                f"{path}: missing, or its sha256 differs from the store's record; retrain it (`pipeline train --force`)"
            )
    workers = min(ctx.cfg.convert_workers, len(todo))
    from pipeline.train import die_with_parent

    with ProcessPoolExecutor(
        max_workers=workers, mp_context=get_context("spawn"), initializer=die_with_parent
    ) as pool:
        futures = {
            pool.submit(_convert_job, str(ctx.store), ctx.cfg, ctx.options, a, arch, row): (
                a,
                arch,
                key,
            )
            for a, arch, row, key in todo
        }
        for fut in as_completed(futures):
            appliance, arch, key = futures[fut]
            model_id = f"{appliance.value}.{arch.value}"
            variants, census, stats, seconds = fut.result()
            ctx.commit(
                "convert",
                model_id,
                key,
                seconds,
                lambda con, a=(model_id, variants, census, stats): _write(con, *a),
            )
            ok = sum(v["status"] == "ok" for v in variants) - 1
            ctx.console.print(f"convert: {model_id} done ({ok} TFLite variants, {seconds:.0f} s)")
