"""Measurements made elsewhere: the C++ `benchmark_model` tool's output and edge-kit results.

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
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.context import utcnow
from pipeline.errors import DataError
from pipeline.profile import Measurements

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
    """Parse benchmark_model's op-profiling output (plain text or its CSV file)."""
    res = BenchmarkResult()
    section = None
    header: list[str] | None = None
    table = None
    for raw in text.splitlines():
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
            for k, v in re.findall(r"(\w+)=([-\d.eE+]+)", m.group(1)):
                res.timings_us[k] = float(v)
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
        try:
            avg = float(rec["avg ms"].rstrip("%"))
        except (KeyError, ValueError) as exc:
            raise DataError(
                f"{source}: run-order row without a numeric 'avg ms': {line.strip()!r}"
            ) from exc
        node_type = rec.get("node type", "")
        pct = rec.get("%", "")
        res.ops.append(
            {
                "node_index": len(res.ops),
                "op_type": node_type,
                "node_name": rec.get("name", "").strip("[]"),
                "latency_ms": avg,
                "share": float(pct.rstrip("%")) / 100 if pct.rstrip("%") else None,
                "xnnpack": not BUILTIN_NAME.match(node_type) or node_type == "DELEGATE",
                "times_called": int(float(rec.get("times called", "1") or 1)),
            }
        )
    if not res.ops and not res.timings_us:
        raise DataError(
            f"{source}: no 'Run Order' table and no 'Timings (microseconds)' line found; "
            "expected benchmark_model output with --enable_op_profiling=true"
        )
    return res


def ingest_benchmark(
    store: Path, path: Path, variant_id: str, host: str, threads: int
) -> tuple[int, float | None]:
    from store import db

    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found")
    res = parse_benchmark_output(path.read_text(errors="replace"), str(path))
    known = db.query_df(
        store, "SELECT count(*) FROM variants WHERE variant_id = ?", [variant_id]
    ).iloc[0, 0]
    if not known:
        raise DataError(
            f'{path}: variant {variant_id!r} is not in the store (see `pipeline sql "SELECT variant_id FROM variants"`)'
        )
    t = res.timings_us
    now = utcnow()
    with db.write_store(store) as con:
        con.execute(
            "INSERT OR REPLACE INTO hosts VALUES (?, NULL, NULL, NULL, NULL, 'benchmark_model')",
            [host],
        )
        con.execute(
            "DELETE FROM latency WHERE variant_id = ? AND host = ? AND runtime = 'benchmark_model' AND threads = ?",
            [variant_id, host, threads],
        )
        if t:
            con.execute(
                "INSERT INTO latency VALUES (?,?,'benchmark_model',?,true,1,?,?,NULL,NULL,?,?,NULL,?)",
                [
                    variant_id,
                    host,
                    threads,
                    int(t.get("count", 0)),
                    t.get("avg", 0) / 1000,
                    t.get("std", 0) / 1000 if "std" in t else None,
                    t.get("min", 0) / 1000 if "min" in t else None,
                    now,
                ],
            )
        con.execute(
            "DELETE FROM op_profile WHERE variant_id = ? AND host = ? AND runtime = 'benchmark_model' AND threads = ?",
            [variant_id, host, threads],
        )
        con.executemany(
            "INSERT INTO op_profile VALUES (?,?,'benchmark_model',?,?,?,?,?,?,?,?,'benchmark_model')",
            [
                [
                    variant_id,
                    host,
                    threads,
                    o["node_index"],
                    o["node_name"],
                    o["op_type"],
                    o["latency_ms"],
                    o["share"],
                    o["xnnpack"],
                    o["times_called"],
                ]
                for o in res.ops
            ],
        )
        if res.ops and t.get("avg"):
            s = sum(o["latency_ms"] for o in res.ops)
            con.execute(
                "INSERT OR REPLACE INTO op_profile_totals VALUES (?,?,'benchmark_model',?,?,?,?,NULL)",
                [variant_id, host, threads, s, t["avg"] / 1000, s / (t["avg"] / 1000)],
            )
    return len(res.ops), (t["avg"] / 1000 if "avg" in t else None)


EDGE_KIT_FORMAT = "nilm-edge-kit-results/1"


def ingest_edge_kit(store: Path, path: Path, host: str | None = None) -> int:
    from store import db

    path = Path(path)
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError as exc:
        raise DataError(f"{path}: file not found") from exc
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not JSON ({exc})") from exc
    if data.get("format") != EDGE_KIT_FORMAT:
        raise DataError(
            f"{path}: expected an edge-kit results file (format {EDGE_KIT_FORMAT!r}), got {data.get('format')!r}"
        )
    facts = data.get("host") or {}
    host = host or facts.get("host")
    if not host:
        raise DataError(f"{path}: no host name in the file; pass --host NAME")
    known = dict(db.query_df(store, "SELECT variant_id, sha256 FROM variants").values)
    m = Measurements()
    for r in data.get("results", []):
        vid = r.get("variant_id")
        if vid not in known:
            raise DataError(f"{path}: variant {vid!r} is not in the store")
        if r.get("sha256") != known[vid]:
            raise DataError(
                f"{path}: {vid} was measured on a file whose sha256 differs from the store's; re-export the kit"
            )
        threads, xnn = int(r["threads"]), bool(r.get("xnnpack", True))
        m.add_child_result(vid, host, "litert", threads, xnn, r, file_sha256=known[vid])
        if r.get("ops"):
            m.add_ops(vid, host, "litert", threads, r["ops"], r.get("whole_model_ms"), "edge_kit")
    host_row = {
        "host": host,
        "cpu_model": facts.get("cpu_model"),
        "cores": facts.get("cores"),
        "machine": facts.get("machine"),
        "runtime_versions": json.dumps(facts.get("runtime_versions", {})),
        "source": "edge_kit",
    }
    ids = sorted({row["variant_id"] for row in m.latency})
    with db.write_store(store) as con:
        m.write(con, host_row, ids)
    return len(m.latency)
