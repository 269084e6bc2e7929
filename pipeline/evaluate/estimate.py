"""Whole-test-span estimates from a weighted evaluation sample, with bootstrap intervals.

The evaluation runs each variant on a stratified random sample of the test span's windows
(strata by ground-truth status and aggregate activity). A sampled window of stratum h stands for
N_h / n_h windows of the span (its weight), so weighted sums estimate the sums over every window
of the span without bias, and every metric below is a ratio of such sums (a consistent ratio
estimator). Intervals come from resampling the sample the way it was drawn: windows within each
stratum by the rescaled bootstrap, which keeps the finite-population correction of a sample
drawn without replacement (or, for a contiguous block, whole hours), B times, with a stratum
that saw no error of a kind drawing that error's rate from its posterior (zero_event_sums);
the 2.5th and 97.5th percentiles of the B recomputed metrics bound the 95 % interval. A paired
difference between two variants uses the same resamples for both. bench/bench_coverage.py
measures how often these intervals cover the whole-span value.

All metrics are functions of eleven per-window sums, so one matrix product gives every
metric for every resample at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# per-window features; metrics are ratios of their weighted sums
FEATURES = (
    "tp",
    "tn",
    "fp",
    "fn",
    "abs_err",
    "t",
    "p",
    "sq_err",
    "t_sq",
    "abs_err_masked",
    "t_masked",
    "p_masked",
    "sq_err_masked",
    "one",
)
_I = {name: i for i, name in enumerate(FEATURES)}
# why a metric is undefined; all but precision's are about the data (the appliance is never on,
# or always on, in the test span), precision's is about the model (it never fired)
REASONS = {
    "precision": "the model predicted no activation in the test span (TP + FP = 0)",
    "recall": "no activation in the ground truth of the test span (about the data)",
    "f1": "no activation in the ground truth or the prediction (about the data: the appliance "
    "is never on in the test span)",
    "mcc": "every window of the test span in one class (about the data: the appliance is "
    "always or never on)",
    "sae": "no ground-truth energy in the test span (about the data)",
    "nde": "no ground-truth power in the test span (about the data)",
    "sae_masked": "no ground-truth energy in the test span (about the data)",
    "nde_masked": "no ground-truth power in the test span (about the data)",
    "epd_error_pct": "no ground-truth energy in the test span (about the data)",
}


def window_features(t, p, s_t, s_p) -> np.ndarray:
    """(n, F) per-window features of truth t / prediction p (W) and statuses s_t / s_p (0/1)."""
    t, p = np.asarray(t, float), np.asarray(p, float)
    st, sp = np.asarray(s_t) > 0.5, np.asarray(s_p) > 0.5
    tm, pm = t * st, p * sp
    cols = [
        st & sp,
        ~st & ~sp,
        ~st & sp,
        st & ~sp,
        np.abs(p - t),
        t,
        p,
        (t - p) ** 2,
        t**2,
        np.abs(tm - pm),
        tm,
        pm,
        (tm - pm) ** 2,
        np.ones(len(t)),
    ]
    return np.stack([np.asarray(c, float) for c in cols], axis=1)


def _ratio(num, den):
    num, den = np.asarray(num, float), np.asarray(den, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def metrics_from_sums(S: np.ndarray) -> dict[str, np.ndarray]:
    """Every sample metric from weighted feature sums S of shape (..., F).

    Energy per day is the estimated mean power times 24 h (Wh/day): unbiased for the span,
    defined whenever the span has energy. MAE/SAE/NDE are plain; *_masked the article's.
    """
    g = {name: S[..., i] for name, i in _I.items()}
    tp, tn, fp, fn, n = g["tp"], g["tn"], g["fp"], g["fn"], g["one"]
    marg = (tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)
    with np.errstate(invalid="ignore"):
        mcc = _ratio(tp * tn - fp * fn, np.sqrt(np.maximum(marg, 0)))
    # a constant prediction has no correlation with the truth: MCC 0 (undefined only when the
    # truth itself is all one class, which is about the data)
    truth_both = ((tp + fn) > 0) & ((tn + fp) > 0)
    mcc = np.where(truth_both & ~(marg > 0), 0.0, mcc)
    epd_t = _ratio(g["t"], n) * 24.0
    epd_p = _ratio(g["p"], n) * 24.0
    return {
        "tp": tp,
        "tn": tn,
        "fp": fp,
        "fn": fn,
        "acc": _ratio(tp + tn, n),
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "mcc": np.where(truth_both, mcc, np.nan),
        "mae": _ratio(g["abs_err"], n),
        "sae": _ratio(np.abs(g["p"] - g["t"]), g["t"]),
        "nde": _ratio(g["sq_err"], g["t_sq"]),
        "mae_masked": _ratio(g["abs_err_masked"], n),
        "sae_masked": _ratio(np.abs(g["p_masked"] - g["t_masked"]), g["t_masked"]),
        "nde_masked": _ratio(g["sq_err_masked"], g["t_sq"]),
        "epd_true_wh": epd_t,
        "epd_pred_wh": epd_p,
        "epd_error_pct": 100.0 * _ratio(epd_p - epd_t, epd_t),
    }


@dataclass
class Design:
    """How a set of evaluated windows was drawn: each window's weight and resampling unit.

    ``stratum`` and ``unit`` are per window; resampling draws, within each stratum, as many units
    as it has, with replacement (a unit is one window for a random sample, an hour of windows
    for a contiguous block, whose neighbouring windows are not independent).
    """

    weight: np.ndarray
    stratum: np.ndarray
    unit: np.ndarray = field(default=None)
    # strata of one true class ordered from the one most likely to fool a model to the least
    # (e.g. off look-alike, off active, off idle): a model's false-alarm rate is taken not to
    # rise along it, so a stratum that saw none borrows the evidence of the harder ones
    chain: tuple[int, ...] = ()

    def __post_init__(self):
        self.windows_are_units = self.unit is None
        if self.unit is None:
            self.unit = np.arange(len(self.weight))

    def __len__(self) -> int:
        return len(self.weight)

    def resample_counts(self, B: int, seed: int) -> np.ndarray | None:
        """(B, n) how often each window appears in each of B stratified (block) resamples, or
        None when the sample cannot tell its own uncertainty (a resampled stratum with fewer
        than two units).

        A random sample is resampled by the rescaled bootstrap (Rao and Wu, 1988): within each
        stratum n_h - 1 draws with replacement, rescaled so that the resampled totals vary as a
        sample drawn without replacement does, finite-population correction (1 - n_h / N_h)
        included; a stratum whose every window was scored (weight 1) has no sampling error and
        enters every resample as it is. A contiguous block is resampled by its units (hours),
        with replacement, as a sample of the process that produced them.
        """
        rng = np.random.default_rng(seed)
        counts = np.zeros((B, len(self)), np.float64)
        for h in np.unique(self.stratum):
            in_h = np.flatnonzero(self.stratum == h)
            if self.windows_are_units:
                counts[:, in_h] = _rescaled_draws(rng, B, self.weight[in_h])
                if counts[0, in_h[0]] != counts[0, in_h[0]]:  # NaN: fewer than two windows
                    return None
                continue
            units, inverse = np.unique(self.unit[in_h], return_inverse=True)
            k = len(units)
            if k < 2:
                return None
            draws = rng.multinomial(k, np.full(k, 1.0 / k), size=B)  # (B, k)
            counts[:, in_h] = draws[:, inverse]
        return counts


def _rescaled_draws(rng, B: int, weight: np.ndarray) -> np.ndarray:
    """(B, n_h) rescaled-bootstrap counts of one stratum's windows (mean 1 in every resample's
    expectation, variance matching without-replacement sampling); NaN when n_h < 2."""
    n = len(weight)
    f = min(1.0, 1.0 / float(np.mean(weight))) if n else 1.0
    if f >= 1.0 - 1e-12:
        return np.ones((B, n))
    if n < 2:
        return np.full((B, n), np.nan)
    draws = rng.multinomial(n - 1, np.full(n, 1.0 / n), size=B)
    return 1.0 + np.sqrt(1.0 - f) * (draws * n / (n - 1) - 1.0)


@dataclass
class Estimate:
    value: dict[str, float]
    low: dict[str, float]
    high: dict[str, float]
    boot: dict[str, np.ndarray]
    # what a paired difference needs beyond the resampled metrics: the resamples without the
    # zero-event draws, and the features, design and resamples they came from
    boot_plain: dict[str, np.ndarray] = field(default_factory=dict)
    source: tuple | None = None  # (features, design, counts, resampled weighted sums)


def estimate(features: np.ndarray, design: Design, counts: np.ndarray | None) -> Estimate:
    """Point estimates (weighted sums) and percentile intervals over the resamples ``counts``.

    Where a sampled stratum saw no error of a kind, the interval is the union of the plain
    resamples' (the error rate may truly be 0) and those with the rate drawn from its posterior
    (it may be up to a few per n): it covers the point estimate and the unseen errors alike."""
    wf = features * design.weight[:, None]
    point = metrics_from_sums(wf.sum(axis=0))
    value = {k: float(v) for k, v in point.items()}
    if counts is None or len(counts) == 0:
        nan = dict.fromkeys(value, float("nan"))
        return Estimate(value, nan, dict(nan), {})
    sums = counts @ wf
    plain = metrics_from_sums(sums)
    extra = zero_event_sums(features, design, len(counts))
    boot = metrics_from_sums(sums + extra) if extra.any() else plain
    low, high = {}, {}
    for k in boot:
        low[k], high[k] = _union(plain[k], boot[k])
    return Estimate(value, low, high, boot, plain, (features, design, counts, sums))


def _union(*boots: np.ndarray) -> tuple[float, float]:
    """The smallest interval holding every given set's percentile interval."""
    ends = [_percentiles(b) for b in boots]
    lows = [lo for lo, _ in ends if np.isfinite(lo)]
    highs = [hi for _, hi in ends if np.isfinite(hi)]
    if not lows:
        return float("nan"), float("nan")
    return float(min(lows)), float(max(highs))


