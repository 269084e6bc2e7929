"""The article's on/off status rule (reference implementation common.compute_status)."""

from __future__ import annotations

import math

import numpy as np


def duration_samples(seconds: float, period_s: float) -> int:
    """Durations in seconds become sample counts with ceil(seconds / period)."""
    return int(math.ceil(seconds / period_s)) if seconds > 0 else 0


def compute_status(
    power_w: np.ndarray, threshold_w: float, min_on: int, min_off: int
) -> np.ndarray:
    """0/1 status of one contiguous series.

    1. on where power >= threshold;
    2. activations separated by an off-gap of at most ``min_off`` samples are merged;
    3. activations shorter than ``min_on`` samples are dropped.
    """
    power_w = np.asarray(power_w)
    on = power_w >= threshold_w
    status = np.zeros(len(power_w), np.int8)
    if not on.any():
        return status
    edges = np.diff(on.astype(np.int8))
    starts = np.flatnonzero(edges == 1) + 1
    ends = np.flatnonzero(edges == -1) + 1
    if on[0]:
        starts = np.concatenate([[0], starts])
    if on[-1]:
        ends = np.concatenate([ends, [len(on)]])
    if len(starts) > 1:
        keep = (starts[1:] - ends[:-1]) > min_off
        starts = np.concatenate([starts[:1], starts[1:][keep]])
        ends = np.concatenate([ends[:-1][keep], ends[-1:]])
    long_enough = (ends - starts) >= min_on
    for s, e in zip(starts[long_enough], ends[long_enough], strict=True):
        status[s:e] = 1
    return status


def status_by_segment(
    power_w: np.ndarray, segment: np.ndarray, threshold_w: float, min_on: int, min_off: int
) -> np.ndarray:
    """Apply the rule to each gap-free segment separately (never across a gap)."""
    out = np.zeros(len(power_w), np.int8)
    if len(power_w) == 0:
        return out
    bounds = np.flatnonzero(np.diff(segment)) + 1
    for s, e in zip(np.r_[0, bounds], np.r_[bounds, len(power_w)], strict=True):
        out[s:e] = compute_status(power_w[s:e], threshold_w, min_on, min_off)
    return out
