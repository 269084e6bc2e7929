"""The live-progress panel: while `pipeline all` fills the store, every page says at the top which
stage runs and about how long is left (the file pipeline/progress.py writes beside the store,
named by store/progress_file.py); a run that stopped before finishing is said once, too.

The file is read defensively: a missing, partial or odd file means no panel, never an error.
"""

from __future__ import annotations

import json
import socket
import time
from datetime import datetime
from pathlib import Path

import dash
import flask
from dash import Input, Output, dcc, html

from store.progress_file import STATES, process_alive, progress_path

PANEL_ID = "pipeline-progress"
TICK_ID = "pipeline-progress-tick"
TICK_MS = 5000
MAX_FILE_BYTES = 64_000


def _int(value, lo: int = 0) -> int | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= lo
    return value if ok else None


def _num(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if value == value and abs(value) != float("inf") else None


def _time(value) -> float | None:
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        return None
    return t.timestamp() if t.tzinfo is not None else None


def _names(value) -> list[str]:
    """A list of short names (appliances, models), or [] where it is anything else."""
    if not isinstance(value, list):
        return []
    return [a for a in value if isinstance(a, str) and 0 < len(a) <= 40][:20]


def read_progress(store: Path | str) -> dict | None:
    """The progress record beside ``store``, checked, or None when there is none that makes
    sense (missing, unreadable, not JSON, a field missing or of the wrong type)."""
    try:
        with open(progress_path(store), "rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
        rec = json.loads(raw) if len(raw) <= MAX_FILE_BYTES else None
    except (OSError, ValueError):
        return None
    if not isinstance(rec, dict) or rec.get("state") not in STATES:
        return None
    total, index = _int(rec.get("stage_total"), 1), _int(rec.get("stage_index"), 1)
    stage, started = rec.get("stage"), _time(rec.get("started_at"))
    if total is None or index is None or index > total or started is None:
        return None
    if not isinstance(stage, str) or not 0 < len(stage) <= 40:
        return None
    error, complete = rec.get("error"), rec.get("complete")
    complete = _names(complete)
    models = _names(rec.get("models_complete"))
    return {
        "state": rec["state"],
        "stage": stage,
        "stage_index": index,
        "stage_total": total,
        "items_done": _int(rec.get("items_done")),
        "items_total": _int(rec.get("items_total"), 1),
        "eta_s": _num(rec.get("eta_s")),
        "started_at": started,
        "updated_at": _time(rec.get("updated_at")) or started,
        "pid": _int(rec.get("pid"), 1),
        "host": rec.get("host") if isinstance(rec.get("host"), str) else None,
        "error": error[:300] if isinstance(error, str) else None,
        "complete": complete,
        "models_complete": models,
    }


def run_state(rec: dict | None) -> str | None:
    """'running', 'stopped' (failed, or running but its process is gone), or None (no run to
    speak of: no file, or the last run finished)."""
    if rec is None or rec["state"] == "finished":
        return None
    if rec["state"] == "failed":
        return "stopped"
    here = rec["host"] in (None, socket.gethostname())
    if here and not process_alive(rec["pid"], rec["started_at"]):
        return "stopped"
    return "running"


def _clock(seconds: float) -> str:
    s = int(max(0.0, seconds))
    h, m = divmod(s // 60, 60)
    return f"{h}:{m:02d}:{s % 60:02d}" if h else f"{m}:{s % 60:02d}"


def _left(rec: dict, now: float) -> str:
    if rec["eta_s"] is None:
        return ""
    left = rec["eta_s"] - (now - rec["updated_at"])
    if left < -60:
        return ", taking longer than the last full run"
    if left < 60:
        return ", under a minute left (from the last full run)"
    return f", about {round(left / 60)} min left (from the last full run)"


def progress_text(rec: dict | None, now: float | None = None) -> str | None:
    """The panel's sentence, or None when there is nothing to say."""
    state = run_state(rec)
    if state is None:
        return None
    stage = f"stage {rec['stage_index']}/{rec['stage_total']} {rec['stage']}"
    if state == "stopped":
        return (
            f"The last pipeline run stopped before finishing ({stage}). The store keeps "
            "everything that finished; run `make run` (or `pipeline all`) again to resume."
        )
    now = time.time() if now is None else now
    items = ""
    if rec["items_done"]:
        of = f"/{rec['items_total']}" if rec["items_total"] else ""
        items = f" ({rec['items_done']}{of} done)"
    done = ""
    if rec.get("complete"):
        names = ", ".join(a.replace("_", " ") for a in rec["complete"])
        done = f" Complete: {names} (every stage done; its pages are final)."
    partial = [
        m
        for m in rec.get("models_complete", [])
        if m.split(".", 1)[0] not in rec.get("complete", [])
    ]
    if partial:
        names = ", ".join(m.replace("_", " ").replace(".", " ") for m in partial)
        done += (
            f" Ready so far: {names} (trained, converted, evaluated and measured; the other "
            "model of each appliance is still to come, so its recommendation may change)."
        )
    return (
        f"Pipeline running: {stage}{items} \u2014 elapsed {_clock(now - rec['started_at'])}"
        f"{_left(rec, now)}. Results appear on these pages as the run publishes them.{done}"
    )


def no_store_yet(store: Path | str, message: str) -> str:
    """The message for a store that is missing or empty, told that a run is building it."""
    try:
        missing = not Path(store).exists() or Path(store).stat().st_size == 0
    except OSError:
        return message
    if missing and run_state(read_progress(store)) == "running":
        return (
            "No results yet: a `pipeline all` run is building the store (its progress is shown "
            "above); results will appear here as the run publishes them - reload in a while."
        )
    return message


def panel() -> list:
    """The app layout's part: the panel (announced politely) and the timer that refreshes it."""
    return [
        html.Div(id=PANEL_ID, role="status", className="pipeline-progress"),
        dcc.Interval(id=TICK_ID, interval=TICK_MS),
    ]


def _refresh(_n):
    try:
        return progress_text(read_progress(flask.current_app.config["NILM_STORE"])) or ""
    except Exception:  # the panel is a courtesy: it never breaks a page
        return ""


def register(app: dash.Dash) -> None:
    """The panel's refresh, on this app (each app of a process gets its own)."""
    # the panel sits outside the pages: it is read when the app loads and on every tick
    app.callback(Output(PANEL_ID, "children"), Input(TICK_ID, "n_intervals"))(_refresh)
