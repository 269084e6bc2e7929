"""Which windows look like an appliance's activations, from the aggregate and the ground truth only.

Four strata: the midpoint is on; off but the aggregate at the midpoint rises above the window's
base load by the appliance's on threshold (look-alikes); off, but somewhere in the window the
aggregate swings as widely as it does around the appliance's own activations (active: a
seq2point model sees that swing and may fire); off and idle. The evaluation samples by them
(pipeline/evaluate/sample.py); training can draw its 'off' windows from the look-alike and active
ones on purpose (``train.hard_fraction``), so a short budget sees the windows that fool a model.
"""

from __future__ import annotations

import numpy as np

from pipeline.data.windows import Windows
from pipeline.settings.constants import MIDPOINT, WINDOW

STRATA = ("on", "off_lookalike", "off_active", "off_idle")
HARD = (1, 2)  # indices of the 'off' strata that look like activations
# the 'off' strata from the one most likely to fool a model to the least: a model's false-alarm
# rate is taken not to rise along it (the evaluation's intervals lean on that where a sampled
# stratum saw no false alarm: pipeline/evaluate/estimate.py, zero_event_rates)
OFF_CHAIN = (1, 2, 3)
ACTIVE_QUANTILE = 5  # percentile of the on windows' swing that marks an off window as active


def window_extremes(w: Windows, starts: np.ndarray, chunk: int = 20_000):
    """(minimum, maximum) of the aggregate over each window, in W, in one pass."""
    view = np.lib.stride_tricks.sliding_window_view(w.split.aggregate_w, WINDOW)
    dtype = w.split.aggregate_w.dtype  # differences in the data's own precision, as before
    low, high = np.empty(len(starts), dtype), np.empty(len(starts), dtype)
    for lo in range(0, len(starts), chunk):
        v = view[starts[lo : lo + chunk]]
        low[lo : lo + chunk], high[lo : lo + chunk] = v.min(axis=1), v.max(axis=1)
    return low, high


def window_rise(w: Windows, starts: np.ndarray, low: np.ndarray | None = None) -> np.ndarray:
    """Aggregate at each window's midpoint minus the window's minimum (its base load), in W."""
    if low is None:
        low, _ = window_extremes(w, starts)
    return (w.split.aggregate_w[starts + MIDPOINT] - low).astype(np.float64)


def strata_labels(
    w: Windows, starts: np.ndarray, threshold_w: float, by_threshold: bool = False
) -> np.ndarray:
    """Stratum (index into STRATA) of each window, from the aggregate and the ground truth only
    (never from a model), so every variant and baseline is scored on one design. 'On' is the
    split's status (with the duration rules), or with ``by_threshold`` the ground truth's
    threshold status, the rule an isolated sampled window is scored by."""
    if by_threshold:
        on = w.split.appliance_w[starts + MIDPOINT] >= threshold_w
    else:
        on = w.split.status[starts + MIDPOINT] > 0.5
    low, high = window_extremes(w, starts)
    lookalike = window_rise(w, starts, low) >= threshold_w
    swing = (high - low).astype(np.float64)
    active_w = threshold_w
    if on.any():
        active_w = max(threshold_w, float(np.percentile(swing[on], ACTIVE_QUANTILE)))
    active = swing >= active_w
    return np.where(on, 0, np.where(lookalike, 1, np.where(active, 2, 3))).astype(np.int8)


def hard_negatives(w: Windows, starts: np.ndarray, threshold_w: float) -> np.ndarray:
    """Mask over ``starts``: 'off' windows that look like activations (look-alike or active)."""
    return np.isin(strata_labels(w, starts, threshold_w), HARD)
