"""Measure one TFLite model in a fresh process: latency, RSS by phase, XNNPACK partitions.

Self-contained on purpose (standard library + numpy + the chosen runtime): `pipeline profile`
runs it as a child process so no TensorFlow import pollutes the memory figures, and the edge kit
ships it unchanged to devices. Usage: python measure_child.py '<json request>'; prints JSON.
"""

from __future__ import annotations

import json
import os
import sys
import time


def rss_mb(field: str = "VmRSS") -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def load_runtime(runtime: str):
    if runtime == "tf_lite":
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        import warnings

        warnings.filterwarnings("ignore")
        import tensorflow as tf

        return tf.lite.Interpreter, None
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    return Interpreter, OpResolverType


def measure(req: dict) -> dict:
    import numpy as np

    Interpreter, OpResolverType = load_runtime(req.get("runtime", "litert"))
    out: dict = {"phases": {}}
    base = rss_mb()
    out["phases"]["baseline"] = base
    kw = {"model_path": req["model"], "num_threads": int(req.get("threads", 1))}
    if not req.get("xnnpack", True):
        if OpResolverType is not None:
            kw["experimental_op_resolver_type"] = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        else:
            import tensorflow as tf

            kw["experimental_op_resolver_type"] = (
                tf.lite.experimental.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
            )
    it = Interpreter(**kw)
    out["phases"]["create"] = rss_mb()
    it.allocate_tensors()
    out["phases"]["allocate"] = rss_mb()
    out["xnnpack_partitions"] = sum(
        1 for op in it._get_ops_details() if op["op_name"] == "DELEGATE"
    )
    inp = it.get_input_details()[0]
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, inp["shape"]).astype(np.float32)
    if inp["dtype"] != np.float32:
        x = np.clip(np.round(x / (inp["quantization"][0] or 1)), -128, 127).astype(inp["dtype"])
    it.set_tensor(inp["index"], x)
    t0 = time.perf_counter()
    it.invoke()
    out["first_invoke_ms"] = (time.perf_counter() - t0) * 1000
    out["phases"]["first_invoke"] = rss_mb()
    times = time_runs(it, req)
    out["phases"]["steady"] = rss_mb()
    out["phases"]["peak"] = rss_mb("VmHWM")  # before any extra interpreter below
    out["latency"] = latency_stats(np.sort(np.array(times)))
    # more thread counts in the same process (used for runtimes whose import is costly)
    out["more_threads"] = {}
    for n in req.get("more_threads", []):
        it_n = Interpreter(**{**kw, "num_threads": int(n)})
        it_n.allocate_tensors()
        it_n.set_tensor(inp["index"], x)
        out["more_threads"][str(n)] = latency_stats(np.sort(np.array(time_runs(it_n, req))))
    parallel = int(req.get("parallel", 0))
    if parallel > 1:  # offline throughput: one single-threaded interpreter per core, side by side
        out["throughput"] = parallel_throughput(
            Interpreter, kw, x, parallel, float(req.get("min_seconds", 0.5))
        )
    return out


def time_runs(it, req: dict) -> list[float]:
    """Warm up, then time invokes until both the minimum run count and duration are reached."""
    for _ in range(int(req.get("warmup", 3))):
        it.invoke()
    times = []
    deadline = time.perf_counter() + float(req.get("min_seconds", 0.5))
    while len(times) < int(req.get("min_runs", 10)) or time.perf_counter() < deadline:
        t0 = time.perf_counter()
        it.invoke()
        times.append((time.perf_counter() - t0) * 1000)
        if len(times) >= int(req.get("max_runs", 100000)):
            break
    return times


def latency_stats(t) -> dict:
    import numpy as np

    return {
        "runs": len(t),
        "mean_ms": float(t.mean()),
        "median_ms": float(np.median(t)),
        "p90_ms": float(np.percentile(t, 90)),
        "std_ms": float(t.std()),
        "min_ms": float(t[0]),
    }


def parallel_throughput(Interpreter, kw: dict, x, n: int, seconds: float) -> dict:
    import threading

    kw = {**kw, "num_threads": 1}
    its = []
    for _ in range(n):
        it = Interpreter(**kw)
        it.allocate_tensors()
        it.set_tensor(it.get_input_details()[0]["index"], x)
        it.invoke()
        its.append(it)
    counts = [0] * n
    stop = time.perf_counter() + seconds

    def loop(i):
        while time.perf_counter() < stop:
            its[i].invoke()  # invoke releases the GIL
            counts[i] += 1

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(n)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"interpreters": n, "windows_per_s": sum(counts) / (time.perf_counter() - t0)}


def main() -> None:
    req = json.loads(sys.argv[1])
    try:
        res = measure(req)
    except Exception as exc:  # report the runtime's refusal as data, not a crash
        res = {"error": f"{type(exc).__name__}: {exc}"}
    sys.stdout.write("\n@@RESULT@@" + json.dumps(res) + "\n")


if __name__ == "__main__":
    main()
