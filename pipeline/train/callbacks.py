"""Keras callbacks of the training loop: a progress bar per epoch, the learning-rate schedule
with the wall-clock budget (BudgetCallback, scheduled_lr), and the resume state that survives a
kill at any byte (SafeBackup, BestCheckpoint, checkpoint_problem).

Keras is imported inside them only, so importing this module stays light.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path


class ProgressCallback:
    """Rich progress bar per epoch (batch, loss, ETA) and wall time per epoch."""

    def __new__(cls, *args, **kwargs):
        import keras

        class _CB(keras.callbacks.Callback):
            def __init__(self, label, steps, epochs, console):
                super().__init__()
                self.label, self.steps, self.epochs, self.console = label, steps, epochs, console
                self.epoch_seconds: list[float] = []

            def on_train_begin(self, logs=None):
                from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

                self.progress = Progress(
                    TextColumn("[bold]{task.description}"),
                    BarColumn(),
                    TextColumn("{task.completed}/{task.total}"),
                    TextColumn("{task.fields[info]}"),
                    TimeRemainingColumn(),
                    console=self.console,
                    transient=True,
                )
                self.progress.start()

            def on_epoch_begin(self, epoch, logs=None):
                self.t0 = time.perf_counter()
                self.task = self.progress.add_task(
                    f"{self.label} epoch {epoch + 1}/{self.epochs}", total=self.steps, info=""
                )

            def on_train_batch_end(self, batch, logs=None):
                loss = (logs or {}).get("loss")
                self.progress.update(
                    self.task,
                    completed=batch + 1,
                    info=f"loss {loss:.4f}" if loss is not None else "",
                )

            def on_epoch_end(self, epoch, logs=None):
                self.epoch_seconds.append(time.perf_counter() - self.t0)
                self.progress.remove_task(self.task)
                logs = logs or {}
                self.console.print(
                    f"train: {self.label} epoch {epoch + 1}: loss {logs.get('loss', float('nan')):.4f}"
                    f" val_loss {logs.get('val_loss', float('nan')):.4f}"
                    f" ({self.epoch_seconds[-1]:.1f} s)"
                )

            def on_train_end(self, logs=None):
                self.progress.stop()

        return _CB(*args, **kwargs)


class BudgetCallback:
    """Learning rate per batch from the schedule, and the wall-clock budget.

    Progress is the larger of steps done / steps planned and seconds spent / seconds allowed, so
    a warm-up + cosine schedule ends on time whichever budget binds. Training stops at the end
    of the first epoch past the time budget (the best-validation checkpoint is what is kept).
    """

    def __new__(cls, *args, **kwargs):
        import keras

        class _CB(keras.callbacks.Callback):
            def __init__(self, schedule, peak_lr, warmup, total_steps, seconds):
                super().__init__()
                self.schedule, self.peak_lr, self.warmup = schedule, peak_lr, warmup
                self.total_steps, self.seconds = total_steps, seconds
                self.steps, self.timed_out = 0, False

            def on_train_begin(self, logs=None):
                self.t0 = time.perf_counter()
                # a resumed run (SafeBackup restored its epochs first) continues the schedule
                # and the step count where the killed run left them, instead of warming up again
                done = getattr(self.model, "_initial_epoch", None) or 0
                self.steps = int(done) * int(self.params.get("steps") or 0)

            def progress(self) -> float:
                p = self.steps / max(1, self.total_steps)
                if self.seconds:
                    p = max(p, (time.perf_counter() - self.t0) / self.seconds)
                return min(p, 1.0)

            def on_train_batch_begin(self, batch, logs=None):
                if self.schedule == "constant":
                    return
                self.model.optimizer.learning_rate.assign(
                    scheduled_lr(self.progress(), self.peak_lr, self.warmup)
                )

            def on_train_batch_end(self, batch, logs=None):
                self.steps += 1

            def on_epoch_end(self, epoch, logs=None):
                if self.seconds and time.perf_counter() - self.t0 >= self.seconds:
                    self.timed_out = True
                    self.model.stop_training = True

        return _CB(*args, **kwargs)


def scheduled_lr(progress: float, peak: float, warmup: float) -> float:
    """Linear warm-up to ``peak`` over the first ``warmup`` of training, then cosine to 2 % of it."""
    if warmup > 0 and progress < warmup:
        return peak * max(progress / warmup, 0.02)
    t = (progress - warmup) / max(1e-9, 1 - warmup)
    return peak * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(t, 1.0))))


# -- resume state ---------------------------------------------------------------------------------
# A model's resume state lives in its checkpoint folder: backup/ (the last finished epoch's
# weights and optimizer, named by epoch, and state.json naming them with their sha256) and
# best.keras (the best epoch so far, with best.json holding its validation loss and sha256).
# Every file is written under a private name and renamed into place, and state.json last, so a
# kill at any byte leaves the previous state or none; a file that still does not match its record
# (a torn copy of an older layout, a damaged disk) makes the whole state unusable, and training
# starts afresh (see checkpoint_problem).
STATE = "state.json"
BEST = "best.keras"
BEST_STATE = "best.json"


class UnreadableCheckpoint(Exception):
    """A model's resume state exists but cannot be used; the message says which file and why."""


