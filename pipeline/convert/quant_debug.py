"""TFLite's QuantizationDebugger: per-tensor error, SQNR and range checks, and which tensors
break the model end to end.

Three views of one quantized file, from local to global:

* local error (the debugger's NumericVerify ops): each op's int8 output against the same op run
  in float on its dequantized inputs (rmse/scale, SQNR);
* range check: the tensor's step (scale) against its typical float magnitude (p99 |x| / scale,
  the share of non-zero values that round to the zero point). A range blown up by a rare
  outlier (rsqrt of a near-zero variance) leaves every typical value on the zero point while
  its local error can look small, or be undefined;
* end-to-end sensitivity: the model's output error with only that tensor kept in float
  (re-quantized from the debugger's calibrated model, no new calibration). This ranking, not
  the local error, chooses what w8_a8_selective and w8_a8_mixed16 protect.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.convert.converters import make_converter
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
    "p99_abs",
    "p99_over_scale",
    "zero_share",
    "range_blowup",
    "suspect_reason",
]

# a range blow-up: 99 % of the values within this many steps of zero (of 255), or at least
# this share of the non-zero values rounding to the zero point
BLOWUP_P99_STEPS = 1.0
BLOWUP_ZERO_SHARE = 0.9

# the quant_sensitivity columns (after variant_id)
SENSITIVITY_COLUMNS = [
    "rank",
    "tensor_name",
    "op_name",
    "layer_index",
    "range",
    "scale",
    "p99_over_scale",
    "zero_share",
    "range_blowup",
    "rmse_scale",
    "output_rmse_quant",
    "output_rmse_kept_float",
    "recovered_share",
    "flip_share_quant",
    "flip_share_kept_float",
    "protected",
    "island",
    "why",
]


@dataclass
class Inspection:
    """One debugger run: per-tensor statistics, the file, and the debugger (which keeps the
    calibrated model, so single tensors can be re-quantized without new calibration)."""

    stats: pd.DataFrame
    model: bytes
    debugger: object


def inspect(saved_model: Path, calibration, debug, denylist=None, threshold=0.7, mode=None):
    """QuantizationDebugger statistics and file of `mode` (default w8_a8) as an Inspection."""
    import tensorflow as tf

    conv = make_converter(saved_model, mode or Mode.W8_A8, calibration)

    def debug_gen():
        for x in debug:
            yield [x[None, :].astype(np.float32)]

    opts = tf.lite.experimental.QuantizationDebugOptions(
        layer_direct_compare_metrics=DIRECT_METRICS, denylisted_nodes=list(denylist or [])
    )
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        dbg = tf.lite.experimental.QuantizationDebugger(
            converter=conv, debug_dataset=debug_gen, debug_options=opts
        )
        _preserve_tensors(dbg)
        dbg.run()
        buf = io.StringIO()
        dbg.layer_statistics_dump(buf)
        model = dbg.get_nondebug_quantized_model()
    buf.seek(0)
    return Inspection(layer_stats(pd.read_csv(buf), threshold), model, dbg)


def run_debugger(
    saved_model: Path, calibration, debug, denylist=None, threshold=0.7, fallback=False, mode=None
):
    """(per-tensor statistics, quantized file) of the debugger with `mode`'s converter
    (default: w8_a8, or w8_a8_fallback with `fallback`)."""
    if mode is None:
        mode = Mode.W8_A8_FALLBACK if fallback else Mode.W8_A8
    found = inspect(saved_model, calibration, debug, denylist, threshold, mode)
    return found.stats, found.model


def _preserve_tensors(dbg) -> None:
    """Give the debugger an interpreter that keeps every intermediate tensor.

    Built from a converter, TF 2.21's debugger runs its direct-compare metrics on an
    interpreter without `experimental_preserve_all_tensors`: after invoke() most float
    reference tensors have been overwritten by later ops sharing their arena memory, so a
    metric computed from them (the signal power of the SQNR) read zeros or another tensor's
    values: NULL or meaningless SQNR for a third of the transformer's tensors."""
    from tensorflow.lite.python import interpreter as tfl_interpreter

    dbg._quant_interpreter = tfl_interpreter.Interpreter(
        model_content=dbg.quant_model, experimental_preserve_all_tensors=True
    )
    dbg._initialize_stats()


def _dequantized(quant, scale, zero_point) -> np.ndarray:
    return (np.asarray(quant, dtype=np.float64) - zero_point) * scale


def _finite(float_tensor) -> np.ndarray:
    f = np.asarray(float_tensor, dtype=np.float64).reshape(-1)
    return f[np.isfinite(f)]


def _signal_power(float_tensors, quant_tensors, scale, zero_point) -> float:
    """Mean square of the float tensor (finite values) on one debug window."""
    f = _finite(float_tensors)
    return float(np.mean(np.square(f))) if f.size else 0.0


