"""One house's series for one appliance (clipped power, on/off status, gap segments), and the
ways series are combined into splits."""

from __future__ import annotations

import numpy as np

from pipeline.data.onoff import duration_samples, status_by_segment
from pipeline.data.readers import HouseData
from pipeline.data.windows import SPLIT_COLUMNS, SplitData
from pipeline.settings.constants import APPLIANCES
from store.vocab import Appliance, Split

GAP_FACTOR = 7.5  # a jump of more than 7.5 sampling periods (60 s at 8 s) is a gap


def segments_for(unix: np.ndarray, period_s: float) -> np.ndarray:
    """Segment id per sample; a new segment starts after every gap."""
    if len(unix) == 0:
        return np.zeros(0, np.int32)
    gap = np.diff(unix) > GAP_FACTOR * period_s
    return np.r_[0, np.cumsum(gap)].astype(np.int32)


def house_series(
    house: HouseData, appliance: Appliance, period_s: float, segment_offset: int
) -> SplitData:
    """One house's series for one appliance: clipped power, status per segment."""
    params = APPLIANCES[appliance]
    power = house.appliances[appliance]
    app = np.clip(power, 0, params.max_power_w).astype(np.float32)
    seg = segments_for(house.unix, period_s) + segment_offset
    status = status_by_segment(
        app,
        seg,
        params.on_threshold_w,
        duration_samples(params.min_on_s, period_s),
        duration_samples(params.min_off_s, period_s),
    )
    return SplitData(
        unix=house.unix,
        aggregate_w=house.aggregate.astype(np.float32),
        appliance_w=app,
        status=status,
        segment=seg,
        house=np.full(len(app), house.house, dtype=object),
    )


def concat(parts: list[SplitData]) -> SplitData:
    return SplitData(*[np.concatenate([getattr(p, c) for p in parts]) for c in SPLIT_COLUMNS])


def time_split(s: SplitData) -> dict[Split, SplitData]:
    """Single-house data: first 70 % train, next 15 % validation, last 15 % test (by time)."""
    n = len(s)
    cuts = [0, int(n * 0.70), int(n * 0.85), n]
    out = {}
    for split, a, b in zip((Split.TRAIN, Split.VAL, Split.TEST), cuts[:-1], cuts[1:], strict=True):
        part = SplitData(*[getattr(s, c)[a:b] for c in SPLIT_COLUMNS])
        part.segment = part.segment + (0 if split is Split.TRAIN else 100_000 * (1 + cuts.index(a)))
        out[split] = part
    return out


def train_val_split(s: SplitData) -> dict[Split, SplitData]:
    """One training house that also validates: first 85 % train, last 15 % validation (by time,
    validation segments renumbered so that no window spans the cut)."""
    cut = int(len(s) * 0.85)
    train = SplitData(*[getattr(s, c)[:cut] for c in SPLIT_COLUMNS])
    val = SplitData(*[getattr(s, c)[cut:] for c in SPLIT_COLUMNS])
    val.segment = val.segment + 500_000
    return {Split.TRAIN: train, Split.VAL: val}
