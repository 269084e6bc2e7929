"""Each stage's settings: one frozen, typed object per stage, made from a run's ProfileConfig
and options, whose content is the stage's cache key (with its inputs' hashes and code version).

The fields of ``DataSettings``, ``TrainSettings``, ``ConvertSettings``, ``EvaluateSettings`` and
``ProfileSettings`` are the registry's settings that name the stage
(pipeline/settings/registry.py), a per-architecture setting at one architecture's value, plus
the command-line options the stage reads. What a stage does not use in a run is blanked (None)
so that changing it reruns nothing: the embedded data's days and seed for real data, the
quantization-aware fine-tune's settings where an architecture has none.

SETTINGS_KEY_VERSION is part of every key. s1: the keys became these objects' canonical JSON
(before, hand-picked lists per stage): every cached item reruns once after the change.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import make_dataclass

from pipeline.settings.registry import SETTINGS
from store.vocab import Arch, Mode, Runtime

SETTINGS_KEY_VERSION = "s1"

_TYPES = {
    "count": int,
    "number": float,
    "share": float,
    "choice": str,
    "flag": bool,
    "threads": tuple[int, ...],
    "modes": tuple[Mode, ...],
    "runtimes": tuple[Runtime, ...],
}
# the command line's options (RunOptions) each stage reads, as fields of its settings
_OPTIONS = {
    "train": ("article_loss",),
    "convert": ("int8_io", "article_loss"),
    "evaluate": (),
    "data": (),
    "profile": (),
}
_QAT_MODES = {Mode.QAT_W8_A8, Mode.QAT_W8_A8_XNNPACK}
# what only the quantization-aware fine-tune reads in convert
_QAT_ONLY = (
    "batch",
    "qat_steps",
    "qat_peak_lr",
    "on_fraction",
    "hard_fraction",
    "off_weight",
    "article_loss",
)


def _to_json(self) -> dict:
    """The canonical content: plain JSON values (enums by value), every field named."""
    return json.loads(json.dumps(dataclasses.asdict(self), default=str, sort_keys=True))


def _make(name: str, stage: str, doc: str):
    fields = [(s.field, _TYPES[s.kind] | None) for s in SETTINGS if stage in s.stages]
    fields += [(o, bool | None) for o in _OPTIONS[stage]]
    cls = make_dataclass(name, fields, frozen=True, namespace={"stage": stage, "to_json": _to_json})
    cls.__doc__ = doc
    cls.__module__ = __name__
    return cls


DataSettings = _make("DataSettings", "data", "What the data stage reads.")
TrainSettings = _make("TrainSettings", "train", "What training one architecture reads.")
ConvertSettings = _make("ConvertSettings", "convert", "What converting one model reads.")
EvaluateSettings = _make("EvaluateSettings", "evaluate", "What evaluating reads.")
ProfileSettings = _make("ProfileSettings", "profile", "What profiling reads.")
BY_STAGE = {
    c.stage: c
    for c in (DataSettings, TrainSettings, ConvertSettings, EvaluateSettings, ProfileSettings)
}


def _value(cfg, name: str, arch: Arch | None):
    value = getattr(cfg, name)
    if isinstance(value, dict):  # a per-architecture setting
        if arch is None:
            raise ValueError(f"{name} is set per architecture: name one")
        return value[arch]
    return value


def stage_settings(stage: str, cfg, options=None, arch: Arch | None = None, synthetic=True):
    """The settings object of ``stage`` (``arch`` for train and convert; ``synthetic``: the data
    stage generates the embedded data) from a ProfileConfig and the run's options."""
    cls = BY_STAGE[stage]
    values = {}
    for f in dataclasses.fields(cls):
        if f.name in _OPTIONS[stage]:
            values[f.name] = bool(getattr(options, f.name, False))
        else:
            values[f.name] = _value(cfg, f.name, arch)
    if stage == "data" and not synthetic:
        values.update(synthetic_days=None, seed=None)
    if stage == "convert" and (not _QAT_MODES & set(cfg.modes) or cfg.qat_steps[arch] <= 0):
        values.update(dict.fromkeys(_QAT_ONLY))
    if stage == "evaluate" and getattr(options, "article_postprocess", False):
        values["eval_postprocess"] = "threshold"  # the flag and the setting are one choice
    return cls(**values)


def settings_key(settings) -> list:
    """What a stage's cache key holds of its settings."""
    return [SETTINGS_KEY_VERSION, settings.stage, settings.to_json()]
