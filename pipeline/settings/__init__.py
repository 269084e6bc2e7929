"""The settings of a run: the constants every stage shares (window, appliance parameters, the
REFIT house map: constants.py), the settings record and its three presets (presets.py), every
setting named once with its type, help and the stages that read it (registry.py), the TOML/--set
overrides with their checks (overrides.py) and each stage's settings object, its cache key
(stages.py).

Imports: errors, store.
"""
