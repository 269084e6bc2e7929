#!/usr/bin/env python3
"""nilm-edge edge kit: measure the kit's TFLite models on this device, the way `pipeline profile` does.

Needs only Python 3, numpy and ai-edge-litert (`pip install ai-edge-litert numpy`).
    python3 run_kit.py --threads 1 4 --out results.json
Then, on the machine with the store: `pipeline ingest-edge-kit results.json [--host NAME]`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
FORMAT = "nilm-edge-kit-results/1"


def host_facts() -> dict:
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.lower().startswith(("model name", "hardware", "model\t")):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        from importlib.metadata import version

        versions = {"ai-edge-litert": version("ai-edge-litert")}
    except Exception:  # noqa: BLE001 - a missing package only loses a label
        versions = {}
    return {
        "host": socket.gethostname(),
        "cpu_model": cpu,
        "cores": os.cpu_count(),
        "machine": platform.machine(),
        "runtime_versions": versions,
    }


def measure(model: Path, threads: int, args) -> dict:
    req = {
        "model": str(model),
        "runtime": "litert",
        "threads": threads,
        "xnnpack": True,
        "min_seconds": args.min_seconds,
        "min_runs": args.min_runs,
        "warmup": 3,
    }
    out = subprocess.run(
        [sys.executable, str(HERE / "measure_child.py"), json.dumps(req)],
        capture_output=True,
        text=True,
        timeout=args.timeout,
    )
    i = out.stdout.rfind("@@RESULT@@")
    if i < 0:
        return {"error": (out.stderr.strip().splitlines() or ["no output"])[-1]}
    return json.loads(out.stdout[i + len("@@RESULT@@") :])


def main(argv=None) -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--threads", type=int, nargs="+", default=[1, os.cpu_count() or 1])
    p.add_argument("--out", type=Path, default=HERE / "results.json")
    p.add_argument("--min-seconds", type=float, default=1.0)
    p.add_argument("--min-runs", type=int, default=20)
    p.add_argument("--op-runs", type=int, default=10)
    p.add_argument("--no-ops", action="store_true", help="skip the per-op profile")
    p.add_argument("--timeout", type=float, default=900)
    args = p.parse_args(argv)
    manifest = json.loads((HERE / "manifest.json").read_text())
    sys.path.insert(0, str(HERE))
    results = []
    for entry in manifest["variants"]:
        model = HERE / entry["file"]
        for threads in sorted(set(args.threads)):
            r = measure(model, threads, args)
            r.update(
                variant_id=entry["variant_id"],
                sha256=entry["sha256"],
                threads=threads,
                xnnpack=True,
            )
            if "error" not in r and threads == 1 and not args.no_ops:
                from opprofile import profile_ops

                r["ops"], r["whole_model_ms"] = profile_ops(model, threads=1, runs=args.op_runs)
            shown = r["latency"]["median_ms"] if "latency" in r else r.get("error")
            print(f"{entry['variant_id']} threads={threads}: {shown}", flush=True)
            results.append(r)
    args.out.write_text(
        json.dumps({"format": FORMAT, "host": host_facts(), "results": results}, indent=1)
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