# the errors whose absence in a sampled stratum says little: (error, the right call it
# would replace)
_ZERO_EVENT_PAIRS = (("fp", "tn"), ("fn", "tp"))
# prior shape a of an unseen error rate: its posterior after 0 of n is Beta(a, n + 1 - a),
# whose 97.5th percentile is ~1.7 / n at a = 0.25. Measured in bench/bench_coverage.py at the
# 10,000-window level: a = 0.1 covered 0.92 where false alarms are rare and mostly idle ones
# (the "quiet" population), a = 0.25 0.965 with intervals 0.97-1.01x the true spread
ZERO_EVENT_PRIOR = 0.25
# the same for a disagreement two variants never showed: a = 0.5 (Jeffreys). With the off strata
# pooled along their chain, bench/bench_coverage.py measured the paired F1 difference's
# coverage (150 repetitions, three populations) at a = 0.1 / 0.25 / 0.5: 400 windows
# 0.93-0.95 / 0.94-0.95 / 0.95-0.96, 65 windows 0.83-0.88 / 0.85-0.96 / 0.99-1.0; a = 0.5
# widened the 400-window interval by ~7 %
DISCORDANCE_PRIOR = 0.5


def zero_event_sums(features: np.ndarray, design: Design, B: int) -> np.ndarray:
    """(B, F) additions to the resampled sums for strata that saw no event of a kind.

    A sampled stratum with no false alarm among its n off windows would give every resample
    zero false alarms there: a zero-width contribution, as if the stratum's rate were known to
    be 0. Each resample instead draws that stratum's rate from its posterior (zero_event_rates)
    and moves that share of the stratum's unsampled off windows from true negatives to false
    alarms (likewise misses, from hits). The draws depend only on the design and the ground
    truth, so two variants scored on one design get the same ones (paired)."""
    out = np.zeros((B, features.shape[1]))
    if not design.windows_are_units:
        return out
    for k, (event, other) in enumerate(_ZERO_EVENT_PAIRS):
        e, o = features[:, _I[event]], features[:, _I[other]]
        for h, r in zero_event_rates(design, e, e + o, k, B, 20_240_601):
            in_h = design.stratum == h
            w = design.weight[in_h]
            # the unsampled windows of the class are what the sample could not see
            unseen = 1.0 - min(1.0, 1.0 / float(w.mean()))
            moved = r * float((w * (e + o)[in_h]).sum()) * unseen
            out[:, _I[event]] += moved
            out[:, _I[other]] -= moved
    return out


