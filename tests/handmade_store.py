"""A small hand-made store (schema 3) for the dashboard and recommendation tests.

Two appliances, two architectures, four modes each (and one file written twice under two
names), three baselines per appliance, two devices, real files to download and a trace with known
spikes, scored the article's way (split test_trace); the int8 transformers on a sub-sample. Numbers are chosen so the recommendation rule has something to decide (see the comments
beside them). `intervals=False, baselines=False`
gives a store as the previous pipeline wrote it: no intervals, no baselines, no deltas.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from store import db

from .store_rows import (
    baseline_row,
    delta_row,
    evaluation_row,
    host_row,
    latency_row,
    layer_stat_row,
    memory_row,
    metric_row,
    model_row,
    op_row,
    publish,
    run_row,
    trace_row,
    variant_row,
)

LOCAL, PI = "devbox", "pi4"

# (appliance, arch, mode): f1, half-width of its interval, latency ms on devbox, RAM MB, disk MB
VARIANTS = {
    # kettle: the float transformer is best; the float CNN is within its interval and 10x faster
    ("kettle", "cnn", "keras"): (0.81, 0.04, None, None, 36.0),
    ("kettle", "cnn", "convert_only"): (0.80, 0.04, 2.0, 60.0, 12.0),
    ("kettle", "cnn", "w8"): (0.79, 0.04, 3.0, 20.0, 3.1),
    ("kettle", "cnn", "w8_a8"): (0.73, 0.015, 0.5, 25.0, 3.2),
    # the same bytes as the w8_a8 file (every op had an int8 kernel): one entry, not two
    ("kettle", "cnn", "w8_a8_fallback"): (0.73, 0.015, 0.51, 25.0, 3.2),
    ("kettle", "transformer", "keras"): (0.83, 0.04, None, None, 6.5),
    ("kettle", "transformer", "convert_only"): (0.83, 0.04, 20.0, 40.0, 6.3),
    ("kettle", "transformer", "w8"): (0.82, 0.04, 25.0, 30.0, 2.0),
    ("kettle", "transformer", "w8_a8"): (0.40, 0.05, 8.0, 15.0, 1.7),
    # fridge: the transformer is best but under-trained; the int8 CNN does not beat the baseline
    ("fridge", "cnn", "keras"): (0.71, 0.04, None, None, 36.0),
    ("fridge", "cnn", "convert_only"): (0.70, 0.04, 2.1, 60.0, 12.0),
    ("fridge", "cnn", "w8"): (0.71, 0.04, 3.1, 20.0, 3.1),
    ("fridge", "cnn", "w8_a8"): (0.69, 0.06, 0.6, 25.0, 3.2),
    ("fridge", "transformer", "keras"): (0.76, 0.04, None, None, 6.5),
    ("fridge", "transformer", "convert_only"): (0.75, 0.04, 26.0, 40.0, 6.3),
    ("fridge", "transformer", "w8"): (0.75, 0.04, 30.0, 30.0, 2.0),
    ("fridge", "transformer", "w8_a8"): (0.30, 0.05, 9.0, 15.0, 1.7),
}
BASELINES = {
    ("kettle", "always_off"): 0.0,
    ("kettle", "mean_power"): 0.05,
    ("kettle", "aggregate_threshold"): 0.55,
    ("fridge", "always_off"): 0.0,
    ("fridge", "mean_power"): 0.64,
    ("fridge", "aggregate_threshold"): 0.50,
}
UNDER_TRAINED = {"fridge.transformer"}
SAME_FILE = {"kettle.cnn.w8_a8_fallback": "kettle.cnn.w8_a8"}  # variant -> the file it repeats
# energy-per-day error (%) of the best baselines: the mean-power rule gets a day's energy about
# right, so a variant is flagged when its error is larger (the variants': _epd_error below)
BASELINE_EPD = {"always_off": -100.0, "mean_power": -4.0, "aggregate_threshold": 40.0}
EPD_HALF_WIDTH, ABS_EPD_PAIR_HALF_WIDTH = 3.0, 5.0
# the int8 transformers are scored on the nested 'core' sub-sample (level, windows, 'on' windows)
FULL_SAMPLE = ("full", 5000, 400)
SUB_SAMPLED = {
    "kettle.transformer.w8_a8": ("core", 400, 40),
    "fridge.transformer.w8_a8": ("core", 400, 40),
}
# the Pi runs the int8 CNN fastest and the transformers much slower
# paired intervals (variant minus its float model) are +-0.02 except where a variant's loss is
# uncertain (the int8 kettle CNN loses 0.08 F1, its paired interval reaches -0.01: it cannot show
# a loss under the 0.02 margin); the float-format files are +-0.008, so they can
PAIRED_HALF_WIDTH = {
    ("kettle", "cnn", "w8_a8"): 0.07,
    ("kettle", "cnn", "w8_a8_fallback"): 0.07,
    ("kettle", "cnn", "convert_only"): 0.008,
    ("kettle", "transformer", "convert_only"): 0.008,
    ("fridge", "cnn", "convert_only"): 0.008,
    ("fridge", "cnn", "w8"): 0.008,
}
PI_FACTOR = {"convert_only": 12.0, "w8": 4.0, "w8_a8": 6.0, "w8_a8_fallback": 6.0}
TRACE_START = pd.Timestamp("2014-03-01")
TRACE_PERIOD_S = 8
TRACE_ROWS = 2 * 86400 // TRACE_PERIOD_S  # two days
SPIKES = {1000: 2400.0, 7777: 2600.0, 15000: 2500.0}  # row -> kettle power
TRACE_END = TRACE_START + pd.Timedelta(seconds=(TRACE_ROWS - 1) * TRACE_PERIOD_S)


def sample_of(vid: str) -> tuple[str, int, int]:
    """(level, windows, 'on' windows) of the evaluation sample the variant was scored on."""
    return SUB_SAMPLED.get(vid, FULL_SAMPLE)


def trace_windows_of(vid: str) -> int:
    """Windows of the trace stretch a variant predicted: a sub-sampled one, the first eighth."""
    return TRACE_ROWS // 8 if vid in SUB_SAMPLED else TRACE_ROWS


def _epd_error(app: str, f1: float) -> float:
    """A variant's energy-per-day error (%): the less accurate, the larger."""
    best = max(v[0] for (a, _, _), v in VARIANTS.items() if a == app)
    return 1.0 + 50.0 * (best - f1)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def trace_frame() -> pd.DataFrame:
    t = TRACE_START + pd.to_timedelta(np.arange(TRACE_ROWS) * TRACE_PERIOD_S, unit="s")
    truth = np.zeros(TRACE_ROWS, np.float32)
    for row, w in SPIKES.items():
        truth[row : row + 30] = w  # 4-minute runs
    return pd.DataFrame(
        {
            "time": t,
            "aggregate_w": truth + 300.0,
            "truth_w": truth,
            "pred_w": truth * 0.9,
            "truth_on": (truth > 0).astype(np.int8),
            "pred_on": (truth > 0).astype(np.int8),
        }
    )


