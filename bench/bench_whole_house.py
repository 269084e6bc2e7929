"""Every window of the test house: does the stored estimate agree, and what would a
duration rule on the device's continuous predictions do?

The evaluation scores each model on a stratified sample of test windows (a few thousand) and
gives 95 % intervals. This check predicts the float Keras model of each appliance on every
``--stride``-th window of the whole test house, computes F1 (threshold status, as the sample
does), MAE and the energy error over all of them, and prints them beside the store's estimates
and intervals. With ``--stride 1`` the predictions are a contiguous stream, as on a device, and
it also measures post-processings that need neighbours, which the sample cannot: the article's
duration rule (activations shorter than the appliance's minimum 'on' time dropped, short gaps
merged), longer minimum 'on' times, a maximum 'on' time (activations longer than it dropped) and
power gates (predictions under G W set to 0, then the duration rule). Nothing is written to the store.

    python bench/bench_whole_house.py --store S                      # every appliance, CNN
    python bench/bench_whole_house.py --store S -a microwave --max-on-s 300,600 --gate-w 500
    python bench/bench_whole_house.py --store S --arch transformer --stride 10
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from _common import save

from pipeline.data.onoff import duration_samples, status_by_segment
from pipeline.data.windows import SplitData, Windows
from pipeline.evaluate.estimate import metrics_from_sums, window_features
from pipeline.evaluate.predict import postprocess
from pipeline.evaluate.scoring import threshold_status
from pipeline.settings.constants import AGG_MEAN_W, AGG_STD_W, APPLIANCES, MIDPOINT
from store import db
from store.vocab import Appliance

CHUNK = 8192  # windows per predict call
METRICS = ("f1", "precision", "recall", "mae", "epd_error_pct")


def runs(status: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) of each run of 1s."""
    edges = np.diff(np.r_[0, np.asarray(status, np.int8), 0])
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def drop_long_runs(status: np.ndarray, segment: np.ndarray, max_on: int) -> np.ndarray:
    """Status with every activation longer than ``max_on`` samples set to 0 (a run never spans
    a gap: segments are cut apart first)."""
    out = np.asarray(status, np.int8).copy()
    cut = np.r_[0, np.flatnonzero(np.diff(segment)) + 1, len(out)]
    for a, b in zip(cut[:-1], cut[1:], strict=True):
        for s, e in zip(*runs(out[a:b]), strict=True):
            if e - s > max_on:
                out[a + s : a + e] = 0
    return out


def scores(truth: np.ndarray, pred: np.ndarray, truth_on, pred_on) -> dict:
    """F1 / precision / recall, MAE and energy error over every window given, each window once:
    the evaluation's own definitions (pipeline/evaluate/estimate.py) with every weight 1, so
    these are the whole-span values its sample estimates."""
    values = metrics_from_sums(window_features(truth, pred, truth_on, pred_on).sum(axis=0))
    return {m: float(values[m]) for m in METRICS}


def _stored(con, vid: str) -> dict:
    rows = con.execute(
        "SELECT metric, value, ci_low, ci_high FROM metrics WHERE variant_id = ? AND split = 'test'"
        f" AND metric IN {METRICS}",
        [vid],
    ).fetchall()
    return {m: (v, lo, hi) for m, v, lo, hi in rows}


def predict_windows(model, w: Windows, starts: np.ndarray) -> tuple[np.ndarray, float]:
    """A Keras model's first output on the windows at ``starts`` (normalised), and the seconds."""
    t0 = time.perf_counter()
    out = [
        model.predict(w.inputs(starts[i : i + CHUNK]), batch_size=1024, verbose=0)[:, 0]
        for i in range(0, len(starts), CHUNK)
    ]
    return np.concatenate(out), time.perf_counter() - t0


def _predict(model_path: Path, w: Windows, starts: np.ndarray) -> tuple[np.ndarray, float]:
    from pipeline.train.models import load_keras_model

    return predict_windows(load_keras_model(model_path), w, starts)


