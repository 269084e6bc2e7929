"""A run's settings from its preset, a TOML file and ``--set key=value`` overrides, checked.

Every override is checked against the type of the preset's value; an unknown key or a bad value
raises ConfigError naming the key and what was expected (an unknown key lists the valid ones).
"""

from __future__ import annotations

import dataclasses

from pipeline.settings.presets import ProfileConfig, profile_config
from store.vocab import Arch, Mode, Profile, Runtime

# Dotted key -> (ProfileConfig field, help). For the fields in _PER_ARCH, "train.epochs" sets
# both architectures and "train.epochs.transformer" one of them.
_PER_ARCH = (
    "batch",
    "epochs",
    "patience",
    "train_windows",
    "train_seconds",
    "peak_lr",
    "hard_fraction",
    "qat_steps",
    "keep_epoch",
)
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
    "train.hard_fraction": (
        "hard_fraction",
        "least share of training windows that are 'off' but look like activations",
    ),
    "train.keep": ("keep_epoch", "weights kept: best (lowest validation loss) or last epoch"),
    "train.qat_steps": (
        "qat_steps",
        "steps of quantization-aware fine-tuning for the qat_w8_a8 variant (0 = none)",
    ),
    "train.qat_lr": ("qat_peak_lr", "learning rate of the quantization-aware fine-tuning"),
    "train.val_windows": ("val_windows", "validation windows (omit = all)"),
    "train.off_weight": (
        "off_weight",
        "weight of a loss term on power predicted while the appliance is off (0 = none)",
    ),
    "train.augment_fraction": (
        "augment_fraction",
        "share of 'on' windows placed onto another stretch of the training aggregate",
    ),
    "train.distract_fraction": (
        "distract_fraction",
        "share of 'off' windows given a load weaker than the appliance's, still 'off'",
    ),
    "train.workers": ("train_workers", "models trained at once in worker processes"),
    "convert.calibration_windows": ("calibration_windows", "representative windows"),
    "convert.debug_windows": ("debug_windows", "quantization-debugger windows"),
    "convert.suspect_threshold": ("suspect_threshold", "rmse/scale above which a layer is suspect"),
    "convert.workers": ("convert_workers", "models converted at once"),
    "convert.sensitivity_windows": (
        "sensitivity_windows",
        "windows each file with one tensor kept float runs on",
    ),
    "convert.sensitivity_top_k": (
        "sensitivity_top_k",
        "tensors by local error tried end to end besides the range blow-ups",
    ),
    "convert.protect_recovered_share": (
        "protect_recovered_share",
        "share of the int8 output error the protected tensors must recover",
    ),
    "convert.modes": ("modes", "quantization modes to produce"),
    "evaluate.protocol": ("eval_protocol", "stratified, first or busiest"),
    "evaluate.windows": ("eval_windows", "evaluation sample size"),
    "evaluate.reference_windows": (
        "eval_reference_windows",
        "sub-sample for the transformer's Keras model (omit = all)",
    ),
    "evaluate.core_windows": ("eval_core_windows", "sub-sample for the transformer's files"),
    "evaluate.min_windows": ("eval_min_windows", "sub-sample for the transformer's 16x8 file"),
    "evaluate.trace_hours": ("eval_trace_hours", "hours of contiguous trace kept"),
    "evaluate.bootstrap": ("eval_bootstrap", "bootstrap resamples for intervals"),
    "evaluate.batch": ("eval_batch", "Keras prediction batch"),
    "evaluate.postprocess": (
        "eval_postprocess",
        "none, or threshold (predictions under the on-threshold set to 0 W, the article's)",
    ),
    "recommend.margin": (
        "recommend_margin",
        "F1 a cheaper variant may lose to the best (paired lower bound), 0-1",
    ),
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
    "keep_epoch": ("best", "last"),
    "eval_postprocess": ("none", "threshold"),
}


# integer settings for which 0 means something (no patience, seed 0); the others need >= 1
ZERO_ALLOWED = {"patience", "seed", "qat_steps"}


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
    if isinstance(current, bool):
        if not isinstance(value, bool):
            raise bad("true or false")
        return value
    if value in ("none", "None", "null") and fname in _NULLABLE:
        return None
    return _coerce_number(fname, value, 1.0 if fname in _FLOATS else current, bad)


# settings that take none/null, that are floats whatever the preset holds, that count things
_NULLABLE = (
    "train_windows",
    "train_seconds",
    "peak_lr",
    "val_windows",
    "eval_windows",
    "eval_reference_windows",
    "on_fraction",
    "hard_fraction",
    "clipnorm",
)
_FLOATS = ("train_seconds", "peak_lr", "on_fraction", "hard_fraction", "clipnorm")
_COUNTS = (
    "batch",
    "epochs",
    "train_windows",
    "val_windows",
    "eval_windows",
    "eval_reference_windows",
)


def _coerce_number(fname: str, value, sample, bad):
    """A count (non-negative integer) or a non-negative number, as ``sample``'s type says."""
    if fname in _COUNTS or isinstance(sample, int):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise bad("a non-negative integer")
        if value == 0 and fname not in ZERO_ALLOWED:
            raise bad("a positive integer")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value or value < 0:
        raise bad("a non-negative number")
    if (
        fname
        in (
            "on_fraction",
            "hard_fraction",
            "recommend_margin",
            "augment_fraction",
            "distract_fraction",
        )
        and not 0 <= value <= 1
    ):
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
    for arch, hard in cfg.hard_fraction.items():
        if (cfg.on_fraction or 0) + (hard or 0) > 1:
            raise ConfigError(
                f"train.on_fraction ({cfg.on_fraction}) and train.hard_fraction.{arch.value} "
                f"({hard}) are shares of one mix: together at most 1"
            )
    ref = cfg.eval_reference_windows
    if ref is not None and ref < cfg.eval_core_windows:
        raise ConfigError(
            f"evaluate.reference_windows ({ref}) must not be below "
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