def _fsync(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def _write_json(path: Path, data: dict) -> None:
    """``data`` as ``path``, written privately and renamed into place."""
    from pipeline.core.artifacts import temp_path

    tmp = temp_path(path.parent, path.stem, path.suffix)
    try:
        tmp.write_text(json.dumps(data))
        _fsync(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _save_private(path: Path, save) -> str:
    """``save(tmp)`` under a private name beside ``path``, then rename it there; its sha256."""
    from pipeline.core.artifacts import temp_path
    from pipeline.core.hashing import file_sha256

    tmp = temp_path(path.parent, path.name.split(".")[0], "." + path.name.split(".", 1)[1])
    try:
        save(str(tmp))
        _fsync(tmp)
        sha = file_sha256(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return sha


def _read_json(path: Path) -> dict | None:
    """The JSON object in ``path``; None when absent; UnreadableCheckpoint when not one."""
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise UnreadableCheckpoint(f"{path.name}: {type(exc).__name__}") from exc
    if not isinstance(data, dict):
        raise UnreadableCheckpoint(f"{path.name}: not a JSON object")
    return data


def backup_state(backup: Path) -> dict | None:
    """The recorded last epoch of ``backup`` ({"epoch", "weights", "sha256"}), checked against
    its weights file; None when there is none; UnreadableCheckpoint when it does not match."""
    from pipeline.core.hashing import file_sha256

    state = _read_json(backup / STATE)
    if state is None:
        left = [p.name for p in backup.glob("*") if not p.name.startswith(".")]
        if left:  # weights without their record: an older layout or a torn save
            raise UnreadableCheckpoint(f"backup/{left[0]}: no {STATE} records it")
        return None
    weights = backup / str(state.get("weights", ""))
    try:
        ok = weights.is_file() and file_sha256(weights) == state.get("sha256")
    except OSError:
        ok = False
    if not ok or not isinstance(state.get("epoch"), int):
        raise UnreadableCheckpoint(f"backup/{weights.name}: does not match {STATE}")
    return state


def best_state(key_dir: Path) -> dict | None:
    """The best epoch's record ({"val_loss", "sha256"}) when best.keras holds the bytes it
    names; {} when best.keras is readable but unrecorded; None when there is no best.keras;
    UnreadableCheckpoint when best.keras is damaged."""
    import zipfile

    from pipeline.core.hashing import file_sha256

    best = key_dir / BEST
    if not best.exists():
        return None
    try:
        record = _read_json(key_dir / BEST_STATE) or {}
    except UnreadableCheckpoint:
        record = {}
    try:
        if record and file_sha256(best) == record.get("sha256"):
            return record
        with zipfile.ZipFile(best) as zf:  # a .keras file is a zip: check every member's CRC
            if zf.testzip() is None:
                return {}
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise UnreadableCheckpoint(f"{BEST}: {type(exc).__name__}") from exc
    raise UnreadableCheckpoint(f"{BEST}: a damaged member")


def checkpoint_problem(key_dir: Path) -> str | None:
    """Why the resume state in ``key_dir`` cannot be used, or None (usable, or none there)."""
    try:
        if (key_dir / "backup").is_dir():
            backup_state(key_dir / "backup")
        best_state(key_dir)
    except UnreadableCheckpoint as exc:
        return str(exc)
    return None


def _is_number(v) -> bool:
    try:
        float(v)
    except (TypeError, ValueError):
        return False
    return True


def _prepend_history(model, restored: list[dict]) -> None:
    """Put the epochs a resumed run restored (not run again) in front of its Keras History."""
    hist = getattr(model, "history", None)
    if not restored or hist is None:
        return
    current = dict(hist.history)
    n_now = len(hist.epoch)
    keys = set(current) | {k for r in restored for k in r if k != "epoch"}
    hist.history = {
        k: [r.get(k) for r in restored] + list(current.get(k, [None] * n_now)) for k in keys
    }
    hist.epoch = [r["epoch"] for r in restored] + list(hist.epoch)


class SafeBackup:
    """Keras ``BackupAndRestore`` whose saves are atomic and whose restore is checked: each
    epoch's weights go to a new ``epoch-<n>.weights.h5`` (private name, then renamed), then
    ``state.json`` names it; a restore loads only weights matching that record."""

    def __new__(cls, backup_dir: Path):
        import keras

        class _CB(keras.callbacks.BackupAndRestore):
            def on_train_begin(self, logs=None):
                self._epoch_logs = []  # every epoch's logs so far, restored ones included
                self._restored = []
                self._load_model()

            def on_epoch_end(self, epoch, logs=None):
                row = {k: float(v) for k, v in (logs or {}).items() if _is_number(v)}
                self._epoch_logs.append({"epoch": int(epoch), **row})
                super().on_epoch_end(epoch, logs)

            def on_train_end(self, logs=None):
                # the restored epochs go in front of this run's History, so the history rows,
                # the best epoch and the under-trained facts cover the whole training
                _prepend_history(self.model, self._restored)
                super().on_train_end(logs)

            def _load_model(self):
                state = backup_state(Path(self.backup_dir))
                if state is None:
                    return
                logs = state.get("logs")
                if isinstance(logs, list) and all(isinstance(r, dict) for r in logs):
                    self._restored = [r for r in logs if r.get("epoch", -1) < state["epoch"]]
                    self._epoch_logs = list(self._restored)
                try:
                    if self.model.optimizer is not None and not self.model.optimizer.built:
                        self.model.optimizer.build(self.model.trainable_variables)
                    self.model.load_weights(str(Path(self.backup_dir) / state["weights"]))
                except (OSError, ValueError, KeyError) as exc:
                    raise UnreadableCheckpoint(
                        f"backup/{state['weights']}: {type(exc).__name__}"
                    ) from exc
                self.model._initial_epoch = state["epoch"]

            def _save_model(self):
                folder = Path(self.backup_dir)
                folder.mkdir(parents=True, exist_ok=True)
                name = f"epoch-{self._current_epoch}.weights.h5"
                sha = _save_private(folder / name, self.model.save_weights)
                _write_json(
                    folder / STATE,
                    {
                        "epoch": self._current_epoch,
                        "weights": name,
                        "sha256": sha,
                        "logs": self._epoch_logs,
                    },
                )
                for old in folder.glob("epoch-*.weights.h5"):
                    if old.name != name:
                        old.unlink(missing_ok=True)

        return _CB(str(backup_dir))


class BestCheckpoint:
    """The best epoch by validation loss as ``best.keras`` (written privately, renamed into
    place), and its loss and sha256 in ``best.json`` so a resumed run keeps the real best."""

    def __new__(cls, key_dir: Path):
        import keras

        class _CB(keras.callbacks.Callback):
            def __init__(self, key_dir: Path):
                super().__init__()
                self.key_dir = key_dir
                record = best_state(key_dir) or {}
                loss = record.get("val_loss")
                self.best = float(loss) if isinstance(loss, int | float) else math.inf

            def on_epoch_end(self, epoch, logs=None):
                current = (logs or {}).get("val_loss")
                if current is None or not math.isfinite(current) or current >= self.best:
                    return
                self.key_dir.mkdir(parents=True, exist_ok=True)
                sha = _save_private(self.key_dir / BEST, self.model.save)
                self.best = float(current)
                _write_json(self.key_dir / BEST_STATE, {"val_loss": self.best, "sha256": sha})

        return _CB(key_dir)
