"""Which test windows the evaluation scores: the stratified sample (or one contiguous block),
its nested levels, which level each variant is scored on, and the contiguous trace stretch."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.config import APPLIANCES, MIDPOINT, WINDOW
from pipeline.context import RunContext
from pipeline.errors import NotReadyError
from pipeline.estimate import Sample, block_sample, stratified_sample
from pipeline.modes import spec_of
from pipeline.windows import Windows
from store.vocab import Appliance, Arch

# strata of the sample: the midpoint is on; off but the aggregate at the midpoint rises above the
# window's base load by the appliance's on threshold (look-alikes); off, but somewhere in the
# window the aggregate swings as widely as it does around the appliance's own activations
# (active: a seq2point model sees that swing and may fire); off and idle. False positives come
# from the look-alike and active strata (measured on the demo microwave: 114 and 49 of 163, none
# from idle windows), so they get most of the sample. Shares of the sample each stratum gets
# (what one cannot take goes to the others).
STRATA = ("on", "off_lookalike", "off_active", "off_idle")
STRATA_SHARES = (0.25, 0.45, 0.25, 0.05)
ACTIVE_QUANTILE = 5  # percentile of the on windows' swing that marks an off window as active
LEVELS = ("full", "core", "min")


def sample_level(arch: str, mode: str) -> str:
    """Which nested sample a variant is scored on, by a fixed rule of its cost per window:
    the CNN's files run in ~0.1-5 ms (full sample, its 16x8 file included, so that every CNN
    variant is compared on the same windows), the transformer's in ~2-20 ms (core), its files
    with costly kernels (16x8: ~130-450 ms on reference kernels) on the smallest (min)."""
    if arch == Arch.TRANSFORMER.value:
        spec = spec_of(mode)
        return "min" if spec is not None and spec.costly_kernels else "core"
    return "full"


@dataclass
class EvalPlan:
    """Which windows are evaluated: the sample (and its nested levels) and the trace stretch."""

    protocol: str
    sample: Sample
    levels: dict[str, int]  # level -> windows
    trace: np.ndarray  # contiguous window starts

    @property
    def trace_is_sample(self) -> bool:
        return self.protocol != "stratified"

    def trace_for(self, level: str) -> np.ndarray:
        if self.trace_is_sample:
            return self.trace
        return self.trace[: max(1, min(len(self.trace), self.levels[level]))]

    def masks(self) -> dict[str, np.ndarray]:
        """Per level, which of the sample's windows it holds."""
        return {lv: self.sample.subset(m)[0] for lv, m in self.levels.items()}

    def needs(self, level: dict[str, str], masks: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Window starts each variant predicts: its level's sample windows, then (stratified
        protocol) its stretch of the trace."""
        return {
            vid: self.sample.starts[masks[lv]]
            if self.trace_is_sample
            else np.concatenate([self.sample.starts[masks[lv]], self.trace_for(lv)])
            for vid, lv in level.items()
        }


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


def strata_labels(w: Windows, starts: np.ndarray, threshold_w: float) -> np.ndarray:
    """Stratum (index into STRATA) of each window, from the aggregate and the ground truth only
    (never from a model), so every variant and baseline is scored on one design."""
    on = w.split.status[starts + MIDPOINT] > 0.5
    low, high = window_extremes(w, starts)
    lookalike = window_rise(w, starts, low) >= threshold_w
    swing = (high - low).astype(np.float64)
    active_w = threshold_w
    if on.any():
        active_w = max(threshold_w, float(np.percentile(swing[on], ACTIVE_QUANTILE)))
    active = swing >= active_w
    return np.where(on, 0, np.where(lookalike, 1, np.where(active, 2, 3))).astype(np.int8)


def _block_plan(ctx: RunContext, w: Windows, period: float) -> EvalPlan:
    """Protocols `first` / `busiest`: one contiguous block, resampled by hours."""
    cfg = ctx.cfg
    block = (
        w.first(cfg.eval_windows) if cfg.eval_protocol == "first" else w.busiest(cfg.eval_windows)
    )
    sample = block_sample(block, max(1, int(3600 / period)))
    # a block is scored whole by every variant (its first m windows would stand for the
    # block no better than any other m), and it is its own trace
    n = len(sample)
    return EvalPlan(cfg.eval_protocol, sample, dict.fromkeys(LEVELS, n), block)


def _stratified_plan(ctx: RunContext, w: Windows, appliance: Appliance, period: float):
    """Protocol `stratified`: a sample across the whole span and the busiest stretch as trace."""
    cfg = ctx.cfg
    trace_n = max(1, int(cfg.eval_trace_hours * 3600 / period))
    labels = strata_labels(w, w.starts, APPLIANCES[appliance].on_threshold_w)
    sample = stratified_sample(
        w.starts,
        labels,
        list(STRATA),
        list(STRATA_SHARES),
        cfg.eval_windows or len(w.starts),
        cfg.seed,
    )
    trace = w.busiest(trace_n)
    n = len(sample)
    levels = {
        "full": n,
        "core": min(n, cfg.eval_core_windows),
        "min": min(n, cfg.eval_min_windows, cfg.eval_core_windows),
    }
    return EvalPlan(cfg.eval_protocol, sample, levels, trace)


def plan_windows(ctx: RunContext, w: Windows, appliance: Appliance, period: float) -> EvalPlan:
    if len(w.starts) == 0:
        raise NotReadyError(f"the test split of {appliance.value} has no complete window")
    if ctx.cfg.eval_protocol == "stratified":
        return _stratified_plan(ctx, w, appliance, period)
    return _block_plan(ctx, w, period)
