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


def memory_bandwidth_gbs() -> float:
    a = np.ones(64 * 1024 * 1024 // 4, np.float32)  # 64 MiB, well past the caches
    b = np.empty_like(a)
    t = timeit(lambda: np.copyto(b, a), repeat=10)
    return 2 * a.nbytes / t / 1e9  # read + write


def float_gmacs() -> float:
    import threadpoolctl

    n = 1024
    a = np.random.rand(n, n).astype(np.float32)
    with threadpoolctl.threadpool_limits(1):
        t = timeit(lambda: a @ a, repeat=5)
    return n**3 / t / 1e9


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
    from pipeline.convert import export_saved_model, make_converter
    from pipeline.models import build_model
    from store.vocab import Mode

    model = build_model("cnn")
    macs, info = cnn_macs_and_weights(model)
    bw = memory_bandwidth_gbs()
    gmacs_f32 = float_gmacs()
    calib = np.random.default_rng(0).normal(0, 1, (32, 599)).astype(np.float32)
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        saved = export_saved_model(model, Path(tmp) / "saved")
        for mode, weight_bytes_per_param, gmacs in (
            (Mode.CONVERT_ONLY, 4, gmacs_f32),
            (Mode.W8_A8, 1, None),
        ):
            path = Path(tmp) / f"cnn_{mode}.tflite"
            path.write_bytes(make_converter(saved, mode, calib).convert())
            lat = child_latency(path, threads=1, seconds=2.0)["latency"]["median_ms"]
            if (
                gmacs is None
            ):  # int8 peak: an int8 FC that is compute-bound here, timed the same way
                gmacs = int8_gmacs(Path(tmp))
            t_mem = info["parameters"] * weight_bytes_per_param / (bw * 1e9) * 1e3
            t_mac = macs / (gmacs * 1e9) * 1e3
            limit = max(t_mem, t_mac)
            rows[mode.value] = {
                "latency_ms": lat,
                "limit_ms": limit,
                "memory_bound_ms": t_mem,
                "compute_bound_ms": t_mac,
                "peak_gmacs": gmacs,
                "ratio_measured_over_limit": lat / limit,
            }
    print(
        f"memory bandwidth {bw:.1f} GB/s, float32 peak {gmacs_f32:.1f} GMAC/s (1 thread), CNN {macs / 1e6:.1f} M MACs, {info['parameters']:,} params"
    )
    for mode, r in rows.items():
        print(
            f"  {mode:13s} measured {r['latency_ms']:.3f} ms  limit {r['limit_ms']:.3f} ms "
            f"(memory {r['memory_bound_ms']:.3f}, compute {r['compute_bound_ms']:.3f})  ratio {r['ratio_measured_over_limit']:.2f}x"
        )
    save(
        "inference_roofline",
        {"bandwidth_gbs": bw, "float32_gmacs": gmacs_f32, "cnn_macs": macs, **info, "modes": rows},
    )


def int8_gmacs(tmp: Path) -> float:
    import keras

    from pipeline.convert import make_converter
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

    d = tmp / "fc"
    with __import__("contextlib").redirect_stdout(__import__("io").StringIO()):
        m.export(
            str(d), format="tf_saved_model", input_signature=[tf.TensorSpec([64, n], tf.float32)]
        )
    calib = np.random.default_rng(1).normal(0, 1, (16, 64, n)).astype(np.float32)
    conv = make_converter(d, Mode.W8_A8, None)
    conv.representative_dataset = lambda: ([c] for c in calib)
    path = tmp / "fc_int8.tflite"
    path.write_bytes(conv.convert())
    ms = child_latency(path, threads=1, seconds=1.0)["latency"]["median_ms"]
    return 4 * 64 * n * n / (ms / 1e3) / 1e9


if __name__ == "__main__":
    main()
