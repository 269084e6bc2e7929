"""Isolated per-op latency without the C++ benchmark tool.

Every operator of a TFLite model is cut into a model of its own (same tensors, quantization and
weights; its non-constant inputs become the subgraph inputs), fed the real intermediate values
of a full run, and timed. Each single-op model goes through the same XNNPACK-or-builtin decision
as in the full model, so the profile also tells which ops XNNPACK takes. Cross-op effects (cache
reuse, one big delegate partition) are lost: the sum is stored beside the whole-model time.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path

import numpy as np


def _interp(content: bytes, threads: int, xnnpack: bool = True, preserve: bool = False):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    kw = {}
    if not xnnpack:
        kw["experimental_op_resolver_type"] = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    it = Interpreter(
        model_content=content,
        num_threads=threads,
        experimental_preserve_all_tensors=preserve,
        **kw,
    )
    it.allocate_tensors()
    return it


def _median_ms(it, runs: int) -> float:
    it.invoke()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        it.invoke()
        times.append((time.perf_counter() - t0) * 1000)
    return float(np.median(times))


def single_op_models(content: bytes):
    """Yield (op index, op type, output tensor name, single-op model bytes, input tensor indices)."""
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils as fu

    model = fu.read_model_from_bytearray(bytearray(content))
    sg = model.subgraphs[0]
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    for i, op in enumerate(sg.operators):
        used = {t for t in list(op.inputs) + list(op.outputs) if t >= 0}
        if op.intermediates is not None:
            used |= {t for t in op.intermediates if t >= 0}
        buffers = [schema.BufferT()] * len(model.buffers)
        tensors = []
        for ti, t in enumerate(sg.tensors):
            t2 = copy.copy(t)
            if ti in used:
                buffers[t.buffer] = model.buffers[t.buffer]
            else:
                t2.buffer = 0
            tensors.append(t2)
        buffers[0] = schema.BufferT()
        sub = copy.copy(sg)
        sub.tensors = tensors
        sub.operators = [op]
        consts = {
            t
            for t in used
            if model.buffers[sg.tensors[t].buffer].data is not None
            and len(model.buffers[sg.tensors[t].buffer].data) > 0
        }
        sub.inputs = [t for t in op.inputs if t >= 0 and t not in consts]
        sub.outputs = [t for t in op.outputs if t >= 0]
        single = copy.copy(model)
        single.subgraphs = [sub]
        single.buffers = buffers
        single.signatureDefs = []
        code = model.operatorCodes[op.opcodeIndex]
        op_code = max(code.builtinCode, code.deprecatedBuiltinCode)
        out_name = sg.tensors[sub.outputs[0]].name if sub.outputs else b""
        out_name = out_name.decode() if isinstance(out_name, bytes) else str(out_name)
        yield (
            i,
            names.get(op_code, str(op_code)),
            out_name,
            bytes(fu.convert_object_to_bytearray(single)),
            sub.inputs,
        )


def profile_ops(path: Path, threads: int = 1, runs: int = 5) -> tuple[list[dict], float]:
    """Per-op rows and the whole-model median (ms) measured in the same process."""
    content = Path(path).read_bytes()
    full = _interp(content, threads, xnnpack=False, preserve=True)
    inp = full.get_input_details()[0]
    x = np.random.default_rng(0).normal(0, 1, inp["shape"]).astype(np.float32)
    if inp["dtype"] != np.float32:
        x = np.clip(np.round(x / (inp["quantization"][0] or 1)), -128, 127).astype(inp["dtype"])
    full.set_tensor(inp["index"], x)
    full.invoke()
    whole = _median_ms(_set_input(_interp(content, threads), inp["index"], x), max(runs, 5))
    rows = []
    for index, op_type, name, blob, inputs in single_op_models(content):
        try:
            it = _interp(blob, threads)
            for t in inputs:
                it.set_tensor(t, full.get_tensor(t))
            delegated = any(op["op_name"] == "DELEGATE" for op in it._get_ops_details())
            ms = _median_ms(it, runs)
        except Exception:  # an op that cannot run alone is reported without a time
            delegated, ms = None, None
        rows.append(
            {
                "node_index": index,
                "op_type": op_type,
                "node_name": name,
                "latency_ms": ms,
                "xnnpack": delegated,
                "times_called": 1,
            }
        )
    total = sum(r["latency_ms"] or 0 for r in rows)
    for r in rows:
        r["share"] = (r["latency_ms"] or 0) / total if total else None
    return rows, whole


def _set_input(it, index, x):
    it.set_tensor(index, x)
    return it
