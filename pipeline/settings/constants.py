"""The constants every stage shares: the window, the appliances' parameters, the REFIT house map.

Appliance parameters are those in force for the article (reference implementation, ml/common.py);
the REFIT house/channel map and the test/validation houses are the article's. The settings of a
run and their presets live in pipeline/settings/presets.py, the TOML/--set overrides and their checks in
pipeline/settings/overrides.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from store.vocab import Appliance

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
