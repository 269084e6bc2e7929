"""The embedded default dataset: seeded, realistic multi-house power data in REFIT's CSV layout.

Each generated house holds the appliances the article's REFIT map puts in it, on the same
channels, so the default run goes through exactly the reader real REFIT users use. Signatures
follow the shapes of the real appliances: kettle boils of 2-3 kW for a few minutes, microwave
runs of 0.8-1.5 kW with duty cycling, fridge compressor cycles with a start spike, dishwasher
and washing-machine programmes of 1-2 h with ~2 kW heating and motor/spin phases, on top of
a varying background load with noise, daily usage patterns and occasional gaps.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.settings.constants import REFIT_HOUSES, REFIT_PERIOD_S
from store.vocab import Appliance

START = pd.Timestamp("2014-03-03 00:00:00")
PER_DAY = int(86400 / REFIT_PERIOD_S)


def houses_and_channels() -> dict[int, dict[int, Appliance]]:
    """House -> {channel: appliance} from the article's REFIT map."""
    out: dict[int, dict[int, Appliance]] = {}
    for appliance, split in REFIT_HOUSES.items():
        for house, channel in split.channels.items():
            out.setdefault(house, {})[channel] = appliance
    return dict(sorted(out.items()))


def _hour_weights(kind: str) -> np.ndarray:
    """Relative probability of an event starting in each hour of the day."""
    h = np.arange(24)
    if kind == "meals":  # morning, lunch and evening peaks
        w = (
            np.exp(-((h - 7.5) ** 2) / 2)
            + 0.7 * np.exp(-((h - 12.5) ** 2) / 2)
            + 1.2 * np.exp(-((h - 18.5) ** 2) / 3)
        )
    elif kind == "chores":  # daytime and after dinner
        w = 0.6 * np.exp(-((h - 10) ** 2) / 8) + np.exp(-((h - 20) ** 2) / 4)
    else:
        w = np.ones(24)
    w = w + 0.02
    return w / w.sum()


def _event_starts(rng, days: float, per_day: float, kind: str, n: int) -> list[int]:
    starts = []
    hours = _hour_weights(kind)
    for day in range(int(np.ceil(days))):
        for _ in range(rng.poisson(per_day)):
            hour = rng.choice(24, p=hours)
            s = int((day * 86400 + hour * 3600 + rng.uniform(0, 3600)) / REFIT_PERIOD_S)
            if s < n:
                starts.append(s)
    if not starts:  # every house uses each of its appliances at least once
        starts.append(int(rng.uniform(0.2, 0.8) * n))
    return starts


def _kettle(rng, n, days):
    p = np.zeros(n, np.float32)
    power = rng.uniform(2200, 3000)
    for s in _event_starts(rng, days, rng.uniform(3, 7), "meals", n):
        dur = int(rng.uniform(120, 300) / REFIT_PERIOD_S)
        seg = power * np.linspace(1.0, 0.97, dur) + rng.normal(0, 15, dur)
        e = min(n, s + dur)
        p[s:e] = np.maximum(p[s:e], seg[: e - s])
    return p


