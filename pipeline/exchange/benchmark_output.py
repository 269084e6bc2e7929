"""The C++ `benchmark_model` tool's output: its op profile and latency, parsed and checked.

`benchmark_model --enable_op_profiling=true [--profiling_output_csv_file=F]` prints (or writes as
CSV) the tables "Run Order", "Top by Computation Time" and "Summary by node type" for the
initialisation and for the regular runs, then "Timings (microseconds): count= first= curr= min=
max= avg= std=". The regular-run "Run Order" table becomes the op profile; the timings line the
latency. Node types that are not TFLite builtin names (e.g. "Convolution (NHWC, F32) IGEMM") are
XNNPACK kernels.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.errors import DataError
from pipeline.exchange.ingest_fields import MAX_COUNT, MAX_LATENCY_MS, as_count, as_number, as_text

BUILTIN_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
TIMINGS = re.compile(r"Timings \(microseconds\):\s*(.*)")


@dataclass
class BenchmarkResult:
    ops: list[dict] = field(default_factory=list)
    timings_us: dict[str, float] = field(default_factory=dict)


def _cells(line: str) -> list[str]:
    if "\t" in line:
        return [c.strip() for c in line.strip().split("\t") if c.strip() != ""]
    return [c.strip() for c in next(csv.reader(io.StringIO(line)))]


def _norm_header(cells: list[str]) -> list[str]:
    return [re.sub(r"[\[\]]", "", c).strip().lower() for c in cells]


def parse_benchmark_output(text: str, source: str = "benchmark output") -> BenchmarkResult:
    """Parse benchmark_model's op-profiling output (plain text or its CSV file).

    Every number is checked: a latency must be finite and at most an hour, a count positive.
    """
    res = BenchmarkResult()
    section = None
    header: list[str] | None = None
    table = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip("\n")
        low = line.lower()
        if "profiling info for benchmark initialization" in low:
            section, header = "init", None
            continue
        if "operator-wise profiling info for regular benchmark runs" in low:
            section, header = "run", None
            continue
        m = TIMINGS.search(line)
        if m:
            res.timings_us.update(_timings(m.group(1), f"{source}: line {lineno}"))
            continue
        if "run order" in low:
            table, header = "run_order", None
            continue
        if "top by computation time" in low or "summary by node type" in low:
            table, header = "other", None
            continue
        if not line.strip() or line.strip().startswith("="):
            header = None if not line.strip() else header
            continue
        cells = _cells(line)
        normed = _norm_header(cells)
        if "node type" in normed and ("avg ms" in normed or "avg_ms" in normed):
            header = normed
            continue
        if header is None or table != "run_order" or section == "init":
            continue
        if len(cells) > len(header):  # names may contain commas: the extra cells belong to the name
            cells = cells[: len(header) - 1] + [",".join(cells[len(header) - 1 :])]
        rec = dict(zip(header, cells, strict=False))
        res.ops.append(_op_row(rec, len(res.ops), f"{source}: line {lineno}"))
    if not res.ops and not res.timings_us:
        raise DataError(
            f"{source}: no 'Run Order' table and no 'Timings (microseconds)' line found; "
            "expected benchmark_model output with --enable_op_profiling=true"
        )
    return res


def _timings(text: str, where: str) -> dict[str, float]:
    """count= first= curr= min= max= avg= std= (microseconds); count is a run count."""
    out = {}
    for k, v in re.findall(r"(\w+)=(\S+)", text):
        if k == "count":
            out[k] = float(
                as_count(as_number(v, f"{where}, count", 1, MAX_COUNT), f"{where}, count", 1)
            )
        else:
            out[k] = as_number(v, f"{where}, {k} (microseconds)", 0.0, MAX_LATENCY_MS * 1000)
    return out


def _op_row(rec: dict, index: int, where: str) -> dict:
    if "avg ms" not in rec:
        raise DataError(f"{where}: run-order row without an 'avg ms' cell")
    avg = as_number(rec["avg ms"].rstrip("%"), f"{where}, avg ms")
    node_type = rec.get("node type", "")
    pct = rec.get("%", "").rstrip("%")
    called = rec.get("times called", "1") or "1"
    return {
        "node_index": index,
        "op_type": as_text(node_type, f"{where}, node type"),
        "node_name": rec.get("name", "").strip("[]")[:500],
        "latency_ms": avg,
        "share": as_number(pct, f"{where}, %", 0.0, 100.0) / 100 if pct else None,
        "xnnpack": not BUILTIN_NAME.match(node_type) or node_type == "DELEGATE",
        "times_called": as_count(
            as_number(called, f"{where}, times called", 0, MAX_COUNT), f"{where}, times called"
        ),
    }


def load_benchmark(path: Path) -> BenchmarkResult:
    """Read and check a benchmark_model output file (nothing touches the store)."""
    path = Path(path)
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a folder; expected benchmark_model output") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None
    return parse_benchmark_output(text, str(path))