# the tables build fills from VARIANTS and BASELINES, in the order they are inserted
TABLES = (
    "models",
    "variants",
    "metrics",
    "metric_deltas",
    "paired_deltas",
    "evaluations",
    "latency",
    "memory",
    "op_profile",
    "traces",
    "quant_layer_stats",
)


def _add_model_and_variant(rows: dict, art: Path, app: str, arch: str, mode: str, disk) -> str:
    """Write the variant's file (a .keras model or a .tflite), add its rows; return its sha."""
    mid = f"{app}.{arch}"
    vid = f"{mid}.{mode}"
    if mode == "keras":
        f = art / "models" / f"{mid}.keras"
        f.write_bytes(b"PK keras " + mid.encode() * 200)
        trained = {"under_trained": mid in UNDER_TRAINED, "still_improving": mid in UNDER_TRAINED}
        rows["models"].append(model_row(mid, app, arch, sha256=_sha(f), **trained))
        file = (None, None, None)
    else:
        f = art / "variants" / f"{vid}.tflite"
        f.write_bytes(b"TFL3" + SAME_FILE.get(vid, vid).encode() * 100)
        file = (f"variants/{vid}.tflite", _sha(f), int(disk * 1e6))
    rel, sha, nbytes = file
    rows["variants"].append(
        variant_row(vid, mid, app, arch, mode, file_path=rel, file_bytes=nbytes, sha256=sha)
    )
    return sha


def _metric_row(vid: str, split: str, metric: str, value, ci_low, ci_high, n_windows=5000):
    return metric_row(vid, metric, value, ci_low, ci_high, split=split, n_windows=n_windows)


