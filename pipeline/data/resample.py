"""One house brought to another sampling period, so that houses recorded at different rates
(UK-DALE or REFIT at 30 s, IDEAL at 1 min) can train and test together.

Coarser: the mean of the readings inside each period of the new grid (a period with fewer than
half the readings it should hold is dropped as a gap). Finer, by a whole factor: each reading is
held over the new periods its own period covers (a reading is the mean power over its period, so
the energy is the same; the finer series has no detail the reading did not have).
"""

from __future__ import annotations

import numpy as np

from pipeline.data.readers import HouseData
from pipeline.errors import DataError

TOLERANCE = 0.02  # a finer period must divide the house's period to within 2 %


def resample_house(house: HouseData, period_s: float, target_s: int) -> HouseData:
    """``house`` (sampled every ``period_s``) every ``target_s`` whole seconds; every step
    counted in ``house.cleaning``. Coarser: times at multiples of ``target_s`` since the epoch;
    finer: each reading's own time and the ``target_s`` steps after it."""
    if int(target_s) != target_s or target_s < 1:
        raise DataError(f"--resample must be a whole number of seconds, got {target_s}")
    target_s = int(target_s)
    if abs(period_s - target_s) <= TOLERANCE * target_s:
        return house
    if target_s > period_s:
        return _coarser(house, period_s, target_s)
    return _finer(house, period_s, target_s)


def _coarser(house: HouseData, period_s: float, target_s: int) -> HouseData:
    cell = house.unix // target_s
    starts = np.flatnonzero(np.r_[True, cell[1:] != cell[:-1]])
    counts = np.diff(np.r_[starts, len(cell)])
    keep = counts >= max(1, int(np.ceil(0.5 * target_s / period_s)))

    def mean(v: np.ndarray) -> np.ndarray:
        sums = np.add.reduceat(v.astype(np.float64), starts)
        return (sums / counts)[keep].astype(np.float32)

    house.note("resampled_readings_in", len(house.unix))
    house.note("resample_sparse_periods_dropped", int((~keep).sum()))
    house.unix = (cell[starts][keep] * target_s).astype(np.int64)
    house.aggregate = mean(house.aggregate)
    house.appliances = {a: mean(v) for a, v in house.appliances.items()}
    return house


def _finer(house: HouseData, period_s: float, target_s: int) -> HouseData:
    factor = int(round(period_s / target_s))
    if factor < 2 or abs(factor * target_s - period_s) > TOLERANCE * period_s:
        whole = [d for d in range(1, int(period_s)) if period_s % d == 0]
        raise DataError(
            f"house {house.house}: sampled every {period_s:g} s; --resample {target_s} needs a "
            f"period that divides it ({', '.join(map(str, whole[-3:])) or 'none'}) or is coarser"
        )
    src = np.repeat(np.arange(len(house.unix)), factor)
    unix = house.unix[src] + target_s * np.tile(np.arange(factor), len(house.unix))
    # a held copy never reaches the next reading (irregular files): the times stay increasing
    nxt = np.r_[house.unix[1:], np.iinfo(np.int64).max]
    inside = unix < nxt[src]
    src, unix = src[inside], unix[inside]
    house.note("resampled_readings_in", len(house.unix))
    house.note("resample_held_copies_added", len(unix) - len(house.unix))
    house.unix = unix.astype(np.int64)
    house.aggregate = house.aggregate[src]
    house.appliances = {a: v[src] for a, v in house.appliances.items()}
    return house