def _microwave(rng, n, days):
    p = np.zeros(n, np.float32)
    power = rng.uniform(900, 1450)
    for s in _event_starts(rng, days, rng.uniform(1, 4), "meals", n):
        dur = int(rng.uniform(60, 420) / REFIT_PERIOD_S)
        idx = np.arange(dur)
        if rng.random() < 0.4:  # defrost / medium power: magnetron cycles on and off
            period = int(rng.integers(3, 6))
            on = (idx % period) < max(1, period // 2)
        else:
            on = np.ones(dur, bool)
        seg = np.where(on, power + rng.normal(0, 20, dur), rng.uniform(40, 80))
        e = min(n, s + dur)
        p[s:e] = seg[: e - s]
    return p


def _fridge(rng, n, days):
    p = np.zeros(n, np.float32)
    level = rng.uniform(75, 140)
    duty = rng.uniform(0.33, 0.5)
    t = int(rng.integers(0, 200))
    while t < n:
        on = int(rng.uniform(900, 1800) / REFIT_PERIOD_S)
        off = int(on * (1 - duty) / duty * rng.uniform(0.85, 1.15))
        e = min(n, t + on)
        p[t:e] = level + rng.normal(0, 3, e - t)
        p[t : min(n, t + 2)] = rng.uniform(250, 450)  # compressor start spike
        t = e + off
    return p


def _programme(rng, phases) -> np.ndarray:
    parts = []
    for seconds, kind, level in phases:
        k = max(1, int(seconds / REFIT_PERIOD_S))
        if kind == "heat":
            parts.append(level + rng.normal(0, 25, k))
        elif kind == "motor":  # tumbling / pumping: the motor switches on and off
            on = (np.arange(k) // int(rng.integers(2, 5))) % 2 == 0
            parts.append(np.where(on, level + rng.normal(0, 10, k), 5.0))
        elif kind == "spin":
            parts.append(level * np.linspace(0.6, 1.0, k) + rng.normal(0, 20, k))
        else:
            parts.append(np.full(k, level) + rng.normal(0, 2, k))
    return np.clip(np.concatenate(parts), 0, None)


def _dishwasher(rng, n, days):
    p = np.zeros(n, np.float32)
    heat = rng.uniform(1900, 2300)
    for s in _event_starts(rng, days, rng.uniform(0.5, 1.0), "chores", n):
        seg = _programme(
            rng,
            [
                (rng.uniform(300, 600), "motor", rng.uniform(80, 150)),
                (rng.uniform(900, 1400), "heat", heat),
                (rng.uniform(900, 1500), "motor", rng.uniform(80, 150)),
                (rng.uniform(500, 900), "heat", heat),
                (rng.uniform(600, 1200), "idle", rng.uniform(3, 12)),
            ],
        )
        e = min(n, s + len(seg))
        p[s:e] = np.maximum(p[s:e], seg[: e - s])
    return p


def _washing_machine(rng, n, days):
    p = np.zeros(n, np.float32)
    heat = rng.uniform(1800, 2200)
    for s in _event_starts(rng, days, rng.uniform(0.4, 0.9), "chores", n):
        seg = _programme(
            rng,
            [
                (rng.uniform(600, 1200), "heat", heat),
                (rng.uniform(1500, 2700), "motor", rng.uniform(150, 300)),
                (rng.uniform(600, 900), "motor", rng.uniform(100, 200)),
                (rng.uniform(300, 600), "spin", rng.uniform(350, 600)),
            ],
        )
        e = min(n, s + len(seg))
        p[s:e] = np.maximum(p[s:e], seg[: e - s])
    return p


GENERATORS = {
    Appliance.KETTLE: _kettle,
    Appliance.MICROWAVE: _microwave,
    Appliance.FRIDGE: _fridge,
    Appliance.DISHWASHER: _dishwasher,
    Appliance.WASHING_MACHINE: _washing_machine,
}


def _other_load(rng, n, days):
    """An unlisted appliance on a spare channel: television, computer, lights."""
    p = np.zeros(n, np.float32)
    level = rng.uniform(40, 300)
    for s in _event_starts(rng, days, rng.uniform(1, 4), "chores", n):
        dur = int(rng.uniform(600, 7200) / REFIT_PERIOD_S)
        p[s : s + dur] = level + rng.normal(0, level * 0.05, len(p[s : s + dur]))
    return p


def _background(rng, n, days):
    """Always-on base load plus lighting in the evening plus unmodelled spikes and noise."""
    t = np.arange(n) * REFIT_PERIOD_S
    hour = (t / 3600) % 24
    base = rng.uniform(60, 220)
    evening = rng.uniform(50, 250) * np.exp(-((hour - 20) ** 2) / 6)
    p = base + evening + rng.normal(0, 8, n)
    # unmodelled short high-power loads (hair dryer, toaster, iron) that confuse a disaggregator
    for s in _event_starts(rng, days, rng.uniform(0.5, 2.0), "meals", n):
        dur = int(rng.uniform(60, 600) / REFIT_PERIOD_S)
        p[s : s + dur] += rng.uniform(600, 1800)
    return p.astype(np.float32)


def generate_house(house: int, channels: dict[int, Appliance], days: float, seed: int):
    """One house as a REFIT-layout DataFrame (before gaps are cut)."""
    rng = np.random.default_rng([seed, house])
    n = int(days * PER_DAY)
    cols = {}
    total = _background(rng, n, days)
    for ch in range(1, 10):
        if ch in channels:
            load = GENERATORS[channels[ch]](rng, n, days)
        else:
            load = _other_load(rng, n, days) if rng.random() < 0.7 else np.zeros(n, np.float32)
        cols[f"Appliance{ch}"] = np.round(np.clip(load, 0, None)).astype(np.int32)
        total = total + cols[f"Appliance{ch}"]
    jitter = rng.integers(-1, 2, n)  # REFIT's sampling is about, not exactly, 8 s
    offset = int(rng.integers(0, 3600 * 24 * 7))
    unix = (START.value // 10**9) + offset + np.arange(n) * int(REFIT_PERIOD_S) + jitter
    issues = np.zeros(n, np.int8)
    issues[rng.random(n) < 0.001] = 1
    df = pd.DataFrame(
        {
            "Time": pd.to_datetime(unix, unit="s").strftime("%Y-%m-%d %H:%M:%S"),
            "Unix": unix,
            "Aggregate": np.round(np.clip(total, 0, None)).astype(np.int32),
            **cols,
            "Issues": issues,
        }
    )
    # occasional recording gaps of 10 min to 3 h: rows simply missing, as in REFIT
    keep = np.ones(n, bool)
    for _ in range(max(1, rng.poisson(days * 0.4))):
        s = int(rng.integers(0, n))
        keep[s : s + int(rng.uniform(600, 10800) / REFIT_PERIOD_S)] = False
    return df[keep]


def write_synthetic_refit(out_dir: Path, days: float, seed: int) -> list[Path]:
    """Write CLEAN_House<N>.csv for every house of the article's map; returns the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for house, channels in houses_and_channels().items():
        path = out_dir / f"CLEAN_House{house}.csv"
        tmp = path.with_suffix(".csv.tmp")
        generate_house(house, channels, days, seed).to_csv(tmp, index=False)
        tmp.replace(path)
        paths.append(path)
    return paths