def _metric_rows(vid: str, f1: float, half: float, intervals: bool, epd: float) -> list[dict]:
    """The test split's estimates (with intervals unless ``intervals`` is false), on the
    variant's level of the sample."""
    n = sample_of(vid)[1]

    def ci(value, h):
        return (value - h, value + h) if intervals else (None, None)

    rows = [
        _metric_row(vid, "test", metric, value, *ci(value, h), n)
        for metric, value, h in (
            ("f1", f1, half),
            ("mcc", f1 - 0.02, half),
            ("mae_masked", 20 - 10 * f1, half),
            ("mae", 40 - 10 * f1, 2.0),
            ("epd_error_pct", epd, EPD_HALF_WIDTH),
        )
    ]
    if intervals and vid == "kettle.cnn.keras":  # two test houses, each reported alone
        for house, shift in ((2, 0.05), (5, -0.1)):
            for metric, value in (("f1", f1 + shift), ("mcc", f1 + shift - 0.03)):
                rows.append(
                    _metric_row(
                        vid, f"test@house{house}", metric, value, *ci(value, 2 * half), 2500
                    )
                )
    return rows


def _trace_metric_rows(vid: str, f1: float) -> list[dict]:
    """The article's protocol on the trace stretch (no intervals), on the windows of it the
    variant predicted."""
    n = trace_windows_of(vid)
    return [
        _metric_row(vid, "test_trace", metric, value, None, None, n)
        for metric, value in (
            ("f1", f1 - 0.02),
            ("mcc", f1 - 0.04),
            ("mae_masked", 21 - 10 * f1),
            ("epd_article_error_pct", 2.0 + 60.0 * (0.85 - f1)),
        )
    ]


def _delta_row(app: str, arch: str, mode: str, f1: float) -> dict:
    """The variant's F1 minus its float model's, with a paired interval."""
    d = f1 - VARIANTS[(app, arch, "keras")][0]
    half = PAIRED_HALF_WIDTH.get((app, arch, mode), 0.02)
    vid = f"{app}.{arch}.{mode}"
    return delta_row(vid, f"{app}.{arch}.keras", "f1", d, half, n_windows=sample_of(vid)[1])


def _evaluation_row(vid: str, mode: str, sha) -> dict:
    level, n, on = sample_of(vid)
    return evaluation_row(
        vid,
        runtime="keras" if mode == "keras" else ("tf_lite" if mode == "w8" else "litert"),
        xnnpack=mode not in ("keras", "w8"),
        file_sha256=sha,
        subset=level,
        n_windows=n,
        on_windows=on,
    )


def _add_latency_and_memory(rows: dict, vid: str, arch: str, mode: str, lat, ram, sha) -> None:
    """One latency and one memory row per device: the devbox and the (slower) Pi."""
    for host, runtime, threads, factor in (
        (LOCAL, "litert", 1, 1.0),
        (PI, "edge_kit", 4, PI_FACTOR[mode] * (3 if arch == "transformer" else 1)),
    ):
        rows["latency"].append(
            latency_row(vid, host, runtime, threads, lat * factor, file_sha256=sha)
        )
        rows["memory"].append(memory_row(vid, host, runtime, ram))


def _op_rows(vid: str, mode: str, lat: float) -> list[dict]:
    return [
        op_row(vid, n, op, lat / 4, mode != "w8" and op != "RESHAPE", host=LOCAL)
        for n, op in enumerate(["CONV_2D", "CONV_2D", "FULLY_CONNECTED", "RESHAPE"])
    ]


def _trace_row(vid: str, app: str, sha) -> dict:
    return trace_row(vid, app, "traces/trace.parquet", TRACE_ROWS, file_sha256=sha)


def _add_variant(rows: dict, art: Path, key: tuple, numbers: tuple, intervals: bool) -> None:
    """All rows for one VARIANTS entry; keras models are never benchmarked or traced."""
    (app, arch, mode), (f1, half, lat, ram, disk) = key, numbers
    vid = f"{app}.{arch}.{mode}"
    sha = _add_model_and_variant(rows, art, app, arch, mode, disk)
    rows["metrics"] += _metric_rows(vid, f1, half, intervals, _epd_error(app, f1))
    if mode != "keras" and intervals:
        rows["metric_deltas"].append(_delta_row(app, arch, mode, f1))
    rows["evaluations"].append(_evaluation_row(vid, mode, sha))
    if lat is None:
        return
    _add_latency_and_memory(rows, vid, arch, mode, lat, ram, sha)
    rows["op_profile"] += _op_rows(vid, mode, lat)
    rows["traces"].append(_trace_row(vid, app, sha))
    rows["metrics"] += _trace_metric_rows(vid, f1)


