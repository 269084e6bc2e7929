"""The settings of a run: the constants every stage shares (window, appliance parameters, the
REFIT house map: constants.py), the settings record and its three presets (presets.py) and the
TOML/--set overrides with their checks (overrides.py).

Imports: errors, store.
"""
