"""End-to-end sensitivity: which tensors break a quantized model, ranked by what keeping each
one alone in float recovers of the model's output error, and the set to protect.

Keeping a tensor in float means its producer *and its consumers* run in float: denylisting the
producer alone only moves the QUANTIZE after it, and the consumers read the tensor on the same
blown-up int8 grid (on the transformer's L2 pool that recovers nothing). Each trial
re-quantizes the debugger's calibrated model with that island denylisted (TFLite's
mlir_quantize, no new calibration: about a second per trial) and runs it on a few hundred
training windows against the float model's outputs.
"""

from __future__ import annotations

import contextlib
import io
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.convert.quant_debug import SENSITIVITY_COLUMNS, Inspection
from pipeline.core.tflite_runtime import run_tflite

# a tensor whose float copy recovers less than this share of the output error is not protected
MIN_RECOVERED_SHARE = 0.02


@dataclass
class Sensitivity:
    """The ranking (quant_sensitivity rows without variant_id), the protected tensors, the
    output RMSE of the int8 file and of the file with the protected tensors in float."""

    ranking: pd.DataFrame
    protected: list[str]
    rmse_quant: float
    rmse_protected: float
    seconds: float


def candidates(stats: pd.DataFrame, top_k: int) -> pd.DataFrame:
    """The range blow-ups, then the top_k other tensors by local error (rmse/scale)."""
    blown = stats[stats["range_blowup"]]
    rest = stats[~stats["range_blowup"]].sort_values("rmse_scale", ascending=False)
    picked = pd.concat([blown, rest.head(top_k)])
    return picked.drop_duplicates("tensor_name")


def requantized(debugger, denylist: list[str]) -> bytes:
    """The debugger's calibrated model quantized again with `denylist` kept in float."""
    opts = debugger._debug_options
    before = opts.denylisted_nodes
    opts.denylisted_nodes = list(denylist)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            return debugger.get_nondebug_quantized_model()
    finally:
        opts.denylisted_nodes = before


def output_errors(out: np.ndarray, reference: np.ndarray, on_level: float) -> tuple[float, float]:
    """(RMSE against the float model's output, share of on/off decisions it flips) where a
    decision is output >= on_level (the appliance's on threshold in output units)."""
    rmse = float(np.sqrt(np.mean((out - reference) ** 2)))
    flips = float(np.mean((out >= on_level) != (reference >= on_level)))
    return rmse, flips


def rank_tensors(
    found: Inspection,
    windows: np.ndarray,
    reference: np.ndarray,
    on_level: float,
    top_k: int = 5,
    recover_share: float = 0.9,
) -> Sensitivity:
    """Rank the candidate tensors by the output error left with each alone in float, then
    choose the protected set (see protect())."""
    t0 = time.perf_counter()
    base = output_errors(run_tflite(found.model, windows), reference, on_level)
    rows, islands = [], float_islands(found.model)
    for c in candidates(found.stats, top_k).itertuples():
        islands.setdefault(c.tensor_name, [c.tensor_name])
        blob = requantized(found.debugger, islands[c.tensor_name])
        kept = output_errors(run_tflite(blob, windows), reference, on_level)
        rows.append(_row(c, base, kept))
    ranking = pd.DataFrame(rows, columns=[c for c in SENSITIVITY_COLUMNS if c != "rank"])
    ranking = ranking.sort_values(
        ["output_rmse_kept_float", "range_blowup"], ascending=[True, False], kind="stable"
    ).reset_index(drop=True)
    ranking.insert(0, "rank", np.arange(1, len(ranking) + 1))

    def error_of(tensors):
        denylist = sorted({n for t in tensors for n in islands[t]})
        blob = requantized(found.debugger, denylist)
        return output_errors(run_tflite(blob, windows), reference, on_level)[0]

    chosen, rmse_protected = protect(ranking, base[0], error_of, top_k, recover_share)
    ranking["island"] = [", ".join(islands[t]) for t in ranking["tensor_name"]]
    denylist = sorted({n for t in chosen for n in islands[t]})
    return Sensitivity(ranking, denylist, base[0], rmse_protected, time.perf_counter() - t0)


