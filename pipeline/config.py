"""Every constant and profile setting in one place, recorded verbatim with each run.

Appliance parameters are those in force for the article (reference implementation, ml/common.py);
the REFIT house/channel map and the test/validation houses are the article's.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
from dataclasses import dataclass, field

from store.vocab import Appliance, Arch, Mode, Profile, Runtime

WINDOW = 599
MIDPOINT = WINDOW // 2
AGG_MEAN_W = 522.0  # aggregate standardisation (D'Incecco et al., used by the article)
AGG_STD_W = 814.0
REFIT_PERIOD_S = 8.0


@dataclass(frozen=True)
class ApplianceParams:
    on_threshold_w: float
    max_power_w: float  # P_m
    min_on_s: float
    min_off_s: float
    l1_weight: float  # lambda (c0) of the L1 loss term


APPLIANCES: dict[Appliance, ApplianceParams] = {
    Appliance.KETTLE: ApplianceParams(2000.0, 3100.0, 12.0, 0.0, 1.0),
    Appliance.MICROWAVE: ApplianceParams(200.0, 3000.0, 12.0, 30.0, 1.0),
    Appliance.FRIDGE: ApplianceParams(50.0, 400.0, 60.0, 12.0, 1e-6),
    Appliance.DISHWASHER: ApplianceParams(10.0, 2500.0, 1800.0, 1800.0, 1.0),
    Appliance.WASHING_MACHINE: ApplianceParams(20.0, 2500.0, 1800.0, 160.0, 1e-2),
}


@dataclass(frozen=True)
class HouseSplit:
    channels: dict[int, int]  # house -> REFIT appliance channel (Appliance<N> column)
    test: int
    val: int

    @property
    def train(self) -> list[int]:
        return [h for h in self.channels if h not in (self.test, self.val)]


REFIT_HOUSES: dict[Appliance, HouseSplit] = {
    Appliance.KETTLE: HouseSplit(
        {2: 8, 3: 9, 4: 9, 5: 8, 6: 7, 7: 9, 8: 9, 9: 7, 12: 6, 13: 9, 19: 5, 20: 9}, test=2, val=5
    ),
    Appliance.MICROWAVE: HouseSplit({4: 8, 10: 8, 12: 3, 17: 7, 19: 4}, test=4, val=17),
    Appliance.FRIDGE: HouseSplit({2: 1, 5: 1, 9: 1, 12: 1, 15: 1}, test=15, val=12),
    Appliance.DISHWASHER: HouseSplit(
        {5: 4, 7: 6, 9: 4, 13: 4, 16: 6, 18: 6, 20: 5}, test=20, val=18
    ),
    Appliance.WASHING_MACHINE: HouseSplit(
        {2: 2, 5: 3, 7: 5, 8: 4, 9: 3, 15: 3, 16: 5, 17: 4, 18: 5}, test=8, val=18
    ),
}


def lr_for_batch(global_batch: int) -> float:
    """Adam learning rate: 1e-4 at batch 1024, scaled by sqrt(batch / 1024) (the article's rule)."""
    return 1e-4 * math.sqrt(global_batch / 1024)


@dataclass(frozen=True)
class ProfileConfig:
    """Every budget and setting of a run. ``smoke``, ``demo`` and ``refit`` are presets of it; any
    field can be overridden from a TOML file or ``--set key=value`` (see CONFIG_KEYS)."""

    name: Profile
    # data
    synthetic_days: float
    # models
    width_scale: float  # 1.0 = the article's sizes
    # training
    batch: dict[Arch, int]
    epochs: dict[Arch, int]
    patience: int
    train_windows: dict[Arch, int | None]  # windows per epoch; None = all
    val_windows: int | None
    # conversion
    calibration_windows: int
    debug_windows: int
    # wall-clock budget per model (s); training stops at the first epoch end past it (None = none)
    train_seconds: dict[Arch, float | None] = field(
        default_factory=lambda: {Arch.CNN: None, Arch.TRANSFORMER: None}
    )
    # learning-rate schedule: "constant" (the article's Adam at lr_for_batch) or "warmup_cosine"
    schedule: str = "constant"
    peak_lr: dict[Arch, float | None] = field(
        default_factory=lambda: {Arch.CNN: None, Arch.TRANSFORMER: None}
    )  # None = lr_for_batch(batch)
    warmup_fraction: float = 0.1
    clipnorm: float | None = None  # gradient-norm clipping (None = none, as the article)
    # fraction of training windows drawn from 'on' midpoints (None = uniform, the article's)
    on_fraction: float | None = None
    suspect_threshold: float = 0.7
    convert_workers: int = field(default_factory=lambda: max(1, min(2, os.cpu_count() or 1)))
    # evaluation: "stratified" (a weighted random sample of the whole test span), "first" (the
    # first N windows in time order: the article's protocol) or "busiest" (the busiest block)
    eval_protocol: str = "stratified"
    eval_windows: int | None = None  # sample size (first/busiest: the N windows)
    eval_core_windows: int = 400  # nested sub-sample for the transformer and the CNN's 16x8
    eval_min_windows: int = 120  # nested sub-sample for the transformer's 16x8 file
    eval_trace_hours: float = (
        24.0  # contiguous stretch kept as traces (and scored the article's way)
    )
    eval_bootstrap: int = 400  # bootstrap resamples for the intervals
    eval_batch: int = 256
    # profiling
    threads: tuple[int, ...] = (1,)
    runtimes: tuple[Runtime, ...] = (Runtime.LITERT,)
    latency_min_seconds: float = 0.5
    latency_min_runs: int = 10
    op_profile: bool = True
    op_profile_modes: tuple[Mode, ...] | None = None  # None = every mode
    profile_workers: int = 1  # variants measured at once; >1 overlaps measurements (smoke only)
    train_workers: int = 1  # models trained at once in worker processes (tiny smoke models only)
    op_runs: int = 5
    seed: int = 1234
    modes: tuple[Mode, ...] = field(default_factory=lambda: tuple(Mode))

    def to_json(self) -> dict:
        return json.loads(json.dumps(dataclasses.asdict(self), default=str))


def _all_cores() -> tuple[int, ...]:
    n = os.cpu_count() or 1
    return (1,) if n == 1 else (1, n)


def profile_config(name: Profile | str) -> ProfileConfig:
    name = Profile(name)
    if name is Profile.SMOKE:
        return ProfileConfig(
            name=name,
            synthetic_days=1.5,
            width_scale=1 / 16,
            batch={Arch.CNN: 64, Arch.TRANSFORMER: 64},
            epochs={Arch.CNN: 2, Arch.TRANSFORMER: 2},
            schedule="warmup_cosine",
            peak_lr={Arch.CNN: 1e-3, Arch.TRANSFORMER: 1e-3},
            patience=2,
            train_windows={Arch.CNN: 512, Arch.TRANSFORMER: 256},
            val_windows=256,
            calibration_windows=32,
            debug_windows=16,
            eval_windows=600,
            eval_core_windows=200,
            eval_min_windows=80,
            eval_trace_hours=2.0,
            eval_bootstrap=200,
            threads=(1,),
            runtimes=(Runtime.LITERT,),
            latency_min_seconds=0.05,
            latency_min_runs=5,
            op_runs=2,
            profile_workers=2,
            train_workers=2,
        )
    if name is Profile.DEMO:
        # The default run: full-size models on the embedded data within about 30 minutes on 2
        # cores. Training is bounded by wall-clock seconds per model with warm-up + cosine;
        # 'on' windows are oversampled so sparse appliances are seen in a short budget.
        return ProfileConfig(
            name=name,
            synthetic_days=6.0,
            width_scale=1.0,
            batch={Arch.CNN: 128, Arch.TRANSFORMER: 32},
            epochs={Arch.CNN: 30, Arch.TRANSFORMER: 30},
            patience=4,
            train_windows={Arch.CNN: 2048, Arch.TRANSFORMER: 768},
            train_seconds={Arch.CNN: 30.0, Arch.TRANSFORMER: 80.0},
            schedule="warmup_cosine",
            # measured on the embedded kettle data, 80 steps of 32: peak 1e-3 reached a
            # validation loss of 0.53 (F1 0.74 on 3,000 random test windows), 3e-4 only 0.76
            peak_lr={Arch.CNN: 5e-4, Arch.TRANSFORMER: 1e-3},
            clipnorm=1.0,
            on_fraction=0.3,
            val_windows=256,
            calibration_windows=64,
            debug_windows=16,
            # the CNN's files cost ~0.1-2 ms a window: a large sample narrows the intervals of
            # rare appliances (microwave, dishwasher) at little cost
            eval_windows=6000,
            eval_core_windows=400,
            eval_min_windows=100,
            eval_trace_hours=1.0,
            eval_bootstrap=400,
            threads=_all_cores(),
            runtimes=(Runtime.LITERT, Runtime.TF_LITE),
            latency_min_seconds=0.3,
            latency_min_runs=10,
            op_profile_modes=(Mode.CONVERT_ONLY, Mode.W8_A8, Mode.W8_A8_XNNPACK),
            # the int16 mixed-precision mode runs ~9x the float transformer on reference
            # kernels: add it with --set "convert.modes=[...]" when it is the question
            modes=tuple(m for m in Mode if m is not Mode.W8_A8_MIXED16),
            op_runs=3,
        )
    return ProfileConfig(
        name=name,
        synthetic_days=30.0,
        width_scale=1.0,
        batch={Arch.CNN: 1024, Arch.TRANSFORMER: 1024},
        epochs={Arch.CNN: 50, Arch.TRANSFORMER: 50},
        patience=6,
        train_windows={Arch.CNN: None, Arch.TRANSFORMER: None},
        val_windows=None,
        calibration_windows=43200,
        debug_windows=1000,
        eval_protocol="first",
        eval_windows=432000,
        threads=_all_cores(),
        runtimes=(Runtime.LITERT, Runtime.TF_LITE),
        latency_min_seconds=2.0,
        latency_min_runs=50,
        op_runs=20,
    )


# -- overrides ------------------------------------------------------------------------------
# Dotted key -> (ProfileConfig field, per-architecture sub-key or None, value type, help).
# "train.epochs" sets both architectures; "train.epochs.transformer" one of them.
_PER_ARCH = ("batch", "epochs", "train_windows", "train_seconds", "peak_lr")
CONFIG_KEYS: dict[str, tuple[str, str]] = {
    "data.synthetic_days": ("synthetic_days", "days of embedded data per house"),
    "model.width_scale": ("width_scale", "layer widths relative to the article's (1.0)"),
    "train.batch": ("batch", "training batch size"),
    "train.epochs": ("epochs", "epochs at most"),
    "train.patience": ("patience", "early-stopping patience in epochs"),
    "train.windows": ("train_windows", "training windows per epoch (omit = all)"),
    "train.seconds": ("train_seconds", "wall-clock budget per model in seconds"),
    "train.schedule": ("schedule", "constant or warmup_cosine"),
    "train.peak_lr": ("peak_lr", "peak learning rate (omit = the article's batch rule)"),
    "train.warmup_fraction": ("warmup_fraction", "share of steps spent warming up"),
    "train.clipnorm": ("clipnorm", "clip each gradient to this norm (omit = no clipping)"),
    "train.on_fraction": ("on_fraction", "share of training windows with an 'on' midpoint"),
    "train.val_windows": ("val_windows", "validation windows (omit = all)"),
    "train.workers": ("train_workers", "models trained at once in worker processes"),
    "convert.calibration_windows": ("calibration_windows", "representative windows"),
    "convert.debug_windows": ("debug_windows", "quantization-debugger windows"),
    "convert.suspect_threshold": ("suspect_threshold", "rmse/scale above which a layer is suspect"),
    "convert.workers": ("convert_workers", "models converted at once"),
    "convert.modes": ("modes", "quantization modes to produce"),
    "evaluate.protocol": ("eval_protocol", "stratified, first or busiest"),
    "evaluate.windows": ("eval_windows", "evaluation sample size"),
    "evaluate.core_windows": ("eval_core_windows", "sub-sample for the transformer and CNN 16x8"),
    "evaluate.min_windows": ("eval_min_windows", "sub-sample for the transformer's 16x8 file"),
    "evaluate.trace_hours": ("eval_trace_hours", "hours of contiguous trace kept"),
    "evaluate.bootstrap": ("eval_bootstrap", "bootstrap resamples for intervals"),
    "evaluate.batch": ("eval_batch", "Keras prediction batch"),
    "profile.threads": ("threads", "interpreter thread counts measured"),
    "profile.runtimes": ("runtimes", "litert and/or tf_lite"),
    "profile.latency_min_seconds": ("latency_min_seconds", "timed seconds per latency cell"),
    "profile.latency_min_runs": ("latency_min_runs", "timed invokes per latency cell at least"),
    "profile.op_profile": ("op_profile", "measure isolated per-op latency"),
    "profile.op_profile_modes": ("op_profile_modes", "modes whose per-op latency is measured"),
    "profile.op_runs": ("op_runs", "runs per op"),
    "profile.workers": ("profile_workers", "variants measured at once"),
    "seed": ("seed", "random seed"),
}
_CHOICES = {
    "schedule": ("constant", "warmup_cosine"),
    "eval_protocol": ("stratified", "first", "busiest"),
}


# integer settings for which 0 means something (no patience, seed 0); the others need >= 1
ZERO_ALLOWED = {"patience", "seed"}


def valid_keys_text() -> str:
    lines = []
    for key, (fname, text) in CONFIG_KEYS.items():
        suffix = " (.cnn / .transformer for one architecture)" if fname in _PER_ARCH else ""
        lines.append(f"  {key}: {text}{suffix}")
    return "\n".join(lines)


def _coerce(key: str, fname: str, value, current):
    """Check one override against the type of the preset's value; return the typed value."""
    from pipeline.errors import ConfigError

    def bad(expected: str):
        return ConfigError(f"{key}: expected {expected}, got {value!r}")

    if fname in _CHOICES:
        if value not in _CHOICES[fname]:
            raise bad("one of " + ", ".join(_CHOICES[fname]))
        return value
    if fname in ("threads",):
        vals = value if isinstance(value, list) else [value]
        if not vals or not all(
            isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in vals
        ):
            raise bad("a positive integer or a list of them")
        return tuple(vals)
    if fname in ("runtimes", "modes", "op_profile_modes"):
        enum = Runtime if fname == "runtimes" else Mode
        vals = value if isinstance(value, list) else [value]
        try:
            return tuple(enum(v) for v in vals)
        except ValueError:
            raise bad("a list of " + ", ".join(e.value for e in enum)) from None
    sample = current
    if isinstance(sample, bool):
        if not isinstance(value, bool):
            raise bad("true or false")
        return value
    nullable = fname in (
        "train_windows",
        "train_seconds",
        "peak_lr",
        "val_windows",
        "eval_windows",
        "on_fraction",
        "clipnorm",
    )
    if value in ("none", "None", "null") and nullable:
        return None
    if fname in ("train_seconds", "peak_lr", "on_fraction", "clipnorm"):
        sample = 1.0
    if fname in ("batch", "epochs", "train_windows", "val_windows", "eval_windows") or isinstance(
        sample, int
    ):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise bad("a non-negative integer")
        if value == 0 and fname not in ZERO_ALLOWED:
            raise bad("a positive integer")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value or value < 0:
        raise bad("a non-negative number")
    if fname == "on_fraction" and not 0 <= value <= 1:
        raise bad("a number between 0 and 1")
    return float(value)


def _parse_value(text: str):
    import tomllib

    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text.strip()


def _flatten(table: dict, prefix: str = "") -> dict[str, object]:
    out = {}
    for k, v in table.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def apply_overrides(cfg: ProfileConfig, overrides: dict[str, object]) -> ProfileConfig:
    """A copy of cfg with dotted-key overrides applied; unknown keys and bad values raise
    ConfigError listing the valid keys."""
    from pipeline.errors import ConfigError

    changes: dict = {}
    for key, value in overrides.items():
        base, _, arch = key.rpartition(".")
        if key in CONFIG_KEYS:
            fname, arch = CONFIG_KEYS[key][0], None
        elif base in CONFIG_KEYS and CONFIG_KEYS[base][0] in _PER_ARCH and arch in set(Arch):
            fname, arch = CONFIG_KEYS[base][0], Arch(arch)
        else:
            raise ConfigError(f"unknown setting {key!r}; valid keys:\n{valid_keys_text()}")
        if fname in _PER_ARCH:
            per = dict(changes.get(fname, getattr(cfg, fname)))
            for a in [arch] if arch else list(Arch):
                per[a] = _coerce(key, fname, value, per[a] if per[a] is not None else 1)
            changes[fname] = per
        else:
            changes[fname] = _coerce(key, fname, value, getattr(cfg, fname))
    out = dataclasses.replace(cfg, **changes)
    _check_consistent(out)
    return out


def _check_consistent(cfg: ProfileConfig) -> None:
    """Settings that are valid alone but not together."""
    from pipeline.errors import ConfigError

    if cfg.eval_min_windows > cfg.eval_core_windows:
        raise ConfigError(
            f"evaluate.min_windows ({cfg.eval_min_windows}) must not exceed "
            f"evaluate.core_windows ({cfg.eval_core_windows}): the samples are nested"
        )
    if cfg.eval_windows is not None and cfg.eval_core_windows > cfg.eval_windows:
        raise ConfigError(
            f"evaluate.core_windows ({cfg.eval_core_windows}) must not exceed "
            f"evaluate.windows ({cfg.eval_windows}): the samples are nested"
        )


def resolve_config(
    profile: Profile | str, config_file=None, overrides: list[str] | None = None
) -> ProfileConfig:
    """The preset named by ``profile``, then the TOML file's settings, then each ``key=value``.

    The file holds tables (``[train]`` ``epochs = 10``) or dotted keys; both use CONFIG_KEYS.
    The resolved values are what the run records and what cache keys are made of.
    """
    import tomllib
    from pathlib import Path

    from pipeline.errors import ConfigError

    settings: dict[str, object] = {}
    if config_file is not None:
        path = Path(config_file)
        try:
            settings.update(_flatten(tomllib.loads(path.read_text())))
        except FileNotFoundError:
            raise ConfigError(f"{path}: config file not found") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc})") from None
        profile = settings.pop("profile", profile)
    for item in overrides or []:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects KEY=VALUE, got {item!r}")
        settings[key.strip()] = _parse_value(text)
    try:
        base = profile_config(profile)
    except ValueError:
        raise ConfigError(
            f"unknown profile {profile!r}; valid: " + ", ".join(p.value for p in Profile)
        ) from None
    return apply_overrides(base, settings)


def stable_hash(obj) -> str:
    """Short sha256 of a JSON-serialisable object with sorted keys."""
    text = json.dumps(obj, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def file_sha256(path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()
