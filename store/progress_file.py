"""Where `pipeline all` says how far it has got: a small JSON file beside the store, written by
the pipeline (pipeline/progress.py) and read by the dashboard (dashboard/progress.py).

The record: ``state`` (running | finished | failed), ``stage``, ``stage_index``, ``stage_total``,
``items_done`` / ``items_total`` (either may be null), ``elapsed_s``, ``eta_s`` (seconds left as
of ``updated_at`` at the last full run's pace, or null), ``started_at`` / ``updated_at`` (ISO 8601,
UTC), ``pid``, ``host``, ``run_id``, ``error`` and ``complete`` (the appliances whose every stage
is done, in the order they finished).
"""

from __future__ import annotations

from pathlib import Path

PROGRESS_VERSION = 1
STATES = ("running", "finished", "failed")


def progress_path(store_path: Path | str) -> Path:
    """``store/nilm.duckdb`` -> ``store/nilm.duckdb.progress.json``."""
    store_path = Path(store_path)
    return store_path.with_name(store_path.name + ".progress.json")
