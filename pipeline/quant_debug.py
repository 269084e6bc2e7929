"""TFLite's QuantizationDebugger: per-tensor error statistics, SQNR and the suspect tensors."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.converters import make_converter
from store.vocab import Mode

# the quant_layer_stats columns taken from the debugger's statistics (after variant_id)
LAYER_STAT_COLUMNS = [
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


def run_debugger(
    saved_model: Path,
    calibration,
    debug,
    denylist=None,
    threshold=0.7,
    fallback=False,
    mode: Mode | None = None,
):
    """QuantizationDebugger statistics; returns (DataFrame of per-tensor stats, quantized model).

    The converter is the one of `mode` (default: w8_a8, or w8_a8_fallback with `fallback`)."""
    import tensorflow as tf

    if mode is None:
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


def layer_stat_records(variant_id: str, stats: pd.DataFrame) -> list[dict]:
    """quant_layer_stats rows of one variant, by column name (missing statistics as NULL)."""
    frame = stats.reindex(columns=LAYER_STAT_COLUMNS).assign(variant_id=variant_id)
    frame = frame[["variant_id", *LAYER_STAT_COLUMNS]]
    frame = frame.astype(object).where(pd.notna(frame), None)
    return frame.to_dict("records")
