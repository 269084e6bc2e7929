"""`pipeline all`'s live progress beside the store (store/progress_file.py names the file), so the
dashboard can say which stage runs and about how long is left while the store fills up.

``build_record`` is the record (pure); ``Progress`` writes one at each stage start, as items
finish and at the end (finished or failed). Writing is best effort: a progress file that cannot
be written never fails the run.

Imports: store.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from store.progress_file import PROGRESS_VERSION, STATES, progress_path


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds")


def build_record(
    *,
    state: str,
    stages: Sequence[str],
    stage_index: int,
    started_at: float,
    now: float,
    pid: int,
    host: str,
    run_id: str | None = None,
    items_done: int | None = None,
    items_total: int | None = None,
    eta_s: float | None = None,
    error: str | None = None,
    complete: Sequence[str] = (),
    models_complete: Sequence[str] = (),
) -> dict:
    """The progress record of a run at ``now`` (Unix seconds), at stage ``stage_index`` (1-based)
    of ``stages``; ``eta_s``: seconds left as of ``now`` at the last full run's pace (or None)."""
    if state not in STATES:
        raise ValueError(f"state {state!r} is not one of {STATES}")
    if not 1 <= stage_index <= len(stages):
        raise ValueError(f"stage {stage_index} is not within 1..{len(stages)}")
    return {
        "version": PROGRESS_VERSION,
        "state": state,
        "stage": stages[stage_index - 1],
        "stage_index": stage_index,
        "stage_total": len(stages),
        "items_done": items_done,
        "items_total": items_total,
        "elapsed_s": round(max(0.0, now - started_at), 1),
        "eta_s": None if eta_s is None else round(max(0.0, eta_s), 1),
        "started_at": _iso(started_at),
        "updated_at": _iso(now),
        "pid": pid,
        "host": host,
        "run_id": run_id,
        "error": error,
        "complete": list(complete),
        "models_complete": list(models_complete),
    }


def write_record(path: Path, record: dict) -> None:
    """Write the record atomically: a temporary file beside it, then a rename over it."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(record, fh)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class Progress:
    """The progress file of one `pipeline all` run: call ``stage`` as each stage starts, ``item``
    as items finish (any thread), then ``finished`` or ``failed``."""

    def __init__(
        self,
        store: Path,
        stages: Sequence[str],
        run_id: str | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.path = progress_path(store)
        self.stages = list(stages)
        self.run_id = run_id
        self.clock = clock
        self.started_at = clock()
        self.index = 1
        self.items_done = 0
        self.stage_t0 = self.started_at
        self.stage_eta: float | None = None  # seconds left when the stage started
        self.items_total: int | None = None
        self.counts = self.stages[0]  # the stage whose items are counted
        self.complete_apps: list[str] = []  # appliances with every stage done
        self.complete_models: list[str] = []  # models with every stage done ("kettle.cnn")
        self._lock = threading.Lock()
        self._warned = False

    def stage(
        self,
        index: int,
        eta_s: float | None = None,
        items_total: int | None = None,
        counts: str | None = None,
    ) -> None:
        """Stage ``index`` (1-based) starts; ``counts``: the stage whose items it counts (its
        label by default: "train kettle" counts the items of "train")."""
        with self._lock:
            self.index, self.items_done, self.items_total = index, 0, items_total
            self.counts = counts or self.stages[index - 1]
            self.stage_t0, self.stage_eta = self.clock(), eta_s
            self._write("running")

    def complete(self, appliance: str) -> None:
        """Every stage of ``appliance`` is done: its pages are final."""
        with self._lock:
            if appliance not in self.complete_apps:
                self.complete_apps.append(str(appliance))
            self._write("running")

    def model_complete(self, model: str) -> None:
        """Every stage of one model (``kettle.cnn``) is done: its figures are on the pages, its
        appliance's other models still to come."""
        with self._lock:
            if model not in self.complete_models:
                self.complete_models.append(str(model))
            self._write("running")

    def item(self, stage: str, _item: str = "") -> None:
        with self._lock:
            if stage != self.counts:
                return
            self.items_done += 1
            self._write("running")

    def finished(self) -> None:
        with self._lock:
            self._write("finished")

    def failed(self, exc: BaseException) -> None:
        error = "interrupted" if isinstance(exc, KeyboardInterrupt) else type(exc).__name__
        with self._lock:
            self._write("failed", error=f"{error}: {exc}" if str(exc) else error)

    def _write(self, state: str, error: str | None = None) -> None:
        now = self.clock()
        eta = None
        if state == "running" and self.stage_eta is not None:
            eta = self.stage_eta - (now - self.stage_t0)
        record = build_record(
            state=state,
            stages=self.stages,
            stage_index=self.index,
            started_at=self.started_at,
            now=now,
            pid=os.getpid(),
            host=socket.gethostname(),
            run_id=self.run_id,
            items_done=self.items_done,
            items_total=self.items_total,
            eta_s=eta,
            complete=self.complete_apps,
            models_complete=self.complete_models,
            error=error,
        )
        try:
            write_record(self.path, record)
        except OSError as exc:
            if not self._warned:  # said once; the run goes on without a progress file
                self._warned = True
                print(f"warning: cannot write {self.path} ({exc.strerror or exc})", file=sys.stderr)
