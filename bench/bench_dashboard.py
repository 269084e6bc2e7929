"""5. Dashboard responsiveness: p50/p95 of each page's callback work on a large generated store
(200 variants, a 5-million-sample trace). Target: p95 under 300 ms on this machine.

The callbacks are timed as the server runs them (query + figure), without the browser.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from _common import RESULTS, save

N_TRACE = 5_000_000


def build_store(path):
    from store import db

    art = db.artifacts_dir(path)
    (art / "traces").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    apps = ["kettle", "microwave", "fridge", "dishwasher", "washing_machine"]
    modes = [
        "keras",
        "convert_only",
        "w8",
        "w8_a8_fallback",
        "w8_a8",
        "w8_a16",
        "f16",
        "w8_a8_selective",
    ]
    variants, metrics, latency, memory, ops, stats, traces = [], [], [], [], [], [], []
    t = np.datetime64("2014-01-01") + np.arange(N_TRACE) * np.timedelta64(8, "s")
    truth = np.where(rng.random(N_TRACE) < 0.02, 2500, 0).astype(np.float32)
    trace_path = art / "traces" / "big.parquet"
    pq.write_table(
        pa.table(
            {
                "time": t,
                "aggregate_w": truth + 300,
                "truth_w": truth,
                "pred_w": truth * 0.9,
                "truth_on": (truth > 0).astype(np.int8),
                "pred_on": (truth > 0).astype(np.int8),
            }
        ),
        trace_path,
        row_group_size=100_000,
    )
    i = 0
    while len(variants) < 200:
        for a in apps:
            for arch in ("cnn", "transformer"):
                for m in modes:
                    if len(variants) >= 200:
                        break
                    vid = f"{a}{i}.{arch}.{m}"
                    variants.append(
                        [
                            vid,
                            f"{a}{i}.{arch}",
                            a,
                            arch,
                            m,
                            "ok",
                            None,
                            "{}",
                            f"v/{vid}",
                            1_000_000,
                            "x",
                            1,
                            30,
                            0,
                            1.0,
                            0.0,
                            0.0,
                        ]
                    )
                    for k in ("f1", "mcc", "acc", "mae", "sae", "nde", "epd_error_pct"):
                        metrics.append([vid, "test", k, float(rng.random()), None])
                    if m != "keras":
                        latency.append(
                            [
                                vid,
                                "bench",
                                "litert",
                                1,
                                True,
                                1,
                                100,
                                1.0,
                                float(rng.random() * 10),
                                1.2,
                                0.1,
                                0.9,
                                None,
                                pd.Timestamp.now(),
                            ]
                        )
                        memory.append(
                            [vid, "bench", "litert", True, "peak", 50.0, float(rng.random() * 100)]
                        )
                        for n in range(100):
                            ops.append(
                                [
                                    vid,
                                    "bench",
                                    "litert",
                                    1,
                                    n,
                                    f"node{n}",
                                    f"OP{n % 12}",
                                    float(rng.random()),
                                    0.01,
                                    bool(n % 2),
                                    1,
                                    "isolated_op",
                                ]
                            )
                        for n in range(60):
                            stats.append(
                                [
                                    vid,
                                    n,
                                    f"OP{n % 12}",
                                    n,
                                    f"t{n}",
                                    100,
                                    0.1,
                                    0.0,
                                    0.2,
                                    0.01,
                                    0.01,
                                    0,
                                    2.55,
                                    float(rng.random()),
                                    30.0,
                                    False,
                                ]
                            )
                    traces.append([vid, a, "test", "traces/big.parquet", N_TRACE])
        i += 1
    models = {(v[1], v[2], v[3]) for v in variants}
    with db.write_store(path) as con:
        con.executemany(
            "INSERT INTO models VALUES (?,?,?,'demo',1000,'{}','soft_bce','default',1,1,1,0.1,1.0,'m','x',now())",
            [list(m) for m in models],
        )
        con.executemany(f"INSERT INTO variants VALUES ({','.join('?' * 17)})", variants)
        con.executemany("INSERT INTO metrics VALUES (?,?,?,?,?)", metrics)
        con.executemany(f"INSERT INTO latency VALUES ({','.join('?' * 14)})", latency)
        con.executemany("INSERT INTO memory VALUES (?,?,?,?,?,?,?)", memory)
        con.executemany(f"INSERT INTO op_profile VALUES ({','.join('?' * 12)})", ops)
        con.executemany(f"INSERT INTO quant_layer_stats VALUES ({','.join('?' * 16)})", stats)
        con.executemany("INSERT INTO traces VALUES (?,?,?,?,?)", traces)
    return variants[1][0]


def main() -> None:
    from dashboard import figures, queries

    RESULTS.mkdir(parents=True, exist_ok=True)
    store = RESULTS / "dashboard_bench.duckdb"
    for p in (store, RESULTS / "dashboard_bench.artifacts"):
        if p.exists():
            __import__("shutil").rmtree(p) if p.is_dir() else p.unlink()
    vid = build_store(store)
    paths = {vid: "traces/big.parquet"}
    t_all = pd.to_datetime(
        pq.read_table(RESULTS / "dashboard_bench.artifacts/traces/big.parquet", columns=["time"])
        .column(0)
        .to_numpy()
    )
    mid = t_all[len(t_all) // 2]
    cases = {
        "overview": lambda: queries.leaderboard(store),
        "tradeoff": lambda: figures.tradeoff(
            queries.tradeoff(store),
            "f1",
            "latency_ms",
            {"latency_ms": 5},
            queries.reference_points(store, "f1"),
        ),
        "variant": lambda: (
            figures.op_profile_by_type(queries.op_profile(store, vid)),
            figures.layer_error(queries.layer_stats(store, vid)),
            queries.metrics_vs_float(store, vid),
            figures.memory_phases(queries.memory(store, vid)),
        ),
        "traces_full": lambda: figures.trace(queries.trace_window(store, paths), [vid]),
        "traces_zoom_1day": lambda: figures.trace(
            queries.trace_window(store, paths, mid, mid + pd.Timedelta(days=1)), [vid]
        ),
        "quantization": lambda: (
            figures.layer_error_heatmap(queries.layer_error_summary(store)),
            figures.mode_deltas(queries.mode_deltas(store), "f1"),
        ),
        "sql": lambda: queries.run_user_sql(
            store, "SELECT appliance, avg(f1) FROM tradeoff GROUP BY 1"
        ),
    }
    out = {}
    for name, fn in cases.items():
        times = []
        fn()
        for _ in range(15):
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1000)
        out[name] = {
            "p50_ms": float(np.percentile(times, 50)),
            "p95_ms": float(np.percentile(times, 95)),
        }
        print(
            f"{name:18s} p50 {out[name]['p50_ms']:7.1f} ms   p95 {out[name]['p95_ms']:7.1f} ms   (target p95 < 300 ms: {out[name]['p95_ms'] / 300:.2f}x)"
        )
    save("dashboard", {"variants": 200, "trace_samples": N_TRACE, "callbacks": out})
    print(json.dumps({k: round(v["p95_ms"], 1) for k, v in out.items()}))


if __name__ == "__main__":
    main()
