"""The evaluation stage (stage.py: `pipeline evaluate`): every variant and baseline of an
appliance on the same test windows. Which windows (sample.py), predictions (predict.py), scoring
(scoring.py) with the weighted estimates and bootstrap intervals (estimate.py) and the
contiguous-series metrics (metrics.py), non-learned baselines (baselines.py), the rows written
(rows.py); on a remote executor, predictions as shards of windows (shards.py).

Imports: convert, train, data, core, settings, errors, store.
"""
