"""1. Inference against this machine's limits: full-size CNN, float and int8, batch 1, 1 thread.

Limit = max(weight bytes / measured memory bandwidth, MACs / measured peak MAC rate), both
measured here in the same run (NumPy copy for bandwidth; NumPy float32 GEMM and a TFLite int8
fully-connected model for the MAC rates). Prints measured / limit (1.0 = at the roofline).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from _common import child_latency, save, timeit


def memory_bandwidth_gbs(nbytes: int = 256 * 1024 * 1024) -> float:
    """Copy bandwidth for a buffer of nbytes (256 MiB: main memory; the model's own weight size:
    what a warm cache gives a model that size)."""
    a = np.ones(nbytes // 4, np.float32)
    b = np.empty_like(a)
    t = timeit(lambda: np.copyto(b, a), repeat=10)
    return 2 * a.nbytes / t / 1e9  # read + write


def cnn_macs_and_weights(model) -> tuple[float, dict]:
    macs = 0
    for layer in model.layers:
        w = layer.get_weights()
        if not w:
            continue
        kernel = w[0]
        out_shape = layer.output.shape
        if kernel.ndim == 3:  # Conv1D: (k, in, out) per output step
            macs += int(np.prod(kernel.shape)) * out_shape[1]
        elif kernel.ndim == 2:
            macs += int(np.prod(kernel.shape))
    return macs, {"parameters": model.count_params()}


def main() -> None:
    from pipeline.convert.converters import export_saved_model, make_converter
    from pipeline.train.models import build_model
    from store.vocab import Mode

    model = build_model("cnn")
    macs, info = cnn_macs_and_weights(model)
    bw = memory_bandwidth_gbs()
    calib = np.random.default_rng(0).normal(0, 1, (32, 599)).astype(np.float32)
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        saved = export_saved_model(model, Path(tmp) / "saved")
        for mode, weight_bytes in ((Mode.CONVERT_ONLY, 4), (Mode.W8_A8, 1)):
            gmacs = fc_gmacs(Path(tmp), mode)
            path = Path(tmp) / f"cnn_{mode}.tflite"
            path.write_bytes(make_converter(saved, mode, calib).convert())
            lat = child_latency(path, threads=1, seconds=2.0)["latency"]["median_ms"]
            wbytes = info["parameters"] * weight_bytes
            bw_ws = memory_bandwidth_gbs(wbytes)
            t_mem = wbytes / (bw * 1e9) * 1e3
            t_mem_ws = wbytes / (bw_ws * 1e9) * 1e3
            t_mac = macs / (gmacs * 1e9) * 1e3
            limit = max(t_mem, t_mac)
            rows[mode.value] = {
                "latency_ms": lat,
                "limit_ms": limit,
                "memory_bound_ms": t_mem,
                "compute_bound_ms": t_mac,
                "peak_gmacs": gmacs,
                "ratio_measured_over_limit": lat / limit,
                "bandwidth_at_weight_size_gbs": bw_ws,
                "limit_warm_cache_ms": max(t_mem_ws, t_mac),
                "ratio_over_warm_cache_limit": lat / max(t_mem_ws, t_mac),
            }
    print(
        f"main-memory copy bandwidth {bw:.1f} GB/s; peak MAC rate (1 thread, compute-bound TFLite FC): "
        f"float32 {rows['convert_only']['peak_gmacs']:.1f}, int8 {rows['w8_a8']['peak_gmacs']:.1f} GMAC/s; "
        f"CNN {macs / 1e6:.1f} M MACs, {info['parameters']:,} params"
    )
    for mode, r in rows.items():
        print(
            f"  {mode:13s} measured {r['latency_ms']:.3f} ms  limit {r['limit_ms']:.3f} ms "
            f"(memory {r['memory_bound_ms']:.3f}, compute {r['compute_bound_ms']:.3f})  "
            f"ratio {r['ratio_measured_over_limit']:.2f}x;\n{'':16s}against the copy bandwidth of a buffer the size "
            f"of its weights ({r['bandwidth_at_weight_size_gbs']:.1f} GB/s, cache-warm): "
            f"limit {r['limit_warm_cache_ms']:.3f} ms, ratio {r['ratio_over_warm_cache_limit']:.2f}x"
        )
    save("inference_roofline", {"bandwidth_gbs": bw, "cnn_macs": macs, **info, "modes": rows})


def fc_gmacs(tmp: Path, mode) -> float:
    """Peak MAC rate of this runtime: a batch-64 stack of 512x512 fully-connected layers, which
    reuses its weights 64 times and so is compute-bound, converted in the given mode."""
    import keras

    from pipeline.convert.converters import make_converter
    from store.vocab import Mode

    n = 512
    m = keras.Sequential(
        [
            keras.Input((n,)),
            keras.layers.Reshape((1, n)),
            keras.layers.Dense(n),
            keras.layers.Dense(n),
            keras.layers.Dense(n),
            keras.layers.Dense(n),
            keras.layers.Reshape((n,)),
        ]
    )
    import tensorflow as tf

    d = tmp / f"fc_{mode}"
    with __import__("contextlib").redirect_stdout(__import__("io").StringIO()):
        m.export(
            str(d), format="tf_saved_model", input_signature=[tf.TensorSpec([64, n], tf.float32)]
        )
    calib = np.random.default_rng(1).normal(0, 1, (16, 64, n)).astype(np.float32)
    conv = make_converter(d, mode, None if mode is Mode.CONVERT_ONLY else calib[:1])
    if mode is not Mode.CONVERT_ONLY:
        conv.representative_dataset = lambda: ([c] for c in calib)
    path = tmp / f"fc_{mode}.tflite"
    path.write_bytes(conv.convert())
    ms = child_latency(path, threads=1, seconds=1.0)["latency"]["median_ms"]
    return 4 * 64 * n * n / (ms / 1e3) / 1e9


if __name__ == "__main__":
    main()
