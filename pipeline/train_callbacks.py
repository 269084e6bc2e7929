"""Keras callbacks of the training loop: a progress bar per epoch, and the learning-rate schedule
with the wall-clock budget (BudgetCallback, scheduled_lr).

Keras is imported inside them only, so importing this module stays light.
"""

from __future__ import annotations

import math
import time


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
