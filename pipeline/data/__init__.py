"""The data stage (stage.py: `pipeline data`): raw house data -> per-appliance train/val/test
splits. Readers behind ``HouseSource`` (readers.py, reader_refit.py, reader_wide.py), the embedded
synthetic REFIT-layout data (synth.py), one house's series and on/off status (series.py,
onoff.py), the seq2point windows (windows.py) and which of them look like an activation
(strata.py: the evaluation's strata and training's hard negatives), a day's plot (plots.py).

Imports: core, settings, errors, store.
"""
