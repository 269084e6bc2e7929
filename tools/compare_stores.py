#!/usr/bin/env python3
"""Compare two stores' rows, leaving out what differs run to run by nature.

    python tools/compare_stores.py BEFORE.duckdb AFTER.duckdb [--tol 1e-9]

Every table of BEFORE is compared with the same table of AFTER. Left out: timestamps, run ids,
process ids, hosts, package versions, git commits, and every column of a measurement (timings,
latency, memory, load). The measurement tables (latency, memory, op profiles, throughput, hosts)
are compared on their row counts and text columns only. Rows are matched after sorting on the
compared columns; floats must agree within --tol. Prints one line per table, then the differing
columns with an example; exits 1 if anything differs.
"""

from __future__ import annotations

import argparse
import math
import re
import sys

import duckdb

VOLATILE = re.compile(
    r"(^|_)(run_id|host|hostname|pid|git_commit|packages|started_at|finished_at|created_at|"
    r"seconds|elapsed|load|cpu_model|rss|vm|mb|ms|us|latency|threads_used|python)($|_)"
)
MEASUREMENT_TABLES = {
    "hosts",
    "latency",
    "throughput_runs",
    "op_profile",
    "op_profile_totals",
    "memory",
    "stage_timings",
}


def columns(con, table):
    return con.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_name = ? ORDER BY ordinal_position",
        [table],
    ).fetchall()


def compared(con, table):
    keep = []
    for name, dtype in columns(con, table):
        if "TIMESTAMP" in dtype or VOLATILE.search(name):
            continue
        if table in MEASUREMENT_TABLES and dtype != "VARCHAR":
            continue
        if table == "runs" and name in ("config",):  # compared through config_hash
            continue
        keep.append(name)
    return keep


def same(a, b, tol):
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) and math.isnan(b):
            return True
        return a == b or abs(a - b) <= tol * max(1.0, abs(a), abs(b))
    return a == b


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("before")
    p.add_argument("after")
    p.add_argument("--tol", type=float, default=1e-9)
    args = p.parse_args()
    a = duckdb.connect(args.before, read_only=True)
    b = duckdb.connect(args.after, read_only=True)
    tables = [
        t
        for (t,) in a.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' "
            "ORDER BY table_name"
        ).fetchall()
    ]
    bad = 0
    for t in tables:
        cols = compared(a, t)
        if cols != compared(b, t):
            print(f"{t}: columns differ: {cols} vs {compared(b, t)}")
            bad += 1
            continue
        sel = ", ".join(f'"{c}"' for c in cols)
        order = ", ".join(f'CAST("{c}" AS VARCHAR)' for c in cols)
        q = f"SELECT {sel} FROM {t} ORDER BY {order}" if cols else f"SELECT 1 FROM {t}"
        ra, rb = a.execute(q).fetchall(), b.execute(q).fetchall()
        diffs = {}
        if len(ra) == len(rb):
            for x, y in zip(ra, rb, strict=True):
                for i, c in enumerate(cols):
                    if not same(x[i], y[i], args.tol):
                        diffs.setdefault(c, [0, x[i], y[i]])[0] += 1
        status = "same" if len(ra) == len(rb) and not diffs else "DIFFERENT"
        bad += status != "same"
        print(f"{t:20s} {status:9s} rows {len(ra)} / {len(rb)}, {len(cols)} columns compared")
        for c, (n, x, y) in diffs.items():
            print(f"    {c}: {n} rows differ, e.g. {str(x)[:80]!r} vs {str(y)[:80]!r}")
    print("stores agree" if not bad else f"{bad} tables differ")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
