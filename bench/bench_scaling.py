"""The `refit` profile's plan on paper: items, CPU and GPU hours, wall time on 1, 4 and 16 nodes.

Nothing is trained or run: the plan of `pipeline all --profile refit --executor ray` (which
items, what each asks for) is built from the preset, each item is given a cost from measured
per-item figures, and the stages are scheduled the way the Ray executor runs them:

* train: one task per model, on a GPU where the nodes have one (else one CPU);
* convert: one task per model, one CPU;
* evaluate: per appliance (the stage is a barrier per appliance: its shards, then its scoring on
  the driver), every variant's windows cut into shards of at most 2 per CPU of the cluster and
  at least 256 windows, each a one-CPU task;
* profile: every model on every node, each task taking its whole node: its wall time does not
  shrink with more nodes (each node measures itself), its CPU hours grow.

Per-item costs: ``--store`` reads them from a store of full-size models (per-window latency of
each architecture x mode, LiteRT 1 thread; training throughput from ``models``; convert and
profile seconds per item from ``stage_timings``); without one, the figures measured on this
project's 2-vCPU development machine and written in the README (FIGURES below). What is not
measured is an assumption and is printed as one: REFIT's training windows per appliance, the GPU's
speed-up over a 2-vCPU CPU, and how conversion and profiling scale from the demo to the refit
settings. Wall times are list-scheduling makespans (longest item first), with no task overhead,
data movement or stragglers: a lower bound for a real cluster.
"""

from __future__ import annotations

import argparse
import heapq
import math
import sys
from collections import defaultdict
from pathlib import Path

from _common import ROOT, save

sys.path.insert(0, str(ROOT))

# per-item figures of the default (demo) run, measured on the development machine (README,
# "Performance"): seconds a window, batch 1, one thread
FIGURES = {
    "latency_ms": {
        # CNN float 1.38 ms, int8 0.22 ms (bench 1); its 16x8 file ~20x the others (sample.py)
        ("cnn", "float"): 1.38,
        ("cnn", "int8"): 0.22,
        ("cnn", "int16"): 4.0,
        # transformer static float 8.45 ms (bench 2), XNNPACK int8 ~4.5 ms, the other int8
        # files up to ~45 ms on builtin kernels (sample.py), 16x8 135 ms (the figure)
        ("transformer", "float"): 8.45,
        ("transformer", "int8"): 4.5,
        ("transformer", "int8_builtin"): 45.0,
        ("transformer", "int16"): 135.0,
    },
    # windows trained per second on the 2-vCPU CPU (bench 3): CNN 1.1k, transformer 43
    "train_windows_per_s": {"cnn": 1100.0, "transformer": 43.0},
    # demo run (bench 6): convert 159 s for 10 models on 2 workers; profile 266 s for 10 models
    "convert_cpu_s_per_model": 32.0,
    "profile_s_per_model": 26.6,
}
# assumptions (not measured by this project)
ASSUMED = {
    # REFIT's training windows per appliance and epoch: ~4 training houses x ~640 days of 8 s
    # samples (10,800 windows a day)
    "train_windows_per_epoch": 4 * 640 * 10_800,
    # one GPU trains this many times the windows per second of the 2-vCPU CPU
    "gpu_speedup": 100.0,
    # refit measures latency for 2 s (demo 0.2 s) and op profiles 20 runs (demo 3): ~10x
    "profile_scale": 10.0,
}
NODES = (1, 4, 16)


def kind_of(arch: str, mode: str) -> str:
    """The cost class of a variant's file (what its per-window latency is taken from)."""
    if mode in ("keras", "convert_only", "f16", "w8"):
        return "float"
    if mode in ("w8_a16", "w8_a8_mixed16"):
        return "int16"
    if arch == "transformer" and mode not in ("w8_a8_xnnpack", "qat_w8_a8_xnnpack"):
        return "int8_builtin"
    return "int8"


