"""What the store holds, the devices it has numbers for, and the recommendation rule's inputs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from dashboard.queries.common import q
from dashboard.store_reads import cached_read, reading
from store import db, recommend


@cached_read
def store_facts(store: Path) -> dict:
    with reading(store) as con:
        meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
        meta.update({f"n_{t}": n for t, n in db.table_counts(con).items()})
        last = con.execute(
            "SELECT command, profile, status, finished_at FROM runs ORDER BY started_at DESC LIMIT 1"
        ).fetchall()
        meta["last_run"] = last[0] if last else None
    return meta


def device_key(host: str, runtime: str, threads) -> str:
    return f"{host}|{runtime}|{int(threads)}"


def parse_device(key: str | None) -> tuple[str, str, int] | None:
    """(host, runtime, threads) from a device key; None for anything else."""
    if not isinstance(key, str) or len(key) > 500:
        return None
    try:
        host, runtime, threads = key.rsplit("|", 2)
        n = int(threads)
    except ValueError:
        return None
    return (host, runtime, n) if 0 < n < 10_000 else None


def device_label(host: str, runtime: str, threads, machine=None) -> str:
    arch = f" ({machine})" if isinstance(machine, str) and machine else ""
    return f"{host}{arch} · {runtime} · {int(threads)} thread{'s' if int(threads) != 1 else ''}"


@cached_read
def devices(store: Path) -> pd.DataFrame:
    """Every device (host x runtime x threads) with measured variants, most variants first."""
    with reading(store) as con:
        df = recommend.devices(con)
    if df.empty:
        return df.assign(key=[], label=[])
    return df.assign(
        key=[device_key(h, r, t) for h, r, t in zip(df.host, df.runtime, df.threads, strict=True)],
        label=[
            device_label(h, r, t, m)
            for h, r, t, m in zip(df.host, df.runtime, df.threads, df.machine, strict=True)
        ],
    )


@cached_read
def cost_ranges(store: Path) -> dict[str, tuple[float | None, float | None]]:
    """Smallest and largest latency, RAM and disk over every device: the budget sliders' span."""
    df = q(
        store,
        "SELECT min(latency_ms) AS a, max(latency_ms) AS b, min(ram_mb) AS c, max(ram_mb) AS d, "
        "min(disk_mb) AS e, max(disk_mb) AS f FROM tradeoff",
    )
    r = df.iloc[0].tolist()
    return {"latency_ms": (r[0], r[1]), "ram_mb": (r[2], r[3]), "disk_mb": (r[4], r[5])}


@cached_read
def recommendation_inputs(
    store: Path, host: str, runtime: str, threads: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The recommendation rule's inputs for one device (store/recommend.py holds the SQL)."""
    with reading(store) as con:
        return recommend.load(con, host, runtime, threads)


@cached_read
def appliances(store: Path) -> list[str]:
    return q(store, "SELECT DISTINCT appliance FROM variants ORDER BY 1")["appliance"].tolist()
