"""Every setting a run takes, named once: its ``--set`` key, the ProfileConfig field it sets, its
help text, its type (what an override must be) and the stages whose cache key holds it.

``CONFIG_KEYS``, the per-architecture keys, the checks of ``--set`` and TOML values
(pipeline/settings/overrides.py) and each stage's settings object (pipeline/settings/stages.py,
the stage's cache key) are all read from ``SETTINGS``. A setting no cache key holds says why.
"""

from __future__ import annotations

from dataclasses import dataclass

from store.vocab import Arch

# the stages with a cache key, in run order
STAGES = ("data", "train", "convert", "evaluate", "profile")


@dataclass(frozen=True)
class Setting:
    key: str  # the --set / TOML name
    field: str  # the ProfileConfig field
    help: str
    # count: integer >= 1 (>= 0 with zero_ok); number: float >= 0; share: float in [0, 1];
    # choice: one of ``choices``; flag: true/false; threads: positive integers; modes, runtimes:
    # lists of the vocabulary's values
    kind: str
    stages: tuple[str, ...] = ()  # the stages whose cache key holds it
    per_arch: bool = False  # a value per architecture ("train.epochs.cnn" sets one)
    nullable: bool = False  # takes none/null (see the field's comment for what None means)
    zero_ok: bool = False  # a count for which 0 means something (no patience, seed 0)
    choices: tuple[str, ...] = ()
    unkeyed: str = ""  # when no stage's key holds it: why its value changes no result


def _s(key, field, help, kind, *stages, **kw) -> Setting:
    return Setting(key, field, help, kind, tuple(stages), **kw)


