"""2. Static-shape transformer vs a dynamic-batch conversion, and the per-mode kernel table.

Part A, same Keras model, same weights: our static batch-1 SavedModel export against
`from_keras_model` with a dynamic batch dimension (latency ratio and XNNPACK partitions).

Part B (issue 17), for both architectures at full size with one set of random weights: every
TFLite mode's latency (1 thread, LiteRT, each file in a fresh child process, all in this one
run), XNNPACK partitions, the builtin-op share of the isolated per-op profile (with the
builtin ops that make it up), RAM, disk and the ratio to the float file. `w8_a16` is left out
of the table: it runs reference int16 kernels (hundreds of ms) and its per-op profile alone
takes minutes.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from pathlib import Path

import numpy as np
from _common import child_latency, save

TABLE_MODES = (
    "convert_only",
    "f16",
    "w8",
    "w8_a8",
    "w8_a8_xnnpack",
    "w8_a8_selective",
    "w8_a8_mixed16",
)


def static_vs_dynamic(tmp: Path) -> dict:
    import tensorflow as tf

    from pipeline.convert.converters import export_saved_model, make_converter
    from pipeline.core.tflite_runtime import op_census, xnnpack_partitions
    from pipeline.train.models import build_model
    from store.vocab import Mode

    model = build_model("transformer")
    out = {}
    static = make_converter(export_saved_model(model, tmp / "s"), Mode.CONVERT_ONLY, None).convert()
    with contextlib.redirect_stdout(io.StringIO()):
        dynamic = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    for name, blob in (("static_batch1", static), ("dynamic_batch", dynamic)):
        path = tmp / f"{name}.tflite"
        path.write_bytes(blob)
        shape_ops = sum(
            1
            for c in op_census(blob)
            if c["op_type"] in {"SHAPE", "STRIDED_SLICE", "PACK", "GATHER", "REDUCE_PROD", "FILL"}
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
    return {"variants": out, "dynamic_over_static": ratio}


def mode_files(arch: str, tmp: Path, calibration, debug) -> dict[str, dict]:
    """Every table mode of one architecture, converted as the pipeline does."""
    import keras

    from pipeline.convert.converters import export_saved_model, make_converter, mixed16_model
    from pipeline.convert.quant_debug import run_debugger, suspects
    from pipeline.core.quiet import silenced
    from pipeline.train.models import build_model
    from store.vocab import Mode

    keras.utils.set_random_seed(17)
    model = build_model(arch)
    want = model.predict(debug, verbose=0).reshape(-1)
    saved = export_saved_model(model, tmp / f"{arch}_saved")
    files = {}
    with silenced():
        stats, w8a8 = run_debugger(saved, calibration, debug)
        deny = suspects(stats)
        blobs = {"w8_a8": w8a8}
        for mode in TABLE_MODES:
            try:
                if mode == "w8_a8_selective":
                    blobs[mode] = run_debugger(saved, calibration, debug, denylist=deny)[1]
                elif mode == "w8_a8_mixed16":
                    blobs[mode] = mixed16_model(saved, calibration, deny)
                elif mode not in blobs:
                    blobs[mode] = make_converter(saved, Mode(mode), calibration).convert()
            except Exception as exc:  # e.g. ai-edge-quantizer not installed
                files[mode] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
    for mode, blob in blobs.items():
        path = tmp / f"{arch}.{mode}.tflite"
        path.write_bytes(blob)
        files[mode] = {"path": path, "suspects": len(deny), "want": want}
    return files


def measure(files: dict[str, dict], debug) -> dict[str, dict]:
    from pipeline.core.tflite_runtime import run_tflite
    from pipeline.measure.op_profile import profile_ops

    rows = {}
    for mode in TABLE_MODES:
        f = files.get(mode, {"error": "not converted"})
        if "error" in f:
            rows[mode] = {"error": f["error"]}
            continue
        res = child_latency(f["path"], threads=1, seconds=1.5)
        ops, whole = profile_ops(f["path"], threads=1, runs=5)
        total = sum(r["latency_ms"] or 0 for r in ops)
        builtin: dict[str, float] = {}
        for r in ops:
            if r["xnnpack"] is False:
                builtin[r["op_type"]] = builtin.get(r["op_type"], 0.0) + (r["latency_ms"] or 0)
        got = run_tflite(f["path"], debug)
        phases = res.get("phases", {})
        rows[mode] = {
            "latency_ms": res["latency"]["median_ms"],
            "xnnpack_partitions": res.get("xnnpack_partitions"),
            "builtin_share": sum(builtin.values()) / total if total else None,
            "builtin_ops": {
                k: round(v / total, 3) for k, v in sorted(builtin.items(), key=lambda kv: -kv[1])
            },
            "per_op_sum_ms": total,
            "whole_ms_in_profile": whole,
            "ram_mb": phases.get("peak", np.nan) - phases.get("baseline", np.nan),
            "disk_mb": f["path"].stat().st_size / 1e6,
            "debug_max_abs_vs_keras": float(np.abs(got - f["want"]).max()),
            "debug_rmse_vs_keras": float(np.sqrt(np.mean((got - f["want"]) ** 2))),
            "suspects": f["suspects"],
        }
    base = rows.get("convert_only", {}).get("latency_ms")
    for r in rows.values():
        if "latency_ms" in r and base:
            r["ratio_to_float"] = r["latency_ms"] / base
    return rows


def print_table(arch: str, rows: dict[str, dict]) -> None:
    print(f"\n{arch}: 1 thread, LiteRT (ratios from this one run)")
    print(
        f"{'mode':16s} {'ms':>7s} {'x float':>8s} {'parts':>5s} {'builtin':>8s} "
        f"{'RAM MB':>7s} {'disk MB':>7s} {'rmse':>8s}  builtin ops (share of per-op sum)"
    )
    for mode, r in rows.items():
        if "error" in r:
            print(f"{mode:16s} {r['error']}")
            continue
        ops = ", ".join(f"{k} {v:.0%}" for k, v in list(r["builtin_ops"].items())[:5]) or "-"
        print(
            f"{mode:16s} {r['latency_ms']:7.2f} {r.get('ratio_to_float', np.nan):8.2f} "
            f"{r['xnnpack_partitions']!s:>5s} {r['builtin_share']:8.0%} {r['ram_mb']:7.1f} "
            f"{r['disk_mb']:7.2f} {r['debug_rmse_vs_keras']:8.4f}  {ops}"
        )


def main() -> None:
    from pipeline.core.quiet import quiet_tf
    from pipeline.settings.constants import WINDOW

    quiet_tf()
    rng = np.random.default_rng(0)
    calibration = rng.normal(0, 1, (48, WINDOW)).astype(np.float32)
    debug = rng.normal(0, 1, (16, WINDOW)).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        result = static_vs_dynamic(tmp)
        table = {}
        for arch in ("transformer", "cnn"):
            table[arch] = measure(mode_files(arch, tmp, calibration, debug), debug)
            print_table(arch, table[arch])
    result["per_mode"] = table
    result["per_mode_note"] = (
        "1 thread, LiteRT Interpreter with default XNNPACK; latency = median in a fresh child "
        "per file; builtin share = share of the isolated per-op profile on non-XNNPACK "
        "kernels; rmse = TFLite vs Keras on 16 random windows (random weights, so relative only)"
    )
    save("transformer_static", result)


if __name__ == "__main__":
    main()
