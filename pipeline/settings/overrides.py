"""A run's settings from its preset, a TOML file and ``--set key=value`` overrides, checked.

Every override is checked against the type of the preset's value; an unknown key or a bad value
raises ConfigError naming the key and what was expected (an unknown key lists the valid ones).
"""

from __future__ import annotations

import dataclasses

from pipeline.settings.presets import ProfileConfig, profile_config, set_value
from pipeline.settings.registry import BY_FIELD, SETTINGS, Setting, resolve_key
from store.vocab import Mode, Profile, Runtime

# Dotted key -> (ProfileConfig field, help), from the settings registry. For the per-architecture
# fields, "train.epochs" sets both architectures and "train.epochs.transformer" one of them.
CONFIG_KEYS: dict[str, tuple[str, str]] = {s.key: (s.field, s.help) for s in SETTINGS}
_PER_ARCH = tuple(s.field for s in SETTINGS if s.per_arch)


def valid_keys_text() -> str:
    lines = []
    for key, (fname, text) in CONFIG_KEYS.items():
        suffix = " (.cnn / .transformer for one architecture)" if fname in _PER_ARCH else ""
        lines.append(f"  {key}: {text}{suffix}")
    lines.append(
        "  appliance.<appliance>.<key>: that appliance's own value of a setting training reads"
        " (train.* but qat_steps, qat_lr, workers; model.width_scale)"
    )
    return "\n".join(lines)


_NULL = ("none", "None", "null")


def _coerce(key: str, fname: str, value):
    """Check one override against its setting's kind (pipeline/settings/registry.py); return
    the typed value."""
    from pipeline.errors import ConfigError

    def bad(expected: str):
        return ConfigError(f"{key}: expected {expected}, got {value!r}")

    setting = BY_FIELD[fname]
    kind = setting.kind
    if kind == "choice":
        if value not in setting.choices:
            raise bad("one of " + ", ".join(setting.choices))
        return value
    if kind == "threads":
        vals = value if isinstance(value, list) else [value]
        if not vals or not all(
            isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in vals
        ):
            raise bad("a positive integer or a list of them")
        return tuple(vals)
    if kind in ("runtimes", "modes"):
        enum = Runtime if kind == "runtimes" else Mode
        vals = value if isinstance(value, list) else [value]
        try:
            return tuple(enum(v) for v in vals)
        except ValueError:
            raise bad("a list of " + ", ".join(e.value for e in enum)) from None
    if kind == "flag":
        if not isinstance(value, bool):
            raise bad("true or false")
        return value
    if (value is None or value in _NULL) and setting.nullable:  # None: a value typed before
        return None
    return _coerce_number(setting, value, bad)


def _coerce_number(setting: Setting, value, bad):
    """A count (non-negative integer) or a non-negative number, as the setting's kind says."""
    if setting.kind == "count":
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise bad("a non-negative integer")
        if value == 0 and not setting.zero_ok:
            raise bad("a positive integer")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value or value < 0:
        raise bad("a non-negative number")
    if setting.kind == "share" and not 0 <= value <= 1:
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
    own: list[tuple[str, str, object]] = []
    for key, value in overrides.items():
        if key.startswith(APPLIANCE_PREFIX):
            own.append(_appliance_setting(key, value))
            continue
        resolved = resolve_key(key)
        if resolved is None:
            raise ConfigError(f"unknown setting {key!r}; valid keys:\n{valid_keys_text()}")
        setting, arch = resolved
        set_value(changes, cfg, setting, arch, _coerce(key, setting.field, value))
    if own:
        changes["per_appliance"] = (*cfg.per_appliance, *own)
    out = dataclasses.replace(cfg, **changes)
    _check_consistent(out)
    for appliance in dict.fromkeys(app for app, _, _ in out.per_appliance):
        try:  # each appliance's values checked together now, named by their keys
            _check_consistent(out.for_appliance(appliance))
        except ConfigError as exc:
            raise ConfigError(f"{APPLIANCE_PREFIX}{appliance}: {exc}") from None
    return out


APPLIANCE_PREFIX = "appliance."


def _appliance_setting(key: str, value) -> tuple[str, str, object]:
    """(appliance, setting key, value) of ``appliance.<name>.<key>``: one appliance's own value
    of a training setting (one the data, evaluation and profile stages do not read)."""
    from pipeline.errors import ConfigError
    from store.vocab import Appliance

    name, _, rest = key[len(APPLIANCE_PREFIX) :].partition(".")
    names = [a.value for a in Appliance]
    if name not in names:
        raise ConfigError(f"{key}: unknown appliance {name!r}; valid: {', '.join(names)}")
    resolved = resolve_key(rest)
    if resolved is None:
        raise ConfigError(f"{key}: unknown setting {rest!r}; valid keys:\n{valid_keys_text()}")
    setting = resolved[0]
    if "train" not in setting.stages or set(setting.stages) - {"train", "convert"}:
        raise ConfigError(
            f"{key}: only settings training reads can differ between appliances "
            f"({setting.key} is read by {', '.join(setting.stages) or 'no stage'})"
        )
    # typed now, so the run's recorded settings (runs.config) hold the value that is used
    return name, rest, _coerce(key, setting.field, value)


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
