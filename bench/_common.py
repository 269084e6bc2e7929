"""Shared helpers for the benchmarks: timing, results as JSON, the measuring child."""

from __future__ import annotations

import json
import os
import platform
import socket
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def free_port() -> int:
    """A loopback port nothing listens on now (for a server a benchmark starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def machine() -> dict:
    from pipeline.core.context import host_facts

    return {**host_facts(), "python": platform.python_version()}


def save(name: str, data: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(
        json.dumps(
            {
                "benchmark": name,
                "machine": machine(),
                "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                **data,
            },
            indent=1,
            default=float,
        )
    )
    print(f"-> {path.relative_to(ROOT)}")
    return path


def timeit(fn, repeat: int = 5, min_seconds: float = 0.2) -> float:
    """Median seconds of one call."""
    import numpy as np

    fn()
    times = []
    t_end = time.perf_counter() + min_seconds
    while len(times) < repeat or time.perf_counter() < t_end:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def child_latency(
    model: Path, threads: int = 1, xnnpack: bool = True, seconds: float = 1.0
) -> dict:
    from pipeline.measure.stage import measure_in_child
    from pipeline.settings.presets import profile_config

    cfg = profile_config("demo")
    object.__setattr__(cfg, "latency_min_seconds", seconds)
    return measure_in_child(model, "litert", threads, xnnpack, cfg)
