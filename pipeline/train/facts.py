"""What a training run learned: per-epoch history rows, the best epoch, why it stopped, and
whether the model is under-trained (learned nothing, or was still improving when it stopped)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# improvement of the last epoch over the best before it that counts as "still improving"
STILL_IMPROVING = 0.02


@dataclass
class Fit:
    """What fitting produced: the Keras history, the wall time and the callbacks' findings."""

    hist: object
    seconds: float
    progress: object
    budget: object
    early: object


def history_and_facts(model_id: str, hist, plan: dict, epoch_seconds: list) -> tuple[list, dict]:
    """Per-epoch rows for training_history, and the best epoch / still-improving facts."""
    h = hist.history
    losses = h.get("loss", [])
    val_losses = [v for v in h.get("val_loss", []) if v is not None]
    # a resumed run's History starts with the epochs it restored (SafeBackup puts them there);
    # their seconds were measured by the killed run and are not known
    first_epoch = hist.epoch[0] + 1 if hist.epoch else 1
    epoch_seconds = [None] * (len(losses) - len(epoch_seconds)) + list(epoch_seconds)
    history = [
        {
            "model_id": model_id,
            "epoch": first_epoch + i,
            "loss": float(losses[i]),
            "val_loss": _at(h.get("val_loss"), i),
            "mae": _at(h.get("power_mae"), i),
            "val_mae": _at(h.get("val_power_mae"), i),
            "seconds": _at(epoch_seconds, i),
        }
        for i in range(len(losses))
    ]
    best_i = int(np.nanargmin(val_losses)) if val_losses else len(losses) - 1
    still = (
        bool(
            len(val_losses) >= 2
            and best_i == len(val_losses) - 1
            and val_losses[-1] < (1 - STILL_IMPROVING) * min(val_losses[:-1])
        )
        or len(val_losses) == 1
    )
    facts = {
        "epochs_run": first_epoch + len(losses) - 1,
        "best_epoch": first_epoch + best_i,
        "best_val_loss": float(np.nanmin(val_losses)) if val_losses else None,
        "still_improving": still,
    }
    return history, facts


def outcome(fit: Fit, plan: dict, best_val_loss, still_improving: bool, zero_loss: float):
    """Why training stopped, how much it saw, and whether the model is under-trained."""
    learned_nothing = best_val_loss is None or best_val_loss >= zero_loss
    return {
        "stop_reason": (
            "time_budget"
            if fit.budget.timed_out
            else "early_stopping"
            if fit.early.stopped_epoch > 0
            else "epochs"
        ),
        "steps": fit.budget.steps,
        "windows_seen": fit.budget.steps * plan["batch"],
        "under_trained": bool(learned_nothing or still_improving),
    }


def _at(seq, i):
    return float(seq[i]) if seq is not None and i < len(seq) and seq[i] is not None else None
