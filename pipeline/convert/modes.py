"""The quantization modes: one declarative record per mode that fully determines its file.

A record says which converter settings the mode uses (recorded verbatim in the store as
``variants.converter_settings``), which path builds the file (TFLite's converter, its
QuantizationDebugger, or ai-edge-quantizer), what it does with ``--int8-io``, and the two
facts about its kernels the later stages need. Adding a mode means a record here (and its
name in ``store.vocab.Mode``, the stored vocabulary); the stages read everything else from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from store.vocab import Mode


class Build(StrEnum):
    """How a mode's file is produced (see pipeline/convert/variants.py)."""

    # TFLiteConverter with the settings (the MLIR float-island quantizer when "float_ops" is set)
    CONVERTER = "converter"
    # the QuantizationDebugger's non-debug model: it calibrates and quantizes with exactly these
    # settings, so calibration runs once for the file and its per-layer statistics; the debugger
    # builds float I/O only, so with --int8-io the converter builds the file, the debugger runs after
    DEBUGGER = "debugger"
    # the debugger's model with the suspect tensors of `suspects_of` left in float
    DEBUGGER_DENYLIST = "debugger_denylist"
    # ai-edge-quantizer's static_wi8_ai8 recipe with the suspect tensors of `suspects_of` in int16
    AI_EDGE_QUANTIZER = "ai_edge_quantizer"
    # the model fine-tuned with fake-quant (pipeline/convert/qat.py), then converted as `w8_a8`; only
    # for an architecture with train.qat_steps > 0
    QAT = "qat"


@dataclass(frozen=True)
class ModeSpec:
    """One quantization mode.

    settings: converter settings, stored as they are. make_converter reads "optimizations"
        (tf.lite.Optimize members), "representative_dataset" (calibrate on training windows),
        "supported_ops" (tf.lite.OpsSet members), "supported_types" (tf dtype names) and
        "float_ops" (op types the MLIR quantizer leaves in float32); the other keys describe
        the build for the reader of the store.
    build: the path that builds the file.
    suspects_of: the mode whose debugger suspects the build needs (DEBUGGER_DENYLIST,
        AI_EDGE_QUANTIZER); the suspects are recorded under `suspects_setting`.
    int8_io: with --int8-io the file gets int8 input and output (recorded as inference_io).
    int8_io_note: recorded as inference_io under --int8-io when the build keeps float I/O.
    builtin_kernels: runs on builtin kernels wherever XNNPACK partitions it, so profile also
        measures TensorFlow's interpreter (whose builtin kernels differ from LiteRT's).
    costly_kernels: ~20x the per-window cost of the other modes (16x8 reference kernels), so
        a transformer in this mode is scored on the smallest nested sample.
    wide_sample: the int8 file meant to ship, cheap per window under XNNPACK (~4-5 ms for the
        demo transformer), so a transformer in this mode is scored on the reference sample
        beside its Keras model: the paired loss to float then rests on thousands of windows,
        not hundreds (at 400, a zero-disagreement kettle pair still allowed -0.15 F1).
    """

    settings: dict
    build: Build = Build.CONVERTER
    suspects_of: Mode | None = None
    suspects_setting: str | None = None
    int8_io: bool = False
    int8_io_note: str | None = None
    builtin_kernels: bool = False
    costly_kernels: bool = False
    wide_sample: bool = False

    @property
    def debugger(self) -> bool:
        """The QuantizationDebugger inspects the file: its per-layer statistics are stored."""
        return self.build in (Build.DEBUGGER, Build.DEBUGGER_DENYLIST)


