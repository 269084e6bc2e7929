"""The project's vocabulary: the string values stored in the DuckDB file.

Every table that names an appliance, architecture, quantization mode, runtime, split or
metric uses exactly these values, so SQL written against the store can rely on them.
"""

from __future__ import annotations

from enum import StrEnum


class Appliance(StrEnum):
    KETTLE = "kettle"
    MICROWAVE = "microwave"
    FRIDGE = "fridge"
    DISHWASHER = "dishwasher"
    WASHING_MACHINE = "washing_machine"


class Arch(StrEnum):
    CNN = "cnn"
    TRANSFORMER = "transformer"


class Mode(StrEnum):
    """A model variant: the Keras float model or one TFLite conversion mode."""

    KERAS = "keras"  # the trained Keras model itself, float32, evaluated as the reference
    CONVERT_ONLY = "convert_only"  # TFLite float32
    W8 = "w8"  # dynamic-range: int8 weights, float activations
    W8_A8_FALLBACK = "w8_a8_fallback"  # int8 with float fallback for ops without int kernels
    W8_A8 = "w8_a8"  # full int8 enforced
    W8_A16 = "w8_a16"  # int16 activations, int8 weights (16x8)
    F16 = "f16"  # float16 weights
    W8_A8_SELECTIVE = "w8_a8_selective"  # full int8 except the debugger's suspect tensors
    W8_A8_XNNPACK = "w8_a8_xnnpack"  # int8; ops XNNPACK runs only in float kept float32
    W8_A8_MIXED16 = "w8_a8_mixed16"  # int8; the debugger's suspect tensors in int16 (AEQ)


TFLITE_MODES: tuple[Mode, ...] = tuple(m for m in Mode if m is not Mode.KERAS)
QUANTIZED_ACTIVATION_MODES: tuple[Mode, ...] = (
    Mode.W8_A8_FALLBACK,
    Mode.W8_A8,
    Mode.W8_A16,
    Mode.W8_A8_SELECTIVE,
    Mode.W8_A8_XNNPACK,
    Mode.W8_A8_MIXED16,
)


class Runtime(StrEnum):
    LITERT = "litert"  # ai_edge_litert.interpreter.Interpreter
    TF_LITE = "tf_lite"  # tf.lite.Interpreter shipped with TensorFlow
    KERAS = "keras"  # Keras predict (float reference model only)
    BENCHMARK_MODEL = "benchmark_model"  # numbers ingested from the C++ benchmark tool
    EDGE_KIT = "edge_kit"  # numbers measured on a device by the exported edge kit


class Split(StrEnum):
    TRAIN = "train"
    VAL = "val"
    TEST = "test"


class Metric(StrEnum):
    """Metric names as stored in the long-format `metrics` table."""

    MAE = "mae"  # plain, unmasked
    SAE = "sae"
    NDE = "nde"
    MAE_MASKED = "mae_masked"  # the article's status-masked definitions
    SAE_MASKED = "sae_masked"
    NDE_MASKED = "nde_masked"
    EPD_TRUE = "epd_true_wh"
    EPD_PRED = "epd_pred_wh"
    EPD_ERROR_PCT = "epd_error_pct"
    ACC = "acc"
    PRECISION = "precision"
    RECALL = "recall"
    F1 = "f1"
    MCC = "mcc"
    TP = "tp"
    TN = "tn"
    FP = "fp"
    FN = "fn"


class Profile(StrEnum):
    SMOKE = "smoke"
    DEMO = "demo"
    REFIT = "refit"


APPLIANCE_ALIASES: dict[str, Appliance] = {
    "kettle": Appliance.KETTLE,
    "microwave": Appliance.MICROWAVE,
    "micro_wave": Appliance.MICROWAVE,
    "fridge": Appliance.FRIDGE,
    "fridge_freezer": Appliance.FRIDGE,
    "fridgefreezer": Appliance.FRIDGE,
    "refrigerator": Appliance.FRIDGE,
    "freezer": Appliance.FRIDGE,
    "dishwasher": Appliance.DISHWASHER,
    "dish_washer": Appliance.DISHWASHER,
    "washing_machine": Appliance.WASHING_MACHINE,
    "washingmachine": Appliance.WASHING_MACHINE,
    "washer": Appliance.WASHING_MACHINE,
    "washer_dryer": Appliance.WASHING_MACHINE,
    "washerdryer": Appliance.WASHING_MACHINE,
}


def canonical_appliance(name: str) -> Appliance | None:
    """Map a column name such as 'WashingMachine' or 'Washing Machine' to the vocabulary."""
    import re

    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name.strip())
    key = re.sub(r"[^a-z0-9]+", "_", snake.lower()).strip("_")
    if key in APPLIANCE_ALIASES:
        return APPLIANCE_ALIASES[key]
    return APPLIANCE_ALIASES.get(key.replace("_", ""))