def zero_event_rates(design: Design, events, members, k: int, B: int, salt: int, prior=None):
    """(stratum, B drawn rates) for each sampled stratum (weight > 1) whose members
    (windows of the true class an event could happen in) saw no event.

    A stratum alone: the rate's posterior after 0 of n, Beta(a, n + 1 - a). A stratum on the
    design's chain (strata ordered from the hardest to the easiest for a model, whose rates
    are taken not to rise along it) pools its n with the harder strata just before it that
    also saw none (their rates bound its own), and a draw never exceeds the rate drawn for
    the stratum before it (for one that saw events, from its posterior Beta(e + 1/2,
    n - e + 1/2)): an idle stratum of 20 sampled windows no longer stands for a false-alarm
    rate of up to 8 % when the 300 harder windows before it saw none."""
    a = ZERO_EVENT_PRIOR if prior is None else prior
    members = np.asarray(members) > 0
    found = []
    stats = {}
    for h in np.unique(design.stratum):
        in_h = design.stratum == h
        if np.all(design.weight[in_h] <= 1.0 + 1e-12):
            continue
        n = int(members[in_h].sum())
        stats[int(h)] = (n, int((np.asarray(events)[in_h] > 0).sum()))
    chain = [h for h in design.chain if h in stats]
    pooled, cap = 0, np.full(B, np.inf)
    for h in chain:
        n, e = stats[h]
        rng = np.random.default_rng([salt, h, k, B])
        if n == 0:
            continue
        if e == 0:
            pooled += n
            r = np.minimum(rng.beta(a, pooled + 1 - a, size=B), cap)
            found.append((h, r))
        else:
            pooled = 0
            r = rng.beta(e + 0.5, n - e + 0.5, size=B)
        cap = np.minimum(cap, r)
    for h, (n, e) in stats.items():
        if h in chain or n == 0 or e > 0:
            continue
        rng = np.random.default_rng([salt, h, k, B])
        found.append((h, rng.beta(a, n + 1 - a, size=B)))
    return found