T, C, E, P = "train", "convert", "evaluate", "profile"
# convert holds what the quantization-aware fine-tune reads (batch, on/hard fraction, off-power
# weight, seed)
SETTINGS: tuple[Setting, ...] = (
    _s(
        "data.synthetic_days", "synthetic_days", "days of embedded data per house", "number", "data"
    ),
    _s(
        "model.width_scale",
        "width_scale",
        "layer widths relative to the article's (1.0)",
        "number",
        T,
    ),
    _s("train.batch", "batch", "training batch size", "count", T, C, per_arch=True),
    _s("train.epochs", "epochs", "epochs at most", "count", T, per_arch=True),
    _s(
        "train.patience",
        "patience",
        "early-stopping patience in epochs",
        "count",
        T,
        per_arch=True,
        zero_ok=True,
    ),
    _s(
        "train.windows",
        "train_windows",
        "training windows per epoch (omit = all)",
        "count",
        T,
        per_arch=True,
        nullable=True,
    ),
    _s(
        "train.seconds",
        "train_seconds",
        "wall-clock budget per model in seconds",
        "number",
        T,
        per_arch=True,
        nullable=True,
    ),
    _s(
        "train.schedule",
        "schedule",
        "constant or warmup_cosine",
        "choice",
        T,
        choices=("constant", "warmup_cosine"),
    ),
    _s(
        "train.peak_lr",
        "peak_lr",
        "peak learning rate (omit = the article's batch rule)",
        "number",
        T,
        per_arch=True,
        nullable=True,
    ),
    _s("train.warmup_fraction", "warmup_fraction", "share of steps spent warming up", "number", T),
    _s(
        "train.clipnorm",
        "clipnorm",
        "clip each gradient to this norm (omit = no clipping)",
        "number",
        T,
        nullable=True,
    ),
    _s(
        "train.on_fraction",
        "on_fraction",
        "share of training windows with an 'on' midpoint",
        "share",
        T,
        C,
        nullable=True,
    ),
    _s(
        "train.hard_fraction",
        "hard_fraction",
        "least share of training windows that are 'off' but look like activations",
        "share",
        T,
        C,
        per_arch=True,
        nullable=True,
    ),
    _s(
        "train.keep",
        "keep_epoch",
        "weights kept: best (lowest validation loss) or last epoch",
        "choice",
        T,
        per_arch=True,
        choices=("best", "last"),
    ),
    _s(
        "train.qat_steps",
        "qat_steps",
        "steps of quantization-aware fine-tuning for the qat_w8_a8 variant (0 = none)",
        "count",
        C,
        per_arch=True,
        zero_ok=True,
    ),
    _s(
        "train.qat_lr",
        "qat_peak_lr",
        "learning rate of the quantization-aware fine-tuning",
        "number",
        C,
    ),
    _s(
        "train.val_windows",
        "val_windows",
        "validation windows (omit = all)",
        "count",
        T,
        nullable=True,
    ),
    _s(
        "train.off_weight",
        "off_weight",
        "weight of a loss term on power predicted while the appliance is off (0 = none)",
        "number",
        T,
        C,
    ),
    _s(
        "train.augment_fraction",
        "augment_fraction",
        "share of 'on' windows placed onto another stretch of the training aggregate",
        "share",
        T,
    ),
    _s(
        "train.distract_fraction",
        "distract_fraction",
        "share of 'off' windows given a load weaker than the appliance's, still 'off'",
        "share",
        T,
    ),
    _s(
        "train.workers",
        "train_workers",
        "models trained at once in worker processes",
        "count",
        unkeyed="how many models train at once, not what each learns",
    ),
    _s("convert.calibration_windows", "calibration_windows", "representative windows", "count", C),
    _s("convert.debug_windows", "debug_windows", "quantization-debugger windows", "count", C),
    _s(
        "convert.suspect_threshold",
        "suspect_threshold",
        "rmse/scale above which a layer is suspect",
        "number",
        C,
    ),
    _s(
        "convert.workers",
        "convert_workers",
        "models converted at once",
        "count",
        unkeyed="how many models convert at once, not what each file is",
    ),
    _s(
        "convert.sensitivity_windows",
        "sensitivity_windows",
        "windows each file with one tensor kept float runs on",
        "count",
        C,
    ),
    _s(
        "convert.sensitivity_top_k",
        "sensitivity_top_k",
        "tensors by local error tried end to end besides the range blow-ups",
        "count",
        C,
    ),
    _s(
        "convert.protect_recovered_share",
        "protect_recovered_share",
        "share of the int8 output error the protected tensors must recover",
        "number",
        C,
    ),
    _s("convert.modes", "modes", "quantization modes to produce", "modes", C),
    _s(
        "evaluate.protocol",
        "eval_protocol",
        "stratified, first or busiest",
        "choice",
        E,
        choices=("stratified", "first", "busiest"),
    ),
    _s("evaluate.windows", "eval_windows", "evaluation sample size", "count", E, nullable=True),
    _s(
        "evaluate.reference_windows",
        "eval_reference_windows",
        "sub-sample for the transformer's Keras model (omit = all)",
        "count",
        E,
        nullable=True,
    ),
    _s(
        "evaluate.core_windows",
        "eval_core_windows",
        "sub-sample for the transformer's files",
        "count",
        E,
    ),
    _s(
        "evaluate.min_windows",
        "eval_min_windows",
        "sub-sample for the transformer's 16x8 file",
        "count",
        E,
    ),
    _s("evaluate.trace_hours", "eval_trace_hours", "hours of contiguous trace kept", "number", E),
    _s("evaluate.bootstrap", "eval_bootstrap", "bootstrap resamples for intervals", "count", E),
    _s(
        "evaluate.batch",
        "eval_batch",
        "Keras prediction batch",
        "count",
        unkeyed="the Keras prediction batch: the same predictions in other batches",
    ),
    _s(
        "evaluate.postprocess",
        "eval_postprocess",
        "none, or threshold (predictions under the on-threshold set to 0 W, the article's)",
        "choice",
        E,
        choices=("none", "threshold"),
    ),
    _s(
        "recommend.margin",
        "recommend_margin",
        "F1 a cheaper variant may lose to the best (paired lower bound), 0-1",
        "share",
        unkeyed="the recommendation reads it from the store's rows at the end of a run",
    ),
    _s("profile.threads", "threads", "interpreter thread counts measured", "threads", P),
    _s("profile.runtimes", "runtimes", "litert and/or tf_lite", "runtimes", P),
    _s(
        "profile.latency_min_seconds",
        "latency_min_seconds",
        "timed seconds per latency cell",
        "number",
        P,
    ),
    _s(
        "profile.latency_min_runs",
        "latency_min_runs",
        "timed invokes per latency cell at least",
        "count",
        P,
    ),
    _s("profile.op_profile", "op_profile", "measure isolated per-op latency", "flag", P),
    _s(
        "profile.op_profile_modes",
        "op_profile_modes",
        "modes whose per-op latency is measured",
        "modes",
        P,
    ),
    _s("profile.op_runs", "op_runs", "runs per op", "count", P),
    # measured at once, variants slow each other down: the numbers depend on it
    _s("profile.workers", "profile_workers", "variants measured at once", "count", P),
    # data: the embedded data's generator (none for real data)
    _s("seed", "seed", "random seed", "count", "data", T, C, E, zero_ok=True),
)
BY_KEY: dict[str, Setting] = {s.key: s for s in SETTINGS}
BY_FIELD: dict[str, Setting] = {s.field: s for s in SETTINGS}


def resolve_key(key: str) -> tuple[Setting, str | None] | None:
    """The setting a ``--set`` key names and the architecture it names ("train.epochs.cnn":
    epochs, "cnn"; "train.epochs": epochs, None), or None for an unknown key."""
    if key in BY_KEY:
        return BY_KEY[key], None
    base, _, arch = key.rpartition(".")
    setting = BY_KEY.get(base)
    if setting is not None and setting.per_arch and arch in {a.value for a in Arch}:
        return setting, arch
    return None