def float_islands(model: bytes) -> dict[str, list[str]]:
    """For each tensor of the quantized file, the nodes to denylist so it never sits on its
    int8 grid: itself, the outputs of the ops that read it, and an ADD of a constant feeding
    its producer (`x + eps` before an rsqrt: on the int8 grid the epsilon vanishes, and
    rsqrt(0) = inf turns the island's `x * rsqrt(x + eps)` into NaN)."""
    from ai_edge_litert.tools import flatbuffer_utils as fu

    from pipeline.convert.converters import _op_names

    flat = fu.read_model_from_bytearray(bytearray(model))
    kinds = _op_names(flat)
    islands: dict[str, list[str]] = {}
    for sg in flat.subgraphs:

        def name(t, sg=sg) -> str:
            raw = sg.tensors[t].name
            return raw.decode() if isinstance(raw, bytes) else str(raw)

        def constant(t, sg=sg) -> bool:
            data = flat.buffers[sg.tensors[t].buffer].data
            return data is not None and len(data) > 0

        producer = {int(o): op for op in sg.operators for o in op.outputs}
        readers: dict[int, list[str]] = {}
        for op in sg.operators:
            for t in op.inputs:
                if t >= 0:
                    readers.setdefault(int(t), []).extend(name(o) for o in op.outputs)
        for op in sg.operators:
            eps_adds = [
                name(t)
                for t in op.inputs
                if (p := producer.get(int(t))) is not None
                and kinds[p.opcodeIndex] == "ADD"
                and any(i >= 0 and constant(i) for i in p.inputs)
            ]
            for o in op.outputs:
                nodes = [*eps_adds, name(o), *readers.get(int(o), [])]
                islands[name(o)] = list(dict.fromkeys(nodes))
    return islands


def _row(c, base: tuple[float, float], kept: tuple[float, float]) -> dict:
    recovered = (base[0] - kept[0]) / base[0] if base[0] > 0 else 0.0
    return {
        "tensor_name": c.tensor_name,
        "op_name": c.op_name,
        "layer_index": int(c.layer_index),
        "range": float(c.range),
        "scale": float(c.scale),
        "p99_over_scale": float(c.p99_over_scale),
        "zero_share": float(c.zero_share),
        "range_blowup": bool(c.range_blowup),
        "rmse_scale": float(c.rmse_scale),
        "output_rmse_quant": base[0],
        "output_rmse_kept_float": kept[0],
        "recovered_share": recovered,
        "flip_share_quant": base[1],
        "flip_share_kept_float": kept[1],
        "protected": False,
        "why": None,
    }


def protect(ranking: pd.DataFrame, rmse_quant: float, error_of, max_tensors: int, share: float):
    """Walk down the ranking, keeping a tensor in float while it lowers the output error, until
    the protected set recovers `share` of the int8 output error or `max_tensors` are chosen.
    Writes `protected` and `why` into the ranking; returns (tensors, output RMSE with them)."""
    target = rmse_quant * (1.0 - share)
    chosen: list[str] = []
    current = rmse_quant
    for i, r in ranking.iterrows():
        if current <= target or len(chosen) >= max_tensors:
            why = "not needed: the protected tensors already recover enough"
        elif r["recovered_share"] < MIN_RECOVERED_SHARE:
            why = f"kept float alone it recovers {r['recovered_share']:.1%} of the output error"
        else:
            # alone, its error is the one measured for the ranking: no new trial
            trial = error_of([*chosen, r["tensor_name"]]) if chosen else r["output_rmse_kept_float"]
            if trial < current:
                why = f"protected: output RMSE with the set {current:.4g} -> {trial:.4g}"
                chosen.append(r["tensor_name"])
                current = trial
            else:
                why = f"not protected: adding it leaves the output RMSE at {trial:.4g}"
        ranking.loc[i, "why"] = why
    ranking["protected"] = ranking["tensor_name"].isin(chosen)
    return chosen, current


def sensitivity_records(variant_id: str, ranking: pd.DataFrame) -> list[dict]:
    """quant_sensitivity rows of one variant, by column name (non-finite numbers as NULL)."""
    frame = ranking.reindex(columns=SENSITIVITY_COLUMNS).assign(variant_id=variant_id)
    frame = frame[["variant_id", *SENSITIVITY_COLUMNS]].replace([np.inf, -np.inf], np.nan)
    frame = frame.astype(object).where(pd.notna(frame), None)
    return frame.to_dict("records")