def whole_house(store: Path, appliance: str, arch: str, stride: int, extra: dict) -> dict:
    import duckdb

    art = db.artifacts_dir(store)
    con = duckdb.connect(str(store), read_only=True)
    try:
        vid = f"{appliance}.{arch}.keras"
        found = con.execute(
            "SELECT file_path FROM variants WHERE variant_id = ? AND status = 'ok'", [vid]
        ).fetchone()
        data = con.execute(
            "SELECT artifact_path, sample_period_s FROM datasets WHERE appliance = ?"
            " AND split = 'test'",
            [appliance],
        ).fetchone()
        info = con.execute(
            "SELECT postprocess FROM eval_windows WHERE appliance = ? AND split = 'test'",
            [appliance],
        ).fetchone()
        if found is None or data is None or info is None:
            return {"appliance": appliance, "skipped": f"{vid}: not trained and evaluated"}
        stored = {
            vid: _stored(con, vid),
            "always_off": _stored(con, f"{appliance}.baseline.always_off"),
        }
    finally:
        con.close()
    app = Appliance(appliance)
    params, period = APPLIANCES[app], float(data[1])
    split = SplitData.read(art / data[0])
    w = Windows(split, AGG_MEAN_W, AGG_STD_W, params.max_power_w)
    starts = w.starts[::stride]
    pred_norm, seconds = _predict(art / found[0], w, starts)
    mid = starts + MIDPOINT
    truth = split.appliance_w[mid].astype(np.float64)
    article = info[0] == "article_threshold"
    pred = postprocess(pred_norm, app, article)
    result = {
        "appliance": appliance,
        "variant_id": vid,
        "windows": len(starts),
        "stride": stride,
        "days": len(starts) * stride * period / 86400,
        "predict_seconds": seconds,
        "postprocess": info[0],
        "stored": stored,
        "always_off_mae": float(truth.mean()),
        "whole": scores(truth, pred, threshold_status(truth, app), threshold_status(pred, app)),
    }
    if stride != 1:
        return result  # a rule on durations needs every window's prediction
    seg = split.segment[mid]
    min_off = duration_samples(params.min_off_s, period)

    def rule(min_on_s: float, max_on_s: float | None = None, gate_w: float = 0.0):
        power = np.where(pred >= gate_w, pred, 0.0)
        st = status_by_segment(
            power, seg, params.on_threshold_w, duration_samples(min_on_s, period), min_off
        )
        if max_on_s:
            st = drop_long_runs(st, seg, duration_samples(max_on_s, period))
        return np.where(st == 1, power, 0.0), st

    truth_on = status_by_segment(
        truth, seg, params.on_threshold_w, duration_samples(params.min_on_s, period), min_off
    )
    rules = {
        f"duration rule ({params.min_on_s:g} s on, {params.min_off_s:g} s off)": (
            params.min_on_s,
            None,
        )
    }
    rules |= {f"minimum on {s:g} s": (s, None) for s in extra["min_on_s"]}
    rules |= {f"maximum on {s:g} s": (params.min_on_s, s) for s in extra["max_on_s"]}
    rules |= {f"power gate {g:g} W": (params.min_on_s, None, g) for g in extra["gate_w"]}
    result["rules"] = {}
    for name, args in rules.items():
        power, st = rule(*args)
        result["rules"][name] = scores(truth, power, truth_on, st)
    # how long the predicted activations are, those that touch a true one and the others
    st = status_by_segment(pred, seg, params.on_threshold_w, 1, min_off)
    s_, e_ = runs(st)
    hit = np.array([truth_on[a:b].any() for a, b in zip(s_, e_, strict=True)], bool)
    ts, te = runs(truth_on)
    minutes = period / 60

    def spread(lengths):
        return (
            [float(x) for x in np.percentile(lengths * minutes, [10, 50, 90])]
            if len(lengths)
            else None
        )

    result["activations"] = {
        "true": {"count": len(ts), "minutes_p10_50_90": spread(te - ts)},
        "predicted_hitting": {"count": int(hit.sum()), "minutes_p10_50_90": spread((e_ - s_)[hit])},
        "predicted_false": {
            "count": int((~hit).sum()),
            "minutes_p10_50_90": spread((e_ - s_)[~hit]),
        },
        "false_share_of_predicted_energy": float(
            sum(pred[a:b].sum() for a, b in zip(s_[~hit], e_[~hit], strict=True))
            / max(pred.sum(), 1e-9)
        ),
    }
    return result