def _add_baselines(rows: dict, intervals: bool) -> None:
    for (app, mode), f1 in BASELINES.items():
        vid = f"{app}.baseline.{mode}"
        rows["variants"].append(baseline_row(app, mode))
        rows["metrics"].append(
            _metric_row(
                vid,
                "test",
                "f1",
                f1,
                max(f1 - 0.03, 0) if intervals else None,
                f1 + 0.03 if intervals else None,
            )
        )
        rows["metrics"].append(_metric_row(vid, "test", "mae", 35.0, None, None))
        epd = BASELINE_EPD[mode]
        rows["metrics"].append(
            _metric_row(
                vid,
                "test",
                "epd_error_pct",
                epd,
                epd - EPD_HALF_WIDTH if intervals else None,
                epd + EPD_HALF_WIDTH if intervals else None,
            )
        )


def _layer_stat_rows() -> list[dict]:
    """Per-layer quantisation error for the int8 kettle CNN; one layer is over the 0.5 line."""
    return [
        layer_stat_row("kettle.cnn.w8_a8", i, op, r, r > 0.5)
        for i, (op, r) in enumerate([("CONV_2D", 0.3), ("FULLY_CONNECTED", 0.6), ("ADD", 0.2)])
    ]


def _run_hosts_windows() -> dict[str, list[dict]]:
    """The rows that do not depend on VARIANTS: the run, the two devices, the test windows."""
    run = run_row({"name": "smoke", "suspect_threshold": 0.5}, LOCAL)
    hosts = [
        host_row(LOCAL, "x86_64", "local", cpu_model="Test x86", cores=2),
        host_row(PI, "aarch64", "edge_kit", cpu_model="Cortex-A72", cores=4),
    ]
    windows = [
        {
            "appliance": app,
            "split": "test",
            "n_windows": 5000,
            "windows_hash": "h",
            "postprocess": "clip_negative",
            "protocol": "stratified",
            "population_windows": 200000,
            "test_houses": "2",
            "trace_first_time": TRACE_START,
            "trace_last_time": TRACE_END,
            "seed": 1,
        }
        for app in ("kettle", "fridge")
    ]
    return {"runs": [run], "hosts": hosts, "eval_windows": windows}


def _pair_rows(with_baselines: bool) -> list[dict]:
    """Paired differences between every two entries of an appliance, on the windows both saw:
    F1 (half-width half the two intervals' combined, as pairing on the same windows narrows
    it), MAE (+-1 W) and the absolute energy-per-day error (+-5 percentage points)."""
    entries = {
        f"{app}.{arch}.{mode}": (app, f1, half, 40 - 10 * f1, abs(_epd_error(app, f1)))
        for (app, arch, mode), (f1, half, *_) in VARIANTS.items()
    }
    if with_baselines:
        for (app, mode), f1 in BASELINES.items():
            entries[f"{app}.baseline.{mode}"] = (app, f1, 0.03, 35.0, abs(BASELINE_EPD[mode]))
    rows = []
    for a, (app_a, fa, ha, ma, ea) in entries.items():
        for b, (app_b, fb, hb, mb, eb) in entries.items():
            if a == b or app_a != app_b:
                continue
            h = 0.5 * (ha**2 + hb**2) ** 0.5
            _, n, on = min(sample_of(a), sample_of(b), key=lambda s: s[1])
            for metric, d, w in (
                ("f1", fa - fb, h),
                ("mae", ma - mb, 1.0),
                ("abs_epd_error_pct", ea - eb, ABS_EPD_PAIR_HALF_WIDTH),
            ):
                rows.append(
                    {
                        "variant_id": a,
                        "other_id": b,
                        "split": "test",
                        "metric": metric,
                        "delta": d,
                        "ci_low": d - w,
                        "ci_high": d + w,
                        "n_windows": n,
                        "on_windows": on,
                    }
                )
    return rows


def build(path: Path, *, intervals: bool = True, baselines: bool = True) -> Path:
    path = Path(path)
    art = db.artifacts_dir(path)
    for sub in ("models", "variants", "traces", "eval"):
        (art / sub).mkdir(parents=True, exist_ok=True)
    rows: dict[str, list[dict]] = {table: [] for table in TABLES}
    for key, numbers in VARIANTS.items():
        _add_variant(rows, art, key, numbers, intervals)
    if baselines:
        _add_baselines(rows, intervals)
    if intervals:
        rows["paired_deltas"] = _pair_rows(baselines)
    trace_frame().to_parquet(art / "traces" / "trace.parquet", index=False)
    rows["quant_layer_stats"] = _layer_stat_rows()
    return publish(path, _run_hosts_windows() | {table: rows[table] for table in TABLES})