def _percentiles(b: np.ndarray) -> tuple[float, float]:
    b = b[np.isfinite(b)]
    if len(b) < 10:
        return float("nan"), float("nan")
    lo, hi = np.percentile(b, [2.5, 97.5])
    return float(lo), float(hi)


def paired_delta(a: Estimate, ref: Estimate, metric: str) -> tuple[float, float, float]:
    """a - ref with the percentile interval of the paired resampled differences.

    Where the two never disagree in a sampled stratum (a rare kind of error, seen by neither
    or by both on the same windows), that stratum would add no width to the difference; the
    interval then also holds the resamples in which the disagreement rate is drawn from its
    posterior, falling to either variant (discordance_sums)."""
    delta = a.value[metric] - ref.value[metric]
    if metric not in a.boot or metric not in ref.boot:
        return delta, float("nan"), float("nan")
    sets = [a.boot[metric] - ref.boot[metric]]
    if metric in a.boot_plain and metric in ref.boot_plain:
        sets.append(a.boot_plain[metric] - ref.boot_plain[metric])
    extra = _discordant(a, ref, metric)
    if extra is not None:
        sets.append(extra)
    lo, hi = _union(*sets)
    return delta, lo, hi


def _discordant(a: Estimate, ref: Estimate, metric: str) -> np.ndarray | None:
    """Resampled a - ref with unseen disagreements drawn in, or None when not applicable."""
    if a.source is None or ref.source is None:
        return None
    (fa, design, counts, sa), (fb, _, counts_b, sb) = a.source, ref.source
    if fa.shape != fb.shape or counts is not counts_b and not np.array_equal(counts, counts_b):
        return None
    ea, eb = discordance_sums(fa, fb, design, len(counts))
    if not (ea.any() or eb.any()):
        return None
    return metrics_from_sums(sa + ea)[metric] - metrics_from_sums(sb + eb)[metric]