MODE_SPECS: dict[Mode, ModeSpec] = {
    Mode.CONVERT_ONLY: ModeSpec({}),
    Mode.W8: ModeSpec({"optimizations": ["DEFAULT"]}, builtin_kernels=True),
    Mode.W8_A8_FALLBACK: ModeSpec(
        {"optimizations": ["DEFAULT"], "representative_dataset": True}, build=Build.DEBUGGER
    ),
    Mode.W8_A8: ModeSpec(
        {
            "optimizations": ["DEFAULT"],
            "representative_dataset": True,
            "supported_ops": ["TFLITE_BUILTINS_INT8"],
        },
        build=Build.DEBUGGER,
        int8_io=True,
    ),
    Mode.W8_A16: ModeSpec(
        {
            "optimizations": ["DEFAULT"],
            "representative_dataset": True,
            "supported_ops": ["EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8"],
        },
        builtin_kernels=True,
        costly_kernels=True,
    ),
    Mode.F16: ModeSpec({"optimizations": ["DEFAULT"], "supported_types": ["float16"]}),
    Mode.W8_A8_SELECTIVE: ModeSpec(
        {
            "optimizations": ["DEFAULT"],
            "representative_dataset": True,
            "supported_ops": ["TFLITE_BUILTINS_INT8"],
            "denylisted_nodes": "debugger suspects of w8_a8",
        },
        build=Build.DEBUGGER_DENYLIST,
        suspects_of=Mode.W8_A8,
        suspects_setting="denylisted_nodes",
        # the debugger's selective model is built with float input and output
        int8_io_note="float (int8 I/O not available for this mode)",
    ),
    Mode.W8_A8_XNNPACK: ModeSpec(
        {
            "optimizations": ["DEFAULT"],
            "representative_dataset": True,
            "supported_ops": ["TFLITE_BUILTINS_INT8"],
            "float_ops": ["SOFTMAX", "RSQRT", "BATCH_MATMUL", "GELU"],
            "float_nodes": "ADDs of a constant feeding a float op (the LayerNorm/L2-pool epsilon)",
        },
        wide_sample=True,
    ),
    Mode.W8_A8_MIXED16: ModeSpec(
        {
            "quantizer": "ai-edge-quantizer",
            "recipe": "static_wi8_ai8",
            "representative_dataset": True,
            "int16_tensors": "debugger suspects of w8_a8 (int16 activations, int8 weights)",
        },
        build=Build.AI_EDGE_QUANTIZER,
        suspects_of=Mode.W8_A8,
        suspects_setting="int16_tensors",
    ),
    Mode.QAT_W8_A8: ModeSpec(
        {
            "optimizations": ["DEFAULT"],
            "representative_dataset": True,
            "supported_ops": ["TFLITE_BUILTINS_INT8"],
            "source": "the trained model after quantization-aware fine-tuning (train.qat_steps)",
        },
        build=Build.QAT,
        int8_io=True,
    ),
    Mode.QAT_W8_A8_XNNPACK: ModeSpec(
        {
            "optimizations": ["DEFAULT"],
            "representative_dataset": True,
            "supported_ops": ["TFLITE_BUILTINS_INT8"],
            "float_ops": ["SOFTMAX", "RSQRT", "BATCH_MATMUL", "GELU"],
            "float_nodes": "ADDs of a constant feeding a float op (the LayerNorm/L2-pool epsilon)",
            "source": "the trained model after quantization-aware fine-tuning (train.qat_steps)",
        },
        build=Build.QAT,
        wide_sample=True,
    ),
}

# Converter settings per mode, as stored.
MODES: dict[Mode, dict] = {mode: spec.settings for mode, spec in MODE_SPECS.items()}

# Ops the XNNPACK delegate (LiteRT 2.3, tflite/delegates/xnnpack/xnnpack_delegate.cc) runs in
# float only: SOFTMAX, RSQRT and GELU check CheckTensorFloatType; int8 BATCH_MATMUL needs a zero
# zero point on its right operand, which asymmetric activations never have. Kept float32 between
# DEQUANTIZE and QUANTIZE (both of which XNNPACK runs), the int8 graph stays one partition.
XNNPACK_FLOAT_ONLY_OPS = tuple(MODES[Mode.W8_A8_XNNPACK]["float_ops"])


def spec_of(mode: str | Mode) -> ModeSpec | None:
    """The record of a stored mode name; None for the Keras model (and a name no longer known)."""
    try:
        return MODE_SPECS.get(Mode(mode))
    except ValueError:
        return None


def recorded_settings(mode: Mode, calibration: dict | None, int8_io: bool) -> dict:
    """The converter_settings stored for a variant, before the build adds its suspects:
    the mode's settings, where it calibrates from, and its I/O under --int8-io."""
    spec = MODE_SPECS[mode]
    settings = dict(spec.settings)
    if settings.get("representative_dataset"):
        settings["calibration"] = calibration
    if int8_io and spec.int8_io:
        settings["inference_io"] = "int8"
    elif int8_io and spec.int8_io_note:
        settings["inference_io"] = spec.int8_io_note
    return settings
