"""`make bench`: every benchmark in one go; each prints its figures and writes bench/results/*.json."""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = [
    "bench_inference_roofline.py",
    "bench_transformer_static.py",
    "bench_input_pipeline.py",
    "bench_data_reading.py",
    "bench_dashboard.py",
    "bench_end_to_end.py",
    "bench_reliability.py",
    "bench_coverage.py",
    "bench_scaling.py",
    "bench_first_insight.py",
]

failed = []
for s in SCRIPTS:
    print(f"\n=== {s} ===", flush=True)
    if subprocess.run([sys.executable, str(HERE / s), *sys.argv[1:]], cwd=HERE).returncode:
        failed.append(s)
print("\nall benchmarks done" + (f"; failed: {', '.join(failed)}" if failed else ""))
sys.exit(1 if failed else 0)