def from_store(store: Path, figures: dict) -> dict:
    """The figures, with those the store measured put in their place."""
    import duckdb

    con = duckdb.connect(str(store), read_only=True)
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in figures.items()}
    try:
        profiles = {r[0] for r in con.execute("SELECT DISTINCT profile FROM models").fetchall()}
        if "smoke" in profiles:
            print(f"note: {store} holds smoke models (1/16 width): not full-size costs")
        lat = con.execute(
            "SELECT v.arch, v.mode, median(l.median_ms) FROM latency l JOIN variants v "
            "USING (variant_id) WHERE l.runtime = 'litert' AND l.threads = 1 AND l.xnnpack "
            "AND l.batch = 1 AND l.median_ms IS NOT NULL GROUP BY ALL"
        ).fetchall()
        per_kind = defaultdict(list)
        for arch, mode, ms in lat:
            per_kind[(arch, kind_of(arch, mode))].append(ms)
        for k, v in per_kind.items():
            out["latency_ms"][k] = sorted(v)[len(v) // 2]
        for arch, wps in con.execute(
            "SELECT arch, sum(windows_seen) / sum(train_seconds) FROM models "
            "WHERE windows_seen > 0 GROUP BY arch"
        ).fetchall():
            out["train_windows_per_s"][arch] = float(wps)
        for stage, key in (
            ("convert", "convert_cpu_s_per_model"),
            ("profile", "profile_s_per_model"),
        ):
            row = con.execute(
                "SELECT avg(seconds) FROM stage_timings WHERE stage = ? AND NOT skipped "
                "AND item <> '*'",
                [stage],
            ).fetchone()
            if row and row[0]:
                out[key] = float(row[0])
    finally:
        con.close()
    return out


def refit_plan(figures: dict, cpus_per_node: int) -> dict[str, list]:
    """Per stage, the items of `pipeline all --profile refit`: (appliance, name, seconds,
    resource), seconds on one CPU (or one GPU for 'gpu')."""
    from pipeline.settings.presets import profile_config
    from store.vocab import Appliance, Arch

    cfg = profile_config("refit")
    modes = ["keras", *(m.value for m in cfg.modes)]
    plan: dict[str, list] = defaultdict(list)
    for a in Appliance:
        for arch in (x.value for x in Arch):
            windows = ASSUMED["train_windows_per_epoch"] * cfg.epochs[Arch(arch)]
            cpu_s = windows / figures["train_windows_per_s"][arch]
            plan["train"].append((a.value, f"{a.value}.{arch}", cpu_s, "gpu_or_cpu"))
            calib = cfg.calibration_windows * figures["latency_ms"][(arch, "float")] / 1e3
            n_calibrated = sum(kind_of(arch, m) != "float" for m in modes)
            convert_s = figures["convert_cpu_s_per_model"] + calib * n_calibrated
            plan["convert"].append((a.value, f"{a.value}.{arch}", convert_s, "cpu"))
            prof = figures["profile_s_per_model"] * ASSUMED["profile_scale"]
            plan["profile"].append((a.value, f"{a.value}.{arch}", prof, "node"))
            for mode in modes:
                ms = figures["latency_ms"][(arch, kind_of(arch, mode))]
                plan["evaluate"].append(
                    (a.value, f"{a.value}.{arch}.{mode}", cfg.eval_windows * ms / 1e3, "cpu")
                )
    return plan


def makespan(costs: list[float], slots: int) -> float:
    """Longest-first list scheduling of ``costs`` on ``slots`` identical workers."""
    if not costs:
        return 0.0
    heap = [0.0] * max(1, slots)
    for c in sorted(costs, reverse=True):
        heapq.heappush(heap, heapq.heappop(heap) + c)
    return max(heap)


def shards(seconds: float, windows: int, cpus: int) -> list[float]:
    n = max(1, min(math.ceil(windows / 256), 2 * cpus))
    return [seconds / n] * n


def simulate(plan: dict, nodes: int, cpus: int, gpus: int, eval_windows: int) -> dict:
    """Wall seconds per stage and CPU/GPU hours on ``nodes`` nodes of ``cpus`` CPUs and
    ``gpus`` GPUs."""
    speed = ASSUMED["gpu_speedup"] if gpus else 1.0
    train = [c / speed for _, _, c, _ in plan["train"]]
    wall = {"train": makespan(train, nodes * (gpus or cpus))}
    wall["convert"] = makespan([c for *_, c, _ in plan["convert"]], nodes * cpus)
    by_app = defaultdict(list)
    for app, _, c, _ in plan["evaluate"]:
        by_app[app] += shards(c, eval_windows, nodes * cpus)
    wall["evaluate"] = sum(makespan(v, nodes * cpus) for v in by_app.values())
    wall["profile"] = sum(c for *_, c, _ in plan["profile"])  # every node measures every model
    hours = {
        "gpu_h": sum(train) / 3600 if gpus else 0.0,
        "cpu_h": (
            (0 if gpus else sum(train))
            + sum(c for *_, c, _ in plan["convert"])
            + sum(c for *_, c, _ in plan["evaluate"])
            + wall["profile"] * nodes * cpus
        )
        / 3600,
    }
    return {"wall_s": wall, "total_wall_h": sum(wall.values()) / 3600, **hours}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", type=Path, help="read per-item costs from this store")
    ap.add_argument("--cpus-per-node", type=int, default=16)
    ap.add_argument("--gpus-per-node", type=int, default=1)
    args, _ = ap.parse_known_args()  # run_all.py passes its own arguments to every benchmark
    figures = from_store(args.store, FIGURES) if args.store else FIGURES
    from pipeline.settings.presets import profile_config

    eval_windows = profile_config("refit").eval_windows
    plan = refit_plan(figures, args.cpus_per_node)
    print(f"refit plan: per-item costs from {args.store or 'the README figures (demo run)'}")
    print("assumed (not measured): " + ", ".join(f"{k}={v:,}" for k, v in ASSUMED.items()))
    for stage, items in plan.items():
        cpu_h = sum(c for *_, c, _ in items) / 3600
        what = {
            "train": "h on one 2-vCPU machine",
            "profile": "h per node (each node measures every model, on all its CPUs)",
        }.get(stage, "h on one CPU")
        print(f"  {stage:9s} {len(items):4d} items, {cpu_h:10.1f} {what}")
    print("  (training on CPUs alone, at the 2-vCPU rate: out of reach; GPUs below)")
    rows = {}
    cpus, gpus = args.cpus_per_node, max(1, args.gpus_per_node)
    print(f"\nwall time (h) on nodes of {cpus} CPUs and {gpus} GPU(s):")
    print(f"{'nodes':>5} {'train':>8} {'convert':>8} {'evaluate':>8} {'profile':>8} ", end="")
    print(f"{'total':>8} {'CPU h':>7} {'GPU h':>7}")
    for n in NODES:
        r = simulate(plan, n, cpus, gpus, eval_windows)
        rows[f"{n}x{cpus}cpu{gpus}gpu"] = r
        w = {k: v / 3600 for k, v in r["wall_s"].items()}
        print(
            f"{n:5d} {w['train']:8.1f} {w['convert']:8.1f} {w['evaluate']:8.1f} "
            f"{w['profile']:8.1f} {r['total_wall_h']:8.1f} {r['cpu_h']:7.0f} {r['gpu_h']:7.1f}"
        )
    save(
        "bench_scaling",
        {"figures": {k: str(v) for k, v in figures.items()}, "assumed": ASSUMED, "runs": rows},
    )


if __name__ == "__main__":
    main()
