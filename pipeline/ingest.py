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
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.context import utcnow
from pipeline.errors import DataError
from pipeline.profile import Measurements
from store.db import StoreError

BUILTIN_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
TIMINGS = re.compile(r"Timings \(microseconds\):\s*(.*)")
MAX_LATENCY_MS = 3_600_000.0  # one hour per inference: anything above is a unit or parse error
MAX_COUNT = 1_000_000_000
MAX_THREADS = 1024


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


def _number(value, where: str, lo: float = 0.0, hi: float = MAX_LATENCY_MS) -> float:
    """A finite number in [lo, hi], or DataError naming the field."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise DataError(f"{where}: expected a number in {lo:g}..{hi:g}, got {_show(value)}")
    try:
        x = float(value)
    except (ValueError, OverflowError):
        raise DataError(
            f"{where}: expected a number in {lo:g}..{hi:g}, got {_show(value)}"
        ) from None
    if not math.isfinite(x) or not lo <= x <= hi:
        raise DataError(f"{where}: expected a number in {lo:g}..{hi:g}, got {_show(value)}")
    return x


def _count(value, where: str, lo: int = 0, hi: int = MAX_COUNT) -> int:
    """A whole number in [lo, hi] (JSON 3.0 is accepted as 3), or DataError naming the field."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise DataError(f"{where}: expected a whole number in {lo}..{hi}, got {_show(value)}")
    return value


def _text(value, where: str, optional: bool = False, limit: int = 500) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise DataError(
            f"{where}: expected a non-empty string of at most {limit} characters, got {_show(value)}"
        )
    return value


def _show(value) -> str:
    text = repr(value) if not isinstance(value, int) or abs(value) < 10**30 else "a huge integer"
    return text if len(text) <= 60 else text[:57] + "..."


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
                _count(_number(v, f"{where}, count", 1, MAX_COUNT), f"{where}, count", 1)
            )
        else:
            out[k] = _number(v, f"{where}, {k} (microseconds)", 0.0, MAX_LATENCY_MS * 1000)
    return out


