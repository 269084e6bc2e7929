"""4. Data reading: rows/s and peak RAM of the REFIT reader on a generated 10-million-row house file.

The file is generated once (about 1 GB) under bench/results/; reading runs in a fresh child
process so its peak RSS is the reader's own. Compare against the file size: memory must stay far
below it (chunked reading keeps only the needed columns).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np
from _common import RESULTS, ROOT, save

ROWS = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000_000
CHILD = """
import json, resource, sys, time
sys.path.insert(0, sys.argv[2])
from pipeline.data.reader_refit import read_refit_house
from store.vocab import Appliance
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
h = read_refit_house(sys.argv[1], {Appliance.KETTLE: 8, Appliance.FRIDGE: 1, Appliance.WASHING_MACHINE: 2})
dt = time.perf_counter() - t0
print(json.dumps({"rows": len(h.unix), "seconds": dt, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "import_peak_mb": base / 1024}))
"""


def generate(path, rows: int) -> None:
    rng = np.random.default_rng(0)
    chunk = 1_000_000
    with open(path, "w") as fh:
        fh.write(
            "Time,Unix,Aggregate," + ",".join(f"Appliance{i}" for i in range(1, 10)) + ",Issues\n"
        )
        for start in range(0, rows, chunk):
            n = min(chunk, rows - start)
            unix = 1_400_000_000 + (start + np.arange(n)) * 8
            cols = rng.integers(0, 3000, (n, 10))
            times = np.datetime_as_string(unix.astype("datetime64[s]"), unit="s")
            lines = [
                f"{t.replace('T', ' ')},{u},{','.join(map(str, c))},0"
                for t, u, c in zip(times, unix, cols.tolist(), strict=True)
            ]
            fh.write("\n".join(lines) + "\n")


def main() -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"CLEAN_House{ROWS}.csv"
    if not path.exists():
        t0 = time.perf_counter()
        generate(path, ROWS)
        print(
            f"generated {ROWS:,} rows ({path.stat().st_size / 1e9:.2f} GB) in {time.perf_counter() - t0:.0f} s"
        )
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), str(ROOT)],
        capture_output=True,
        text=True,
        check=True,
    )
    r = json.loads(out.stdout.strip().splitlines()[-1])
    size_mb = path.stat().st_size / 1e6
    r.update(
        file_mb=size_mb, rows_per_s=r["rows"] / r["seconds"], peak_over_file=r["peak_mb"] / size_mb
    )
    print(
        f"{r['rows']:,} rows in {r['seconds']:.1f} s = {r['rows_per_s']:,.0f} rows/s; peak RSS {r['peak_mb']:.0f} MB "
        f"for a {size_mb:.0f} MB file ({r['peak_over_file']:.2f}x the file size)"
    )
    save("data_reading", r)


if __name__ == "__main__":
    main()
