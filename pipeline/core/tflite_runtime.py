"""Running and inspecting TFLite files: interpreters, batch-1 inference, op census, partitions."""

from __future__ import annotations

from pathlib import Path

import numpy as np

DATA_MOVEMENT_OPS = {
    "QUANTIZE",
    "DEQUANTIZE",
    "RESHAPE",
    "EXPAND_DIMS",
    "SQUEEZE",
    "TRANSPOSE",
    "CONCATENATION",
    "STRIDED_SLICE",
    "SLICE",
    "GATHER",
    "PACK",
    "UNPACK",
    "SHAPE",
    "DELEGATE",
}


def interpreter(
    model: bytes | Path,
    xnnpack: bool = True,
    threads: int = 1,
    preserve: bool = False,
    runtime: str = "litert",
):
    """A TFLite interpreter, allocated: LiteRT's by default, TensorFlow's with runtime="tf_lite"."""
    if runtime == "tf_lite":
        import tensorflow as tf

        Interpreter, OpResolverType = tf.lite.Interpreter, tf.lite.experimental.OpResolverType
    else:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

    kw = {"model_content": model} if isinstance(model, bytes) else {"model_path": str(model)}
    if not xnnpack:
        kw["experimental_op_resolver_type"] = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    # no redirect_stderr here: it swaps the process-wide sys.stderr and races between the
    # evaluation threads (the runtime's own log line is written to fd 2 anyway)
    it = Interpreter(num_threads=threads, experimental_preserve_all_tensors=preserve, **kw)
    it.allocate_tensors()
    return it


def op_census(model: bytes) -> list[dict]:
    """Every op with the dtypes of its inputs and outputs (before any delegate)."""
    it = interpreter(model, xnnpack=False)
    tensors = {t["index"]: t for t in it.get_tensor_details()}

    def dtypes(idx):
        return ",".join(np.dtype(tensors[i]["dtype"]).name for i in idx if i >= 0 and i in tensors)

    return [
        {
            "op_type": op["op_name"],
            "inputs": dtypes(op["inputs"]),
            "outputs": dtypes(op["outputs"]),
            "index": op["index"],
        }
        for op in it._get_ops_details()
    ]


def float_compute_ops(census: list[dict]) -> int:
    return sum(
        1 for op in census if op["op_type"] not in DATA_MOVEMENT_OPS and ("float" in op["outputs"])
    )


def xnnpack_partitions(model: bytes) -> int:
    it = interpreter(model, xnnpack=True)
    return sum(1 for op in it._get_ops_details() if op["op_name"] == "DELEGATE")


def run_tflite(
    model: bytes | Path, windows: np.ndarray, threads: int = 1, runtime: str = "litert"
) -> np.ndarray:
    """Batch-1 outputs of a TFLite model on (N, 599) float windows, handling int8 I/O."""
    it = interpreter(model, threads=threads, runtime=runtime)
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    res = np.empty(len(windows), np.float32)
    in_scale, in_zp = inp["quantization"]
    out_scale, out_zp = out["quantization"]
    for i, x in enumerate(windows):
        x = x[None, :]
        if inp["dtype"] == np.int8:
            x = np.clip(np.round(x / in_scale + in_zp), -128, 127).astype(np.int8)
        it.set_tensor(inp["index"], x.astype(inp["dtype"]))
        it.invoke()
        y = it.get_tensor(out["index"]).reshape(-1)[0]
        res[i] = (float(y) - out_zp) * out_scale if out["dtype"] == np.int8 else y
    return res
