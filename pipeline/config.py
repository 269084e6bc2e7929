"""Every constant and profile setting in one place, recorded verbatim with each run.

Appliance parameters are those in force for the article (reference implementation, ml/common.py);
the REFIT house/channel map and the test/validation houses are the article's.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
from dataclasses import dataclass, field

from store.vocab import Appliance, Arch, Mode, Profile, Runtime

WINDOW = 599
MIDPOINT = WINDOW // 2
AGG_MEAN_W = 522.0  # aggregate standardisation (D'Incecco et al., used by the article)
AGG_STD_W = 814.0
REFIT_PERIOD_S = 8.0


@dataclass(frozen=True)
class ApplianceParams:
    on_threshold_w: float
    max_power_w: float  # P_m
    min_on_s: float
    min_off_s: float
    l1_weight: float  # lambda (c0) of the L1 loss term


APPLIANCES: dict[Appliance, ApplianceParams] = {
    Appliance.KETTLE: ApplianceParams(2000.0, 3100.0, 12.0, 0.0, 1.0),
    Appliance.MICROWAVE: ApplianceParams(200.0, 3000.0, 12.0, 30.0, 1.0),
    Appliance.FRIDGE: ApplianceParams(50.0, 400.0, 60.0, 12.0, 1e-6),
    Appliance.DISHWASHER: ApplianceParams(10.0, 2500.0, 1800.0, 1800.0, 1.0),
    Appliance.WASHING_MACHINE: ApplianceParams(20.0, 2500.0, 1800.0, 160.0, 1e-2),
}


@dataclass(frozen=True)
class HouseSplit:
    channels: dict[int, int]  # house -> REFIT appliance channel (Appliance<N> column)
    test: int
    val: int

    @property
    def train(self) -> list[int]:
        return [h for h in self.channels if h not in (self.test, self.val)]


REFIT_HOUSES: dict[Appliance, HouseSplit] = {
    Appliance.KETTLE: HouseSplit(
        {2: 8, 3: 9, 4: 9, 5: 8, 6: 7, 7: 9, 8: 9, 9: 7, 12: 6, 13: 9, 19: 5, 20: 9}, test=2, val=5
    ),
    Appliance.MICROWAVE: HouseSplit({4: 8, 10: 8, 12: 3, 17: 7, 19: 4}, test=4, val=17),
    Appliance.FRIDGE: HouseSplit({2: 1, 5: 1, 9: 1, 12: 1, 15: 1}, test=15, val=12),
    Appliance.DISHWASHER: HouseSplit(
        {5: 4, 7: 6, 9: 4, 13: 4, 16: 6, 18: 6, 20: 5}, test=20, val=18
    ),
    Appliance.WASHING_MACHINE: HouseSplit(
        {2: 2, 5: 3, 7: 5, 8: 4, 9: 3, 15: 3, 16: 5, 17: 4, 18: 5}, test=8, val=18
    ),
}


def lr_for_batch(global_batch: int) -> float:
    """Adam learning rate: 1e-4 at batch 1024, scaled by sqrt(batch / 1024) (the article's rule)."""
    return 1e-4 * math.sqrt(global_batch / 1024)


@dataclass(frozen=True)
class ProfileConfig:
    name: Profile
    # data
    synthetic_days: float
    # models
    width_scale: float  # 1.0 = the article's sizes
    # training
    batch: int
    epochs: dict[Arch, int]
    patience: int
    train_windows: dict[Arch, int | None]  # windows sampled per epoch; None = all
    val_windows: int | None
    # conversion
    calibration_windows: int
    debug_windows: int
    suspect_threshold: float = 0.7
    convert_workers: int = field(default_factory=lambda: max(1, min(2, os.cpu_count() or 1)))
    # evaluation
    eval_windows: int | None = None
    eval_select: str = "first"  # first N windows (the article's protocol) or the busiest block of N
    eval_batch: int = 256
    # Evaluation only needs the outputs of the file: run it with whichever interpreter is faster
    # for it (LiteRT's and TensorFlow's builtin int8/int16 kernels differ by 2-4x either way)
    eval_runtime: str = "fastest"
    # profiling
    threads: tuple[int, ...] = (1,)
    runtimes: tuple[Runtime, ...] = (Runtime.LITERT,)
    latency_min_seconds: float = 0.5
    latency_min_runs: int = 10
    op_profile: bool = True
    profile_workers: int = 1  # variants measured at once; >1 overlaps measurements (smoke only)
    train_workers: int = 1  # models trained at once in worker processes (tiny smoke models only)
    op_runs: int = 5
    seed: int = 1234
    modes: tuple[Mode, ...] = field(default_factory=lambda: tuple(Mode))

    def to_json(self) -> dict:
        return json.loads(json.dumps(dataclasses.asdict(self), default=str))


def _all_cores() -> tuple[int, ...]:
    n = os.cpu_count() or 1
    return (1,) if n == 1 else (1, n)


def profile_config(name: Profile | str) -> ProfileConfig:
    name = Profile(name)
    if name is Profile.SMOKE:
        return ProfileConfig(
            name=name,
            synthetic_days=1.5,
            width_scale=1 / 16,
            batch=64,
            epochs={Arch.CNN: 2, Arch.TRANSFORMER: 2},
            patience=2,
            train_windows={Arch.CNN: 512, Arch.TRANSFORMER: 256},
            val_windows=256,
            calibration_windows=32,
            debug_windows=16,
            eval_windows=600,
            eval_select="busiest",
            threads=(1,),
            runtimes=(Runtime.LITERT,),
            latency_min_seconds=0.05,
            latency_min_runs=5,
            op_runs=2,
            profile_workers=2,
            train_workers=2,
        )
    if name is Profile.DEMO:
        return ProfileConfig(
            name=name,
            synthetic_days=6.0,
            width_scale=1.0,
            batch=256,
            epochs={Arch.CNN: 3, Arch.TRANSFORMER: 1},
            patience=2,
            train_windows={Arch.CNN: 6144, Arch.TRANSFORMER: 768},
            val_windows=512,
            calibration_windows=64,
            debug_windows=16,
            eval_windows=360,  # 48 minutes at 8 s: the full-size 16x8 transformer needs ~0.2-0.5 s a window
            eval_select="busiest",
            threads=_all_cores(),
            runtimes=(Runtime.LITERT, Runtime.TF_LITE),
            latency_min_seconds=0.5,
            latency_min_runs=10,
            op_runs=3,
        )
    return ProfileConfig(
        name=name,
        synthetic_days=30.0,
        width_scale=1.0,
        batch=1024,
        epochs={Arch.CNN: 50, Arch.TRANSFORMER: 50},
        patience=6,
        train_windows={Arch.CNN: None, Arch.TRANSFORMER: None},
        val_windows=None,
        calibration_windows=43200,
        debug_windows=1000,
        eval_windows=432000,
        threads=_all_cores(),
        runtimes=(Runtime.LITERT, Runtime.TF_LITE),
        latency_min_seconds=2.0,
        latency_min_runs=50,
        op_runs=20,
    )


def stable_hash(obj) -> str:
    """Short sha256 of a JSON-serialisable object with sorted keys."""
    text = json.dumps(obj, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def file_sha256(path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()
