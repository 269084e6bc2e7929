"""An edge kit's results.json (`pipeline export-edge-kit` writes the kit; the device runs it),
read and checked field by field."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import DataError
from pipeline.exchange.ingest_fields import (
    MAX_COUNT,
    MAX_THREADS,
    as_count,
    as_host,
    as_number,
    as_text,
    show,
)

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
            f"{path}: format: expected {EDGE_KIT_FORMAT!r} (an edge-kit results file), got {show(data.get('format'))}"
        )
    facts = data.get("host") if data.get("host") is not None else {}
    if not isinstance(facts, dict):
        raise DataError(f"{path}: host: expected an object of host facts, got {show(facts)}")
    where = f"{path}: --host" if host else f"{path}: host.host"
    host = host or facts.get("host")
    if not host:
        raise DataError(f"{path}: host.host: no host name in the file; pass --host NAME")
    as_host(host, where)
    host_row = {
        "host": host,
        "cpu_model": as_text(facts.get("cpu_model"), f"{path}: host.cpu_model", optional=True),
        "cores": None
        if facts.get("cores") is None
        else as_count(facts["cores"], f"{path}: host.cores", 1, 1_000_000),
        "machine": as_text(facts.get("machine"), f"{path}: host.machine", optional=True),
        "runtime_versions": json.dumps(facts.get("runtime_versions") or {}),
        "source": "edge_kit",
    }
    results = data.get("results")
    if not isinstance(results, list):
        raise DataError(f"{path}: results: expected a list of measurements, got {show(results)}")
    checked = [_kit_result(r, f"{path}: results[{i}]") for i, r in enumerate(results)]
    return EdgeKitResults(path, host, host_row, checked)


LATENCY_FIELDS = ("mean_ms", "median_ms", "p90_ms", "std_ms", "min_ms")


def _kit_result(r, where: str) -> dict:
    if not isinstance(r, dict):
        raise DataError(f"{where}: expected an object, got {show(r)}")
    out = {
        "variant_id": as_text(r.get("variant_id"), f"{where}.variant_id", limit=200),
        "sha256": as_text(r.get("sha256"), f"{where}.sha256", limit=64),
        "threads": as_count(r.get("threads"), f"{where}.threads", 1, MAX_THREADS),
        "xnnpack": r.get("xnnpack", True),
    }
    if not isinstance(out["xnnpack"], bool):
        raise DataError(f"{where}.xnnpack: expected true or false, got {show(out['xnnpack'])}")
    if "error" in r:
        out["error"] = str(r["error"])[:2000]
        return out
    lat = r.get("latency")
    if not isinstance(lat, dict):
        raise DataError(
            f"{where}.latency: expected an object with runs and median_ms, got {show(lat)}"
        )
    out["latency"] = {"runs": as_count(lat.get("runs"), f"{where}.latency.runs")}
    for k in LATENCY_FIELDS:
        if k == "median_ms" or lat.get(k) is not None:
            out["latency"][k] = as_number(lat.get(k), f"{where}.latency.{k}")
        else:
            out["latency"][k] = None
    phases = r.get("phases")
    if phases is not None:
        if not isinstance(phases, dict) or "baseline" not in phases:
            raise DataError(f"{where}.phases: expected an object of MiB per phase with a baseline")
        out["phases"] = {
            as_text(k, f"{where}.phases", limit=40): as_number(v, f"{where}.phases.{k}", 0.0, 1e7)
            for k, v in phases.items()
        }
    if r.get("throughput") is not None:
        tp = r["throughput"]
        if not isinstance(tp, dict):
            raise DataError(f"{where}.throughput: expected an object, got {show(tp)}")
        out["throughput"] = {
            "interpreters": as_count(
                tp.get("interpreters"), f"{where}.throughput.interpreters", 1, MAX_THREADS
            ),
            "windows_per_s": as_number(
                tp.get("windows_per_s"), f"{where}.throughput.windows_per_s", 0.0, 1e9
            ),
        }
    if r.get("ops"):
        if not isinstance(r["ops"], list):
            raise DataError(f"{where}.ops: expected a list of per-op rows, got {show(r['ops'])}")
        out["ops"] = [_kit_op(o, f"{where}.ops[{j}]") for j, o in enumerate(r["ops"])]
        whole = r.get("whole_model_ms")
        out["whole_model_ms"] = (
            None if whole is None else as_number(whole, f"{where}.whole_model_ms")
        )
    return out


def _kit_op(o, where: str) -> dict:
    if not isinstance(o, dict):
        raise DataError(f"{where}: expected an object, got {show(o)}")
    lat = o.get("latency_ms")
    share = o.get("share")
    xnn = o.get("xnnpack")
    if xnn is not None and not isinstance(xnn, bool):
        raise DataError(f"{where}.xnnpack: expected true, false or null, got {show(xnn)}")
    return {
        "node_index": as_count(o.get("node_index"), f"{where}.node_index", 0, MAX_COUNT),
        "node_name": as_text(
            o.get("node_name"), f"{where}.node_name", optional=True, limit=100_000
        ),
        "op_type": as_text(o.get("op_type"), f"{where}.op_type", limit=200),
        "latency_ms": None if lat is None else as_number(lat, f"{where}.latency_ms"),
        "share": None if share is None else as_number(share, f"{where}.share", 0.0, 1.0),
        "xnnpack": xnn,
        "times_called": as_count(o.get("times_called", 1), f"{where}.times_called"),
    }
