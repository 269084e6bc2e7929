"""Which test windows the evaluation scores: the stratified sample (or one contiguous block),
its nested levels, which level each variant is scored on, and the contiguous trace stretch."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.convert.modes import spec_of
from pipeline.core.context import RunContext
from pipeline.data.strata import OFF_CHAIN, STRATA, strata_labels
from pipeline.data.windows import Windows
from pipeline.errors import NotReadyError
from pipeline.evaluate.estimate import Sample, block_sample, stratified_sample
from pipeline.settings.constants import APPLIANCES
from store.vocab import Appliance, Arch, Mode

# False positives come from the look-alike and active strata (pipeline/data/strata.py; measured on
# the demo microwave: 114 and 49 of 163, none from idle windows), so they get most of the
# sample. Shares of the sample each stratum gets (what one cannot take goes to the others).
STRATA_SHARES = (0.25, 0.45, 0.25, 0.05)
LEVELS = ("full", "reference", "core", "min")
# fewest windows of each stratum at every level: 20 'on' windows (an F1 from fewer is mostly
# luck: its interval would not cover) and two of every other stratum (an interval needs two)
MIN_ON_WINDOWS = 20
STRATA_FLOORS = (MIN_ON_WINDOWS, 2, 2, 2)


def sample_level(arch: str, mode: str) -> str:
    """Which nested sample a variant is scored on, by a fixed rule of its cost per window:
    every CNN file on the full sample (~0.1-4 ms a window, its 16x8 file included, so that
    every CNN variant is compared on the same windows); the transformer's Keras model, what the
    transformer is judged by against the baselines, on the reference sub-sample (~5 ms), and
    beside it the int8 files meant to ship (XNNPACK: ~4-5 ms), so their loss to float is paired
    on thousands of windows; its other files on the core one (~2-45 ms), those with costly
    kernels (16x8: ~130 ms on reference kernels) on the smallest (min). Any two variants are
    paired on the smaller level."""
    if arch == Arch.TRANSFORMER.value:
        spec = spec_of(mode)
        if mode == Mode.KERAS.value or (spec is not None and spec.wide_sample):
            return "reference"
        return "min" if spec is not None and spec.costly_kernels else "core"
    return "full"


def trace_level(arch: str, mode: str) -> str:
    """The level whose trace stretch a variant predicts: its sample level, except that a file
    with costly kernels on the full sample (the CNN's 16x8 file, ~20x the others a window)
    predicts the reference level's first hours of the day, not all of it."""
    level = sample_level(arch, mode)
    spec = spec_of(mode)
    if level == "full" and spec is not None and spec.costly_kernels:
        return "reference"
    return level


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
        """The trace windows a variant of ``level`` predicts: the whole stretch on the full
        level (the CNN's files, the baselines: a day costs them seconds), else its first windows,
        as many as the level's sample (a costly file shows the start of the day)."""
        if self.trace_is_sample or level == "full":
            return self.trace
        return self.trace[: max(1, min(len(self.trace), self.levels[level]))]

    def masks(self) -> dict[str, np.ndarray]:
        """Per level, which of the sample's windows it holds."""
        return {lv: self.sample.subset(m)[0] for lv, m in self.levels.items()}

    def needs(
        self,
        level: dict[str, str],
        masks: dict[str, np.ndarray],
        trace_levels: dict[str, str] | None = None,
    ) -> dict[str, np.ndarray]:
        """Window starts each variant predicts: its level's sample windows, then (stratified
        protocol) its stretch of the trace (``trace_levels``: the level of it, by default the
        sample's)."""
        tl = trace_levels or {}
        return {
            vid: self.sample.starts[masks[lv]]
            if self.trace_is_sample
            else np.concatenate([self.sample.starts[masks[lv]], self.trace_for(tl.get(vid, lv))])
            for vid, lv in level.items()
        }


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
    labels = strata_labels(w, w.starts, APPLIANCES[appliance].on_threshold_w, by_threshold=True)
    sample = stratified_sample(
        w.starts,
        labels,
        list(STRATA),
        list(STRATA_SHARES),
        cfg.eval_windows or len(w.starts),
        cfg.seed,
        list(STRATA_FLOORS),
        OFF_CHAIN,
    )
    trace = w.busiest(trace_n)
    n = len(sample)
    core = min(n, cfg.eval_core_windows)
    levels = {
        "full": n,
        "reference": min(n, cfg.eval_reference_windows or n),  # >= core (config check)
        "core": core,
        "min": min(core, cfg.eval_min_windows),
    }
    return EvalPlan(cfg.eval_protocol, sample, levels, trace)


def plan_windows(ctx: RunContext, w: Windows, appliance: Appliance, period: float) -> EvalPlan:
    if len(w.starts) == 0:
        raise NotReadyError(f"the test split of {appliance.value} has no complete window")
    if ctx.cfg.eval_protocol == "stratified":
        return _stratified_plan(ctx, w, appliance, period)
    return _block_plan(ctx, w, period)