def _noise_power(float_tensors, quant_tensors, scale, zero_point) -> float:
    """Mean square of (float - dequantized) where the float value is finite."""
    f = np.asarray(float_tensors, dtype=np.float64).reshape(-1)
    q = _dequantized(quant_tensors, scale, zero_point).reshape(-1)
    ok = np.isfinite(f)
    return float(np.mean(np.square(f[ok] - q[ok]))) if ok.any() else np.inf


def _p99_abs(float_tensors, quant_tensors, scale, zero_point) -> float:
    f = _finite(float_tensors)
    return float(np.percentile(np.abs(f), 99)) if f.size else np.nan


def _zero_share(float_tensors, quant_tensors, scale, zero_point) -> float:
    """Share of the non-zero float values that quantize to the zero point (|x| < step / 2)."""
    f = _finite(float_tensors)
    f = f[f != 0]
    if not f.size or not scale:
        return 0.0
    return float(np.mean(np.abs(f) < 0.5 * scale))


DIRECT_METRICS = {
    "signal_power": _signal_power,
    "noise_power": _noise_power,
    "p99_abs": _p99_abs,
    "zero_share": _zero_share,
}


def layer_stats(df: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Derive range, rmse/scale, SQNR, the range check and the suspect flag from the CSV."""
    df = df.copy()
    for col in DIRECT_METRICS:
        if col not in df:
            df[col] = np.nan
    df["range"] = 255.0 * df["scale"]
    # the debugger's own MSE is inf/NaN where the float reference is not finite (rsqrt(0))
    noise = df["noise_power"].where(np.isfinite(df["noise_power"]), df["mean_squared_error"])
    with np.errstate(divide="ignore", invalid="ignore"):
        df["rmse_scale"] = np.sqrt(noise) / df["scale"]
        df["p99_over_scale"] = df["p99_abs"] / df["scale"]
    df["sqnr_db"] = sqnr_db(df["signal_power"], noise)
    df["range_blowup"] = (df["p99_over_scale"].fillna(0.0) < BLOWUP_P99_STEPS) | (
        df["zero_share"].fillna(0.0) >= BLOWUP_ZERO_SHARE
    )
    # a tensor that is zero in float too (an all-zero pad) has no range to blow up
    df.loc[df["signal_power"].fillna(0.0) == 0.0, "range_blowup"] = False
    local = df["rmse_scale"].fillna(np.inf) > threshold
    df["suspect"] = local | df["range_blowup"]
    df["suspect_reason"] = [_reason(r, threshold) for r in df.itertuples()]
    df["layer_index"] = np.arange(len(df))
    return df


def _reason(r, threshold: float) -> str | None:
    parts = []
    if r.range_blowup:
        parts.append(
            f"range blow-up: range {r.range:.4g} (step {r.scale:.3g}) against p99 |x| "
            f"{r.p99_abs:.3g} ({r.p99_over_scale:.3g} steps); {r.zero_share:.0%} of the "
            "non-zero values round to the zero point"
        )
    if not (r.rmse_scale <= threshold):
        parts.append(f"local error rmse/scale {r.rmse_scale:.3g} > {threshold:g}")
    return "; ".join(parts) or None


def sqnr_db(signal_power, noise_power) -> np.ndarray:
    """SQNR = 10 log10(mean(f^2) / mean((f - q)^2)) of a float tensor f and its dequantized
    counterpart q; +inf where q is exact (no noise, 'exact' on the pages), -inf where the
    signal is zero or unknown and the noise is not. Never NaN."""
    s = np.nan_to_num(np.asarray(signal_power, dtype=float), nan=0.0)
    n = np.nan_to_num(np.asarray(noise_power, dtype=float), nan=np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = 10 * np.log10(s / n)
    out = np.where(n == 0, np.inf, out)
    return np.where(np.isnan(out), -np.inf, out)


def suspects(stats: pd.DataFrame) -> list[str]:
    return [str(n) for n in stats.loc[stats["suspect"], "tensor_name"].dropna()]


def layer_stat_records(variant_id: str, stats: pd.DataFrame) -> list[dict]:
    """quant_layer_stats rows of one variant, by column name (missing statistics as NULL)."""
    frame = stats.reindex(columns=LAYER_STAT_COLUMNS).assign(variant_id=variant_id)
    frame = frame[["variant_id", *LAYER_STAT_COLUMNS]]
    keep_inf = frame["sqnr_db"].copy()
    frame = frame.replace([np.inf, -np.inf], np.nan).assign(sqnr_db=keep_inf)
    frame = frame.astype(object).where(pd.notna(frame), None)
    return frame.to_dict("records")
