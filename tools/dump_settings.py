#!/usr/bin/env python3
"""Print every preset's resolved settings and the override keys as JSON (for before/after checks).

Works on the flat layout and on the packaged one."""

from __future__ import annotations

import dataclasses
import importlib
import json

from store.vocab import Profile

try:
    from pipeline.settings.overrides import CONFIG_KEYS
    from pipeline.settings.presets import profile_config
except ImportError:  # the flat layout (names spelt so that tools/relayout.py leaves them alone)
    CONFIG_KEYS = importlib.import_module("pipeline" + ".config_overrides").CONFIG_KEYS
    profile_config = importlib.import_module("pipeline" + ".profiles").profile_config

out = {"CONFIG_KEYS": {k: list(v) for k, v in CONFIG_KEYS.items()}}
for p in Profile:
    cfg = profile_config(p)
    out[p.value] = {"asdict": dataclasses.asdict(cfg), "to_json": cfg.to_json()}
print(json.dumps(out, indent=1, sort_keys=True, default=str))
