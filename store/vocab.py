"""The project's vocabulary: the string values stored in the DuckDB file.

Every table that names an appliance, architecture, quantization mode, runtime, split or
metric uses exactly these values, so SQL written against the store can rely on them.
"""

from __future__ import annotations

from dataclasses import dataclass
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
    QAT_W8_A8 = "qat_w8_a8"  # full int8 of the model fine-tuned with fake-quant (QAT)
    QAT_W8_A8_XNNPACK = "qat_w8_a8_xnnpack"  # the QAT model as w8_a8_xnnpack converts


TFLITE_MODES: tuple[Mode, ...] = tuple(m for m in Mode if m is not Mode.KERAS)
QUANTIZED_ACTIVATION_MODES: tuple[Mode, ...] = (
    Mode.W8_A8_FALLBACK,
    Mode.W8_A8,
    Mode.W8_A16,
    Mode.W8_A8_SELECTIVE,
    Mode.W8_A8_XNNPACK,
    Mode.W8_A8_MIXED16,
    Mode.QAT_W8_A8,
    Mode.QAT_W8_A8_XNNPACK,
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


# the metrics split of the article's protocol on the contiguous trace stretch (beside split test,
# and test@house<N>: see store/ids.py)
TRACE_SPLIT = "test_trace"


class Kind(StrEnum):
    """What a variant is: a trained network (or its conversion), or a non-learned baseline."""

    MODEL = "model"
    BASELINE = "baseline"


# a baseline's arch (model id <appliance>.baseline) and its evaluation's runtime
BASELINE_ARCH = Kind.BASELINE.value


class Baseline(StrEnum):
    """The non-learned baselines (a baseline variant's mode)."""

    ALWAYS_OFF = "always_off"  # 0 W
    MEAN_POWER = "mean_power"  # the training split's mean appliance power
    AGGREGATE_THRESHOLD = "aggregate_threshold"  # the aggregate's rise over its base load


class Metric(StrEnum):
    """Metric names as stored in the long-format `metrics` table (see METRICS for each one's
    label, unit, direction and formula)."""

    MAE = "mae"  # plain, unmasked
    SAE = "sae"
    NDE = "nde"
    MAE_MASKED = "mae_masked"  # the article's status-masked definitions
    SAE_MASKED = "sae_masked"
    NDE_MASKED = "nde_masked"
    EPD_TRUE = "epd_true_wh"
    EPD_PRED = "epd_pred_wh"
    EPD_ERROR_PCT = "epd_error_pct"
    EPD_ARTICLE_TRUE = "epd_article_true_wh"  # the article's hourly-chunk rule (traces only)
    EPD_ARTICLE_PRED = "epd_article_pred_wh"
    EPD_ARTICLE_ERROR_PCT = "epd_article_error_pct"
    ACC = "acc"
    PRECISION = "precision"
    RECALL = "recall"
    F1 = "f1"
    MCC = "mcc"
    TP = "tp"
    TN = "tn"
    FP = "fp"
    FN = "fn"


@dataclass(frozen=True)
class MetricInfo:
    """What a metric means, for every reader of the store (the dashboard's labels, units and
    sort order come from here). t: true appliance power, p: predicted, s: on/off status."""

    label: str  # as a person reads it, with unit and definition
    unit: str  # "" for unitless
    higher_is_better: bool | None  # None: neither (a count or a raw quantity)
    formula: str
    sampled: bool = True  # estimated from the evaluation sample (split test); else traces only
    traced: bool = True  # scored on split test_trace too (the article's protocol)
    paired: bool = False  # each TFLite variant's paired difference from its float model
    wide: bool = False  # a column of the metrics_wide view (the tradeoff view reads it there)
    tradeoff: str | None = None  # its column in the tradeoff view (None: not there)
    article: str | None = None  # the article publishes it, same definition: its label there


# the order is the order of every list derived below (the dashboard's menus follow it)
METRICS: dict[Metric, MetricInfo] = {
    Metric.F1: MetricInfo(
        "F1",
        "",
        True,
        "2 TP / (2 TP + FP + FN)",
        paired=True,
        wide=True,
        tradeoff="f1",
        article="F1",
    ),
    Metric.MCC: MetricInfo(
        "MCC",
        "",
        True,
        "(TP TN - FP FN) / sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN)); 0 if constant",
        paired=True,
        wide=True,
        tradeoff="mcc",
        article="MCC",
    ),
    Metric.ACC: MetricInfo(
        "accuracy",
        "",
        True,
        "(TP + TN) / windows",
        wide=True,
        tradeoff="acc",
        article="accuracy",
    ),
    Metric.PRECISION: MetricInfo("precision", "", True, "TP / (TP + FP)", paired=True, wide=True),
    Metric.RECALL: MetricInfo("recall", "", True, "TP / (TP + FN)", paired=True, wide=True),
    Metric.MAE: MetricInfo(
        "MAE (W, plain)", "W", False, "mean |p - t|", paired=True, wide=True, tradeoff="mae_w"
    ),
    Metric.MAE_MASKED: MetricInfo(
        "MAE (W, article's status-masked)",
        "W",
        False,
        "mean |t s_t - p s_p|",
        wide=True,
        tradeoff="mae_masked_w",
        article="MAE, status-masked (W)",
    ),
    Metric.SAE: MetricInfo(
        "SAE (plain)",
        "",
        False,
        "|sum p - sum t| / sum t",
        paired=True,
        wide=True,
        tradeoff="sae",
    ),
    Metric.NDE: MetricInfo(
        "NDE (plain)",
        "",
        False,
        "sum (t - p)^2 / sum t^2",
        paired=True,
        wide=True,
        tradeoff="nde",
    ),
    Metric.SAE_MASKED: MetricInfo(
        "SAE (article's status-masked)",
        "",
        False,
        "|sum p s_p - sum t s_t| / sum t s_t",
        wide=True,
        article="SAE, status-masked",
    ),
    Metric.NDE_MASKED: MetricInfo(
        "NDE (article's status-masked)",
        "",
        False,
        "sum (t s_t - p s_p)^2 / sum t^2",
        wide=True,
        article="NDE, status-masked",
    ),
    Metric.EPD_TRUE: MetricInfo(
        "true energy per day (Wh)", "Wh", None, "mean t x 24 h", traced=False
    ),
    Metric.EPD_PRED: MetricInfo(
        "predicted energy per day (Wh)", "Wh", None, "mean p x 24 h", traced=False
    ),
    Metric.EPD_ERROR_PCT: MetricInfo(
        "energy-per-day error (%, unbiased)",
        "%",
        None,
        "100 (EpD_pred - EpD_true) / EpD_true",
        traced=False,
        paired=True,
        wide=True,
        tradeoff="epd_error_pct",
    ),
    Metric.EPD_ARTICLE_TRUE: MetricInfo(
        "true energy per day (Wh, article's hourly chunks)",
        "Wh",
        None,
        "mean over whole hours of the hour's energy x 24, masked by status",
        sampled=False,
    ),
    Metric.EPD_ARTICLE_PRED: MetricInfo(
        "predicted energy per day (Wh, article's hourly chunks)",
        "Wh",
        None,
        "as epd_article_true_wh on the prediction",
        sampled=False,
    ),
    Metric.EPD_ARTICLE_ERROR_PCT: MetricInfo(
        "energy-per-day error (%, article's hourly chunks)",
        "%",
        None,
        "100 (pred - true) / true of the article's hourly-chunk energies",
        sampled=False,
        wide=True,
        article="energy-per-day error, the article's hourly rule (%)",
    ),
    Metric.TP: MetricInfo("true positives", "windows", None, "windows on in truth and prediction"),
    Metric.TN: MetricInfo("true negatives", "windows", None, "windows off in both"),
    Metric.FP: MetricInfo("false positives", "windows", None, "off in truth, on in prediction"),
    Metric.FN: MetricInfo("false negatives", "windows", None, "on in truth, off in prediction"),
}
# the lists every reader of the store uses, from the flags above (never written by hand)
SAMPLE_METRICS: tuple[str, ...] = tuple(m.value for m, info in METRICS.items() if info.sampled)
TRACE_METRICS: tuple[str, ...] = tuple(m.value for m, info in METRICS.items() if info.traced)
PAIRED_METRICS: tuple[str, ...] = tuple(m.value for m, info in METRICS.items() if info.paired)
WIDE_METRICS: tuple[str, ...] = tuple(m.value for m, info in METRICS.items() if info.wide)
# tradeoff view column -> metric
TRADEOFF_COLUMNS: dict[str, str] = {
    info.tradeoff: m.value for m, info in METRICS.items() if info.tradeoff
}
# the paired differences from the float model that the tradeoff view also plots (the
# Quantization page's menu)
QUANT_DELTA_METRICS: tuple[str, ...] = tuple(
    m.value for m, info in METRICS.items() if info.paired and info.tradeoff
)
# metric -> its label on the Article page, for the metrics the article publishes
ARTICLE_LABELS: dict[str, str] = {
    m.value: info.article for m, info in METRICS.items() if info.article
}


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