def discordance_sums(fa: np.ndarray, fb: np.ndarray, design: Design, B: int):
    """(B, F) additions to each variant's resampled sums for sampled strata in which the two
    never disagree on an error of a kind: each resample draws the disagreement rate from its
    posterior (zero_event_rates with a = DISCORDANCE_PRIOR; along the design's chain two
    variants are taken to disagree no more often on easier windows than on harder ones) and
    gives that share of the stratum's unsampled windows of the true class the error in one of
    the two variants, either with equal chance."""
    ea, eb = np.zeros((B, fa.shape[1])), np.zeros((B, fa.shape[1]))
    if not design.windows_are_units:
        return ea, eb
    for k, (event, other) in enumerate(_ZERO_EVENT_PAIRS):
        e, o = _I[event], _I[other]
        cls = (fa[:, e] + fa[:, o]) > 0  # windows of that true class
        differ = cls & (fa[:, e] != fb[:, e])
        rates = zero_event_rates(design, differ, cls, k, B, 20_240_602, DISCORDANCE_PRIOR)
        for h, r in rates:
            in_h = design.stratum == h
            w = design.weight[in_h]
            moved = r * float(w[cls[in_h]].sum()) * (1.0 - min(1.0, 1.0 / float(w.mean())))
            to_a = np.random.default_rng([20_240_603, int(h), k, B]).random(B) < 0.5
            for extra, side in ((ea, to_a), (eb, ~to_a)):
                extra[side, e] += moved[side]
                extra[side, o] -= moved[side]
    return ea, eb


# -- drawing the sample ------------------------------------------------------------------------


@dataclass
class Sample:
    """Evaluation windows and how they were drawn, with nested sub-samples.

    Per stratum the draws are in random order (``rank``); the sub-sample of size m keeps, in
    every stratum, its first m_h draws, with m_h allocated by the sample's own design shares
    (what a stratum's sample cannot give goes to the others, as when the sample was drawn),
    so it is itself a stratified random sample (weights N_h / m_h) with as large a share of
    'on' windows as the whole sample aimed for, and is contained in every larger one: a
    sub-sample of a rare appliance keeps far more of its few activations than a proportional
    cut would (those decide F1 and any paired difference of it). A slow variant scored on a
    sub-sample pairs with any faster one on exactly the windows both saw. A contiguous block
    (the article's protocol) is one stratum whose sub-samples are its first m windows and whose
    resampling units are hours.
    """

    starts: np.ndarray
    stratum: np.ndarray
    rank: np.ndarray
    population: np.ndarray  # per stratum
    strata: list[dict]
    unit: np.ndarray | None = None  # resampling unit per window (None: each window)
    floors: np.ndarray | None = None  # per stratum: fewest windows any sub-sample keeps
    shares: tuple[float, ...] | None = None  # design shares of the strata (None: proportional)
    chain: tuple[int, ...] = ()  # the design's chain of strata (Design.chain)

    def __len__(self) -> int:
        return len(self.starts)

    def subset(self, m: int | None) -> tuple[np.ndarray, Design]:
        """(mask over the sample, design of that sub-sample) for at most m windows."""
        n = len(self)
        sizes = np.bincount(self.stratum, minlength=len(self.population))
        floors = np.ones_like(sizes) if self.floors is None else self.floors
        if m is None or m >= n:
            keep = sizes
        else:
            # every level keeps each stratum's floor (two windows for an interval, enough 'on'
            # windows for F1): a small level is raised rather than left without an interval
            if self.shares is None:
                wanted = np.round(sizes * m / n)
            else:
                wanted = np.array(allocate([int(k) for k in sizes], list(self.shares), m))
            keep = np.maximum(wanted, floors).astype(int)
            keep = np.where(sizes > 0, np.minimum(np.maximum(keep, 1), sizes), 0)
        mask = self.rank < keep[self.stratum]
        with np.errstate(divide="ignore", invalid="ignore"):
            w = np.where(keep > 0, self.population / np.maximum(keep, 1), 0.0)
        unit = None if self.unit is None else self.unit[mask]
        return mask, Design(w[self.stratum[mask]], self.stratum[mask], unit, self.chain)


