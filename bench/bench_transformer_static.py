"""2. Static-shape transformer vs a dynamic-batch conversion of the same weights (the article's case).

Same Keras model, same weights: our static batch-1 SavedModel export against
`from_keras_model` with a dynamic batch dimension. Prints latency ratio and XNNPACK partitions.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from pathlib import Path

from _common import child_latency, save


def main() -> None:
    import tensorflow as tf

    from pipeline.convert import export_saved_model, make_converter, op_census, xnnpack_partitions
    from pipeline.models import build_model
    from store.vocab import Mode

    model = build_model("transformer")
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        static = make_converter(
            export_saved_model(model, Path(tmp) / "s"), Mode.CONVERT_ONLY, None
        ).convert()
        with contextlib.redirect_stdout(io.StringIO()):
            dynamic = tf.lite.TFLiteConverter.from_keras_model(model).convert()
        for name, blob in (("static_batch1", static), ("dynamic_batch", dynamic)):
            path = Path(tmp) / f"{name}.tflite"
            path.write_bytes(blob)
            shape_ops = sum(
                1
                for c in op_census(blob)
                if c["op_type"]
                in {"SHAPE", "STRIDED_SLICE", "PACK", "GATHER", "REDUCE_PROD", "FILL"}
            )
            lat = {
                th: child_latency(path, threads=th, seconds=1.5)["latency"]["median_ms"]
                for th in (1, 2)
            }
            out[name] = {
                "xnnpack_partitions": xnnpack_partitions(blob),
                "shape_ops": shape_ops,
                "latency_ms": lat,
                "bytes": len(blob),
            }
    for name, r in out.items():
        print(
            f"{name:14s} partitions {r['xnnpack_partitions']:3d}  shape ops {r['shape_ops']:3d}  "
            f"latency 1 thread {r['latency_ms'][1]:.2f} ms, 2 threads {r['latency_ms'][2]:.2f} ms"
        )
    ratio = {
        th: out["dynamic_batch"]["latency_ms"][th] / out["static_batch1"]["latency_ms"][th]
        for th in (1, 2)
    }
    print(f"dynamic / static latency: {ratio[1]:.2f}x (1 thread), {ratio[2]:.2f}x (2 threads)")
    save("transformer_static", {"variants": out, "dynamic_over_static": ratio})


if __name__ == "__main__":
    main()
