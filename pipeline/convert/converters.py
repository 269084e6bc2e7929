"""Building TFLite files from a SavedModel, as a mode's record says (see pipeline/convert/modes.py).

Models go through a static batch-1 SavedModel export, never `from_concrete_functions` (on
Keras 3 that leaves variables unfrozen). The TF converter covers every mode but the mixed
int8/int16 one, which ai-edge-quantizer builds from the float TFLite file.
"""

from __future__ import annotations

import contextlib
import io
import re
import shutil
from pathlib import Path

import numpy as np

from pipeline.convert.modes import MODE_SPECS, Build
from pipeline.core.tflite_runtime import interpreter
from pipeline.settings.constants import WINDOW
from store.vocab import Mode


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
    """A converter set up from the mode's record; int8_io applies where the record allows it."""
    import tensorflow as tf

    conv = tf.lite.TFLiteConverter.from_saved_model(str(saved_model))
    spec = MODE_SPECS[mode]
    settings = spec.settings
    if "optimizations" in settings:
        conv.optimizations = [getattr(tf.lite.Optimize, o) for o in settings["optimizations"]]
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
        conv.target_spec.supported_types = [tf.as_dtype(t) for t in settings["supported_types"]]
    if int8_io and spec.int8_io:
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
    if "float_ops" in settings:
        return FloatIslandConverter(conv, settings["float_ops"])
    if spec.build is Build.AI_EDGE_QUANTIZER:
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
    _require_float_io(blob)
    return blob


def _require_float_io(blob: bytes) -> None:
    it = interpreter(blob, xnnpack=False)
    io_types = [d["dtype"] for d in (*it.get_input_details(), *it.get_output_details())]
    if any(np.dtype(t) != np.float32 for t in io_types):
        # ai-edge-quantizer 0.10 leaves an int16 model output unquantized-to-float when the
        # op producing it is one of the int16 tensors; refuse rather than store raw integers
        raise ValueError(
            f"ai-edge-quantizer left integer model I/O ({[np.dtype(t).name for t in io_types]})"
        )
