"""Where `pipeline all` says how far it has got: a small JSON file beside the store, written by
the pipeline (pipeline/progress.py) and read by the dashboard (dashboard/progress.py).

The record: ``state`` (running | finished | failed), ``stage``, ``stage_index``, ``stage_total``,
``items_done`` / ``items_total`` (either may be null), ``elapsed_s``, ``eta_s`` (seconds left as
of ``updated_at`` at the last full run's pace, or null), ``started_at`` / ``updated_at`` (ISO 8601,
UTC), ``pid``, ``host``, ``run_id``, ``error``, ``complete`` (the appliances whose every stage
is done, in the order they finished) and ``models_complete`` (the models, ``kettle.cnn``, whose
every stage is done while their appliance's other models are still to come; absent in files of
older runs).
"""

from __future__ import annotations

import os
from pathlib import Path

PROGRESS_VERSION = 1
STATES = ("running", "finished", "failed")


def progress_path(store_path: Path | str) -> Path:
    """``store/nilm.duckdb`` -> ``store/nilm.duckdb.progress.json``."""
    store_path = Path(store_path)
    return store_path.with_name(store_path.name + ".progress.json")


def process_start(pid: int) -> float | None:
    """Start time of a process (Unix seconds) from /proc, or None where there is no /proc."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            ticks = int(fh.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/stat") as fh:
            btime = next(int(line.split()[1]) for line in fh if line.startswith("btime"))
        return btime + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def process_alive(pid: int | None, started_at: float | None = None) -> bool:
    """The process of a run still exists: its pid is alive and (where the kernel tells) that
    process started before the run did (``started_at``, Unix seconds), so a pid the kernel gave
    to a newer process after the run died does not count. Shared by the pipeline (runs left
    'running' by a killed process) and the dashboard (the progress panel)."""
    if pid is None:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except (OSError, OverflowError, ValueError):
        return False
    born = process_start(int(pid))
    if born is None or started_at is None:
        return True
    return born <= started_at + 5.0
