"""Seq2point windows produced on the fly from a split's series, never materialised in bulk.

A window is 599 consecutive aggregate samples inside one gap-free segment; its target is the
appliance power (and status) at the midpoint.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.settings.constants import MIDPOINT, WINDOW

MAX_DISTRACTOR = 40  # samples: the longest distractor load (training augmentation)
SPLIT_COLUMNS = ("unix", "aggregate_w", "appliance_w", "status", "segment", "house")


@dataclass
class SplitData:
    unix: np.ndarray
    aggregate_w: np.ndarray
    appliance_w: np.ndarray
    status: np.ndarray
    segment: np.ndarray
    house: np.ndarray

    def __len__(self) -> int:
        return len(self.unix)

    def to_table(self) -> pa.Table:
        return pa.table({c: getattr(self, c) for c in SPLIT_COLUMNS})

    def write(self, path: Path) -> None:
        """Write beside the target under a name private to this process, then rename: a reader
        never sees a partial file and a failed write leaves nothing behind."""
        tmp = Path(f"{path}.{os.getpid()}.tmp")
        try:
            pq.write_table(self.to_table(), tmp, row_group_size=1 << 20)
            tmp.replace(path)
        finally:
            tmp.unlink(missing_ok=True)

    @classmethod
    def read(cls, path: Path) -> SplitData:
        t = pq.read_table(path)
        return cls(**{c: t.column(c).to_numpy(zero_copy_only=False) for c in SPLIT_COLUMNS})


def valid_starts(segment: np.ndarray, window: int = WINDOW) -> np.ndarray:
    """Start indices of every window that lies inside a single segment."""
    n = len(segment)
    if n < window:
        return np.zeros(0, np.int64)
    s = np.arange(n - window + 1, dtype=np.int64)
    return s[segment[s] == segment[s + window - 1]]


def _draw(pools: list[np.ndarray], sizes: list[int], rng: np.random.Generator) -> np.ndarray:
    """``sizes[i]`` starts drawn without replacement from each pool in turn, sorted."""
    picked = [rng.choice(p, k, replace=False) for p, k in zip(pools, sizes, strict=True)]
    return np.sort(np.concatenate(picked))


class Windows:
    """Normalised inputs and targets of one split, with window gathering by start index."""

    def __init__(self, split: SplitData, agg_mean: float, agg_std: float, max_power_w: float):
        self.split = split
        self.agg_std = float(agg_std)
        self.x = ((split.aggregate_w - agg_mean) / agg_std).astype(np.float32)
        self.y = (np.clip(split.appliance_w, 0, max_power_w) / max_power_w).astype(np.float32)
        self.status = split.status.astype(np.float32)
        self.starts = valid_starts(split.segment)
        self._view = (
            np.lib.stride_tricks.sliding_window_view(self.x, WINDOW)
            if len(self.x) >= WINDOW
            else np.zeros((0, WINDOW), np.float32)
        )

    def __len__(self) -> int:
        return len(self.starts)

    def inputs(self, starts: np.ndarray) -> np.ndarray:
        """(B, 599) float32 windows for the given start indices (a copy, B rows only)."""
        return self._view[starts]

    def targets(self, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mid = starts + MIDPOINT
        return self.y[mid], self.status[mid]

    def sample(self, n: int | None, rng: np.random.Generator) -> np.ndarray:
        """n start indices drawn without replacement (all, shuffled, when n is None or too big)."""
        if n is None or n >= len(self.starts):
            return rng.permutation(self.starts)
        return np.sort(rng.choice(self.starts, size=n, replace=False))

    def mix(
        self,
        starts: np.ndarray,
        on_fraction: float | None,
        hard: np.ndarray | None = None,
        hard_fraction: float | None = None,
    ) -> tuple[list[np.ndarray], list[float]] | None:
        """The pools of a training or validation mix and their shares: the 'on' midpoints at
        ``on_fraction`` (their own share when None), the hard negatives (mask ``hard`` over
        ``starts``) at ``hard_fraction`` or their own share of the 'off' draws if that is more,
        the other 'off' windows the rest. None when the mix is
        plain random draws (no on_fraction and no hard negatives) or a pool is empty."""
        mid_on = self.status[starts + MIDPOINT] > 0.5
        hard = None if hard is None or not hard_fraction else hard & ~mid_on
        if hard is None or not hard.any():  # no hard negatives: the on/off mix
            if on_fraction is None:
                return None
            pools, shares = [starts[mid_on], starts[~mid_on]], [on_fraction, 1 - on_fraction]
        else:
            on_share = float(mid_on.mean()) if on_fraction is None else on_fraction
            # at least hard_fraction: where most 'off' windows are hard anyway (an appliance
            # with a threshold of a few watts), their own share, not a few idle ones repeated
            natural = (1 - on_share) * float(hard.sum()) / max(1, int((~mid_on).sum()))
            hard_share = max(hard_fraction, natural)
            pools = [starts[mid_on], starts[hard], starts[~mid_on & ~hard]]
            shares = [on_share, hard_share, max(0.0, 1 - on_share - hard_share)]
        if any(len(p) == 0 for p, f in zip(pools, shares, strict=True) if f > 0):
            return None
        return pools, shares

    def sample_with_on_share(
        self,
        n: int | None,
        on_fraction: float | None,
        rng: np.random.Generator,
        hard: np.ndarray | None = None,
        hard_fraction: float | None = None,
    ) -> np.ndarray:
        """n starts drawn in the training mix (see ``mix``; each pool as far as it goes, the
        last one fills up), sorted; a plain random sample when there is no mix. Validation uses
        the training mix, so the best-validation checkpoint is the one that finds activations,
        not the one that predicts 'off' best."""
        mix = (
            None
            if n is None or n >= len(self.starts)
            else self.mix(self.starts, on_fraction, hard, hard_fraction)
        )
        if mix is None:
            return self.sample(n, rng)
        pools, shares = mix
        sizes = [
            min(len(p), int(round(n * f))) for p, f in zip(pools[:-1], shares[:-1], strict=True)
        ]
        sizes.append(min(len(pools[-1]), n - sum(sizes)))
        return _draw(pools, sizes, rng)

    def first(self, n: int | None) -> np.ndarray:
        """The first n windows in time order (all when None): the article's evaluation protocol."""
        return self.starts if n is None else self.starts[:n]

    def busiest(self, n: int | None) -> np.ndarray:
        """The block of n consecutive windows with the most 'on' midpoints (first block on ties)."""
        if n is None or n >= len(self.starts):
            return self.starts
        on = np.r_[0, np.cumsum(self.status[self.starts + MIDPOINT])]
        counts = on[n:] - on[:-n]
        first = int(np.argmax(counts))
        return self.starts[first : first + n]

    def balanced(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
        """Half windows whose midpoint is on, half off (the article's calibration balance).

        When there are too few 'on' windows all of them are used and 'off' windows fill up.
        """
        mid_on = self.status[self.starts + MIDPOINT] > 0.5
        on, off = self.starts[mid_on], self.starts[~mid_on]
        n_on = min(len(on), n // 2)
        n_off = min(len(off), n - n_on)
        picked = _draw([on, off], [n_on, n_off], rng)
        return picked, {"on": int(n_on), "off": int(n_off), "requested": int(n)}

    def start_stream(
        self,
        starts: np.ndarray,
        seed: int,
        on_fraction: float | None = None,
        hard: np.ndarray | None = None,
        hard_fraction: float | None = None,
    ):
        """An endless tf.data stream of window starts for training.

        Uniform (no mix): every pass is a fresh full permutation of all starts, made in the
        graph (tf.random.shuffle), so batches mix houses in proportion at any scale and no
        window is materialised. With a mix (see ``mix``), each start is drawn from a pool with
        the pool's share (each pool permuted afresh on every pass): short budgets then see
        enough activations of sparse appliances, and enough of the windows that fool a model.
        """
        import tensorflow as tf

        def permuted(pool: np.ndarray, s: int):
            t = tf.constant(pool.astype(np.int64))
            return (
                tf.data.Dataset.from_tensors(t)
                .repeat()
                .map(lambda x: tf.random.shuffle(x, seed=s))
                .unbatch()
            )

        mix = self.mix(starts, on_fraction, hard, hard_fraction)
        if mix is None:
            return permuted(starts, seed)
        pools, shares = mix
        # pool seeds as before the hard pool existed: on = seed, off = seed + 1, hard = seed + 2
        seeds = [seed, seed + 1] if len(pools) == 2 else [seed, seed + 2, seed + 1]
        return tf.data.Dataset.sample_from_datasets(
            [permuted(p, s) for p, s in zip(pools, seeds, strict=True)],
            weights=shares,
            seed=seed,
        )

    def tf_dataset(
        self,
        starts,
        batch: int,
        seed: int = 0,
        on_fraction=None,
        train=False,
        hard=None,
        hard_fraction=None,
        augment_fraction: float = 0.0,
        distract_fraction: float = 0.0,
    ):
        """A tf.data pipeline that gathers windows inside the graph (no Python per batch).

        ``train``: the endless stream of start_stream; otherwise the given starts once, in order.
        ``augment_fraction`` (training only): that share of the windows whose midpoint is 'on'
        get their appliance's power over the window placed onto the aggregate of a random
        'off' window of the same split instead of their own (``augmented``): the activation
        seen on other base loads and other appliances' activity. ``distract_fraction``
        (training only): that share of the windows whose midpoint is 'off' get a rectangular
        load over the midpoint weaker than the appliance's own activations (``distractors``),
        and stay 'off': another appliance, not this one.
        """
        import tensorflow as tf

        x = tf.constant(self.x)
        y = tf.constant(np.stack([self.y, self.status], axis=1))
        offsets = tf.range(WINDOW, dtype=tf.int64)
        if train:
            ds = self.start_stream(starts, seed, on_fraction, hard, hard_fraction)
        else:
            ds = tf.data.Dataset.from_tensor_slices(starts.astype(np.int64))
        ds = ds.batch(batch, drop_remainder=False)
        backgrounds = starts[self.status[starts + MIDPOINT] < 0.5] if train else starts[:0]
        if (augment_fraction or distract_fraction) and len(backgrounds):
            return ds.map(
                self._augmenter(augment_fraction, backgrounds, seed, distract_fraction),
                num_parallel_calls=tf.data.AUTOTUNE,
            ).prefetch(tf.data.AUTOTUNE)

        def gather(idx):
            win = tf.gather(x, idx[:, None] + offsets[None, :])
            return win, tf.gather(y, idx + MIDPOINT)

        return ds.map(gather, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)

    def _augmenter(self, fraction: float, backgrounds: np.ndarray, seed: int, distract=0.0):
        """The batch map of ``tf_dataset``'s augmentation (see ``augmented`` and
        ``distractors``), in the graph."""
        import tensorflow as tf

        low, high = self.distractor_range()

        x = tf.constant(self.x)
        app = tf.constant(self._appliance_in_input_units())
        y = tf.constant(np.stack([self.y, self.status], axis=1))
        status = tf.constant(self.status)
        bg = tf.constant(backgrounds.astype(np.int64))
        offsets = tf.range(WINDOW, dtype=tf.int64)

        def gather(idx):
            cols = idx[:, None] + offsets[None, :]
            n = tf.shape(idx)[0]
            pick = tf.random.uniform([n], 0, tf.shape(bg, out_type=tf.int64)[0], tf.int64, seed)
            other = tf.gather(bg, pick)
            moved = tf.gather(x, other[:, None] + offsets[None, :]) + tf.gather(app, cols)
            on = tf.gather(status, idx + MIDPOINT) > 0.5
            swap = on & (tf.random.uniform([n], seed=seed + 7) < fraction)
            win = tf.where(swap[:, None], moved, tf.gather(x, cols))
            if distract:
                amp = tf.random.uniform([n, 1], low, high, seed=seed + 11)
                length = tf.random.uniform([n, 1], 1, MAX_DISTRACTOR, tf.int64, seed=seed + 13)
                lead = tf.random.uniform([n, 1], 0, 1, seed=seed + 17)
                first = MIDPOINT - tf.cast(lead * tf.cast(length, tf.float32), tf.int64)
                inside = (offsets[None, :] >= first) & (offsets[None, :] < first + length)
                add = (~on) & (tf.random.uniform([n], seed=seed + 19) < distract)
                pulse = amp * tf.cast(inside & add[:, None], tf.float32)
                win = win + pulse
            return win, tf.gather(y, idx + MIDPOINT)

        return gather

    def distractor_range(self) -> tuple[float, float]:
        """Amplitudes of the distractor loads, on the inputs' scale: 30-90 % of the weakest
        tenth of the appliance's 'on' powers in this split (weaker than its own activations)."""
        on = self.split.appliance_w[self.status > 0.5]
        weak = float(np.percentile(on, 10)) if len(on) else 0.0
        return 0.3 * weak / self.agg_std, max(0.9 * weak, 1e-3) / self.agg_std

    def _appliance_in_input_units(self) -> np.ndarray:
        """The appliance's power on the inputs' scale (an activation adds this to x)."""
        return (np.clip(self.split.appliance_w, 0, None) / self.agg_std).astype(np.float32)

    def augmented(self, starts: np.ndarray, backgrounds: np.ndarray) -> np.ndarray:
        """Windows of ``starts`` with their appliance's power placed onto the aggregate of the
        ``backgrounds`` windows (same length): what the augmentation feeds the model."""
        app = self._appliance_in_input_units()
        cols = starts[:, None] + np.arange(WINDOW)[None, :]
        return self.inputs(backgrounds) + app[cols]