def _fmt(x, f="{:.3f}"):
    return "-" if x is None or not np.isfinite(x) else f.format(x)


def report(r: dict) -> None:
    if "skipped" in r:
        print(f"{r['appliance']}: {r['skipped']}")
        return
    print(
        f"\n{r['variant_id']}: {r['windows']:,} windows (every {r['stride']}), {r['days']:.0f} days,"
        f" predicted in {r['predict_seconds']:.0f} s; post-processing {r['postprocess']}"
    )
    mine = r["stored"][r["variant_id"]]
    for m, f in (
        ("f1", "{:.3f}"),
        ("precision", "{:.2f}"),
        ("recall", "{:.2f}"),
        ("mae", "{:.1f}"),
        ("epd_error_pct", "{:+.0f}"),
    ):
        v, lo, hi = mine.get(m, (None, None, None))
        whole = r["whole"][m]
        inside = (
            "" if lo is None or hi is None else ("  inside" if lo <= whole <= hi else "  OUTSIDE")
        )
        print(
            f"  {m:14s} estimate {_fmt(v, f)} [{_fmt(lo, f)}, {_fmt(hi, f)}]  whole house {_fmt(whole, f)}{inside}"
        )
    off = r["stored"]["always_off"].get("mae", (None,))[0]
    print(
        f"  always-off MAE: estimate {_fmt(off, '{:.1f}')}, whole house {r['always_off_mae']:.1f} W"
    )
    for name, s in r.get("rules", {}).items():
        print(
            f"  {name:40s} F1 {s['f1']:.3f} (p {s['precision']:.2f} r {s['recall']:.2f})"
            f"  MAE {s['mae']:.1f} W  energy {s['epd_error_pct']:+.0f} %"
        )
    if "activations" in r:
        a = r["activations"]
        for k in ("true", "predicted_hitting", "predicted_false"):
            q = a[k]["minutes_p10_50_90"]
            q = "-" if q is None else "/".join(f"{x:.1f}" for x in q)
            print(f"  activations {k:18s} {a[k]['count']:6d}, minutes p10/50/90 {q}")
        print(
            f"  share of predicted energy in false activations: {100 * a['false_share_of_predicted_energy']:.0f} %"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--store", type=Path, required=True)
    ap.add_argument("-a", "--appliance", action="append", help="default: every appliance")
    ap.add_argument("--arch", default="cnn")
    ap.add_argument("--stride", type=int, default=1, help="every Nth window (1: rules too)")
    ap.add_argument("--min-on-s", default="", help="comma-separated minimum 'on' times to try")
    ap.add_argument("--max-on-s", default="", help="comma-separated maximum 'on' times to try")
    ap.add_argument(
        "--gate-w", default="", help="comma-separated power gates to try (predictions under -> 0)"
    )
    args = ap.parse_args()
    if not args.store.exists():
        raise SystemExit(f"{args.store}: no such store")
    if args.stride < 1:
        raise SystemExit(f"--stride {args.stride}: must be 1 or more")
    extra = {
        k: [float(x) for x in getattr(args, k).split(",") if x.strip()]
        for k in ("min_on_s", "max_on_s", "gate_w")
    }
    appliances = args.appliance or [a.value for a in APPLIANCES]
    results = []
    for appliance in appliances:
        r = whole_house(args.store, appliance, args.arch, args.stride, extra)
        report(r)
        results.append(r)
    save(f"whole_house_{args.store.stem}", {"store": str(args.store), "results": results})


if __name__ == "__main__":
    main()