def allocate(population: list[int], shares: list[float], n: int) -> list[int]:
    """Sample sizes per stratum: ``shares`` of n, capped by each stratum's size, with what a
    small stratum cannot take handed to the others in proportion to their shares."""
    sizes = [0] * len(population)
    open_ = [i for i, N in enumerate(population) if N > 0]
    left = min(n, sum(population))
    while left > 0 and open_:
        total = sum(shares[i] for i in open_) or len(open_)
        give = {i: max(1, int(left * (shares[i] or 1) / total)) for i in open_}
        for i in open_:
            take = min(give[i], population[i] - sizes[i], left)
            sizes[i] += take
            left -= take
        open_ = [i for i in open_ if sizes[i] < population[i]]
    return sizes


def stratified_sample(
    starts: np.ndarray,
    labels: np.ndarray,
    names: list[str],
    shares: list[float],
    n: int,
    seed: int,
    floors: list[int] | None = None,
    chain: tuple[int, ...] = (),
) -> Sample:
    """Draw n of ``starts`` without replacement, stratified by ``labels`` (0..len(names)-1);
    ``floors``: the fewest windows of each stratum, in the sample and every sub-sample (capped
    by the stratum's size); ``chain``: strata ordered from the hardest for a model to the
    easiest (Design.chain)."""
    rng = np.random.default_rng(seed)
    population = [int(np.sum(labels == h)) for h in range(len(names))]
    floor_h = np.minimum(np.array(floors or [1] * len(names)), population)
    sizes = [max(k, int(f)) for k, f in zip(allocate(population, shares, n), floor_h, strict=True)]
    picked, stratum, rank, strata = [], [], [], []
    for h, (name, N, k) in enumerate(zip(names, population, sizes, strict=True)):
        chosen = rng.choice(starts[labels == h], size=k, replace=False) if k else starts[:0]
        picked.append(chosen)
        stratum.append(np.full(k, h, np.int8))
        rank.append(np.arange(k))
        strata.append({"name": name, "population": N, "sample": k, "weight": N / k if k else None})
    return Sample(
        np.concatenate(picked).astype(np.int64),
        np.concatenate(stratum),
        np.concatenate(rank),
        np.array(population, float),
        strata,
        floors=floor_h.astype(int),
        shares=tuple(float(x) for x in shares),
        chain=tuple(int(h) for h in chain),
    )


def block_sample(block: np.ndarray, windows_per_unit: int) -> Sample:
    """A contiguous block of windows scored as it is (weight 1), resampled by whole units."""
    n = len(block)
    unit = (block - block[0]) // max(1, windows_per_unit) if n else block
    return Sample(
        block.astype(np.int64),
        np.zeros(n, np.int8),
        np.arange(n),
        np.array([float(n)]),
        [{"name": "block", "population": n, "sample": n, "weight": 1.0}],
        unit,
    )