def _op_row(rec: dict, index: int, where: str) -> dict:
    if "avg ms" not in rec:
        raise DataError(f"{where}: run-order row without an 'avg ms' cell")
    avg = _number(rec["avg ms"].rstrip("%"), f"{where}, avg ms")
    node_type = rec.get("node type", "")
    pct = rec.get("%", "").rstrip("%")
    called = rec.get("times called", "1") or "1"
    return {
        "node_index": index,
        "op_type": _text(node_type, f"{where}, node type"),
        "node_name": rec.get("name", "").strip("[]")[:500],
        "latency_ms": avg,
        "share": _number(pct, f"{where}, %", 0.0, 100.0) / 100 if pct else None,
        "xnnpack": not BUILTIN_NAME.match(node_type) or node_type == "DELEGATE",
        "times_called": _count(
            _number(called, f"{where}, times called", 0, MAX_COUNT), f"{where}, times called"
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


def check_variant(store: Path, path: Path, variant_id: str) -> None:
    from store import db

    known = db.query_df(
        store, "SELECT count(*) FROM variants WHERE variant_id = ?", [variant_id]
    ).iloc[0, 0]
    if not known:
        raise DataError(
            f'{path}: variant {variant_id!r} is not in the store (see `pipeline sql "SELECT variant_id FROM variants"`)'
        )


def store_benchmark(
    store: Path, res: BenchmarkResult, variant_id: str, host: str, threads: int
) -> None:
    """Replace this host's benchmark_model numbers for the variant, by column name."""
    import duckdb

    from store import db

    t = res.timings_us
    key = {"variant_id": variant_id, "host": host, "runtime": "benchmark_model", "threads": threads}
    latency = []
    if "avg" in t:
        avg_ms = t["avg"] / 1000
        latency.append(
            {
                **key,
                "xnnpack": True,
                "batch": 1,
                "runs": int(t.get("count", 0)),
                "mean_ms": avg_ms,
                # benchmark_model prints no median (only avg/min/max/std); the tradeoff view and
                # every page rank by median, so the average stands in for it, as the tool's own
                # summary does, unless the output names a median
                "median_ms": t["median"] / 1000 if "median" in t else avg_ms,
                "std_ms": t["std"] / 1000 if "std" in t else None,
                "min_ms": t["min"] / 1000 if "min" in t else None,
                "measured_at": utcnow(),
            }
        )
    ops = [
        {
            **key,
            **{
                k: o[k]
                for k in (
                    "node_index",
                    "node_name",
                    "op_type",
                    "latency_ms",
                    "share",
                    "xnnpack",
                    "times_called",
                )
            },
            "source": "benchmark_model",
        }
        for o in res.ops
    ]
    totals = []
    if res.ops and t.get("avg"):
        s = sum(o["latency_ms"] for o in res.ops)
        totals.append(
            {
                **key,
                "sum_ops_ms": s,
                "whole_model_ms": t["avg"] / 1000,
                "ratio": s / (t["avg"] / 1000),
            }
        )
    try:
        with db.write_store(store) as con:
            con.execute("DELETE FROM hosts WHERE host = ? AND source = 'benchmark_model'", [host])
            if not con.execute("SELECT 1 FROM hosts WHERE host = ?", [host]).fetchall():
                db.insert_records(con, "hosts", [{"host": host, "source": "benchmark_model"}])
            for table in ("latency", "op_profile", "op_profile_totals"):
                con.execute(
                    f"DELETE FROM {table} WHERE variant_id = ? AND host = ? AND runtime = 'benchmark_model' AND threads = ?",
                    [variant_id, host, threads],
                )
            db.insert_records(con, "latency", latency)
            db.insert_records(con, "op_profile", ops)
            db.insert_records(con, "op_profile_totals", totals)
    except duckdb.Error as exc:
        raise StoreError(
            f"{store}: cannot store the measurements ({str(exc).splitlines()[0]})"
        ) from exc


def ingest_benchmark(
    store: Path, path: Path, variant_id: str, host: str, threads: int
) -> tuple[int, float | None]:
    """Load, check and store one benchmark_model output (the CLI does the same in steps)."""
    res = load_benchmark(path)
    check_variant(store, path, variant_id)
    store_benchmark(store, res, variant_id, host, threads)
    t = res.timings_us
    return len(res.ops), (t["avg"] / 1000 if "avg" in t else None)


EDGE_KIT_FORMAT = "nilm-edge-kit-results/1"
MAX_JSON_BYTES = 200_000_000


@dataclass
class EdgeKitResults:
    path: Path
    host: str
    host_row: dict
    results: list[dict]  # checked: variant_id, sha256, threads, xnnpack, and latency or error


def _read_json(path: Path):
    try:
        if path.stat().st_size > MAX_JSON_BYTES:
            raise DataError(
                f"{path}: larger than {MAX_JSON_BYTES // 1_000_000} MB; expected an edge-kit results file"
            )
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a folder; expected an edge-kit results.json") from None
    except json.JSONDecodeError as exc:
        raise DataError(
            f"{path}: not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not UTF-8 text; expected an edge-kit results.json") from None
    except RecursionError:
        raise DataError(
            f"{path}: JSON nested too deeply; expected an edge-kit results file"
        ) from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise DataError(f"{path}: unreadable JSON value ({exc})") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None


def load_edge_kit(path: Path, host: str | None = None) -> EdgeKitResults:
    """Read and check an edge kit's results.json field by field (nothing touches the store)."""
    path = Path(path)
    data = _read_json(path)
    if not isinstance(data, dict):
        raise DataError(
            f"{path}: expected a JSON object with format, host and results, got {type(data).__name__ if data is not None else 'null'}"
        )
    if data.get("format") != EDGE_KIT_FORMAT:
        raise DataError(
            f"{path}: format: expected {EDGE_KIT_FORMAT!r} (an edge-kit results file), got {_show(data.get('format'))}"
        )
    facts = data.get("host") if data.get("host") is not None else {}
    if not isinstance(facts, dict):
        raise DataError(f"{path}: host: expected an object of host facts, got {_show(facts)}")
    host = host or facts.get("host")
    if not host:
        raise DataError(f"{path}: host.host: no host name in the file; pass --host NAME")
    _text(host, f"{path}: host.host", limit=200)
    host_row = {
        "host": host,
        "cpu_model": _text(facts.get("cpu_model"), f"{path}: host.cpu_model", optional=True),
        "cores": None
        if facts.get("cores") is None
        else _count(facts["cores"], f"{path}: host.cores", 1, 1_000_000),
        "machine": _text(facts.get("machine"), f"{path}: host.machine", optional=True),
        "runtime_versions": json.dumps(facts.get("runtime_versions") or {}),
        "source": "edge_kit",
    }
    results = data.get("results")
    if not isinstance(results, list):
        raise DataError(f"{path}: results: expected a list of measurements, got {_show(results)}")
    checked = [_kit_result(r, f"{path}: results[{i}]") for i, r in enumerate(results)]
    return EdgeKitResults(path, host, host_row, checked)


LATENCY_FIELDS = ("mean_ms", "median_ms", "p90_ms", "std_ms", "min_ms")


def _kit_result(r, where: str) -> dict:
    if not isinstance(r, dict):
        raise DataError(f"{where}: expected an object, got {_show(r)}")
    out = {
        "variant_id": _text(r.get("variant_id"), f"{where}.variant_id", limit=200),
        "sha256": _text(r.get("sha256"), f"{where}.sha256", limit=64),
        "threads": _count(r.get("threads"), f"{where}.threads", 1, MAX_THREADS),
        "xnnpack": r.get("xnnpack", True),
    }
    if not isinstance(out["xnnpack"], bool):
        raise DataError(f"{where}.xnnpack: expected true or false, got {_show(out['xnnpack'])}")
    if "error" in r:
        out["error"] = str(r["error"])[:2000]
        return out
    lat = r.get("latency")
    if not isinstance(lat, dict):
        raise DataError(
            f"{where}.latency: expected an object with runs and median_ms, got {_show(lat)}"
        )
    out["latency"] = {"runs": _count(lat.get("runs"), f"{where}.latency.runs")}
    for k in LATENCY_FIELDS:
        if k == "median_ms" or lat.get(k) is not None:
            out["latency"][k] = _number(lat.get(k), f"{where}.latency.{k}")
        else:
            out["latency"][k] = None
    phases = r.get("phases")
    if phases is not None:
        if not isinstance(phases, dict) or "baseline" not in phases:
            raise DataError(f"{where}.phases: expected an object of MiB per phase with a baseline")
        out["phases"] = {
            _text(k, f"{where}.phases", limit=40): _number(v, f"{where}.phases.{k}", 0.0, 1e7)
            for k, v in phases.items()
        }
    if r.get("throughput") is not None:
        tp = r["throughput"]
        if not isinstance(tp, dict):
            raise DataError(f"{where}.throughput: expected an object, got {_show(tp)}")
        out["throughput"] = {
            "interpreters": _count(
                tp.get("interpreters"), f"{where}.throughput.interpreters", 1, MAX_THREADS
            ),
            "windows_per_s": _number(
                tp.get("windows_per_s"), f"{where}.throughput.windows_per_s", 0.0, 1e9
            ),
        }
    if r.get("ops"):
        if not isinstance(r["ops"], list):
            raise DataError(f"{where}.ops: expected a list of per-op rows, got {_show(r['ops'])}")
        out["ops"] = [_kit_op(o, f"{where}.ops[{j}]") for j, o in enumerate(r["ops"])]
        whole = r.get("whole_model_ms")
        out["whole_model_ms"] = None if whole is None else _number(whole, f"{where}.whole_model_ms")
    return out


def _kit_op(o, where: str) -> dict:
    if not isinstance(o, dict):
        raise DataError(f"{where}: expected an object, got {_show(o)}")
    lat = o.get("latency_ms")
    share = o.get("share")
    xnn = o.get("xnnpack")
    if xnn is not None and not isinstance(xnn, bool):
        raise DataError(f"{where}.xnnpack: expected true, false or null, got {_show(xnn)}")
    return {
        "node_index": _count(o.get("node_index"), f"{where}.node_index", 0, MAX_COUNT),
        "node_name": _text(o.get("node_name"), f"{where}.node_name", optional=True, limit=100_000),
        "op_type": _text(o.get("op_type"), f"{where}.op_type", limit=200),
        "latency_ms": None if lat is None else _number(lat, f"{where}.latency_ms"),
        "share": None if share is None else _number(share, f"{where}.share", 0.0, 1.0),
        "xnnpack": xnn,
        "times_called": _count(o.get("times_called", 1), f"{where}.times_called"),
    }


def check_edge_kit_variants(store: Path, kit: EdgeKitResults) -> None:
    """Every result names a variant of this store, measured on the file the store holds."""
    from store import db

    known = dict(db.query_df(store, "SELECT variant_id, sha256 FROM variants").values)
    for i, r in enumerate(kit.results):
        vid = r["variant_id"]
        if vid not in known:
            raise DataError(f"{kit.path}: results[{i}].variant_id: {vid!r} is not in the store")
        if r["sha256"] != known[vid]:
            raise DataError(
                f"{kit.path}: results[{i}]: {vid} was measured on a file whose sha256 differs from the store's; re-export the kit"
            )


def store_edge_kit(store: Path, kit: EdgeKitResults) -> int:
    """Replace the device's measurements of the kit's variants; returns the latency rows."""
    import duckdb

    from store import db

    m = Measurements()
    for r in kit.results:
        vid, threads, xnn = r["variant_id"], r["threads"], r["xnnpack"]
        m.add_child_result(
            vid, kit.host, "litert", threads, xnn, r, memory="phases" in r, file_sha256=r["sha256"]
        )
        if r.get("ops"):
            m.add_ops(
                vid, kit.host, "litert", threads, r["ops"], r.get("whole_model_ms"), "edge_kit"
            )
    ids = sorted({row["variant_id"] for row in m.latency})
    try:
        with db.write_store(store) as con:
            m.write(con, kit.host_row, ids)
    except duckdb.Error as exc:
        raise StoreError(
            f"{store}: cannot store the measurements ({str(exc).splitlines()[0]})"
        ) from exc
    return len(m.latency)


def ingest_edge_kit(store: Path, path: Path, host: str | None = None) -> int:
    """Load, check and store an edge kit's results (the CLI does the same in steps)."""
    kit = load_edge_kit(path, host)
    check_edge_kit_variants(store, kit)
    return store_edge_kit(store, kit)
