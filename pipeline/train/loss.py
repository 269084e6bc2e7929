"""The training loss and metric: the article's seq2point loss on [power, on/off status]."""

from __future__ import annotations

import numpy as np

SOFT_BCE_TEMPERATURE = 0.05  # in normalised power units (fraction of P_m)


def make_loss(
    threshold_norm: float, l1_weight: float, article_bce: bool = False, off_weight: float = 0.0
):
    """The article's loss: MSE + BCE on the on/off status + lambda * L1 on 'on or misclassified'.

    y_true carries [normalised power, status]. The article's BCE uses a hard 0/1 prediction and
    so gives no gradient; by default the status probability is instead a sigmoid of the distance
    to the threshold, which does. ``off_weight`` adds off_weight * |error| on the samples whose
    appliance is off: power claimed while it is off (the cross-house models' main error).
    Returns per-sample values whose batch mean is the loss.
    """
    from keras import ops

    def seq2point_loss(y_true, y_pred):
        y = y_true[:, 0:1]
        s = y_true[:, 1:2]
        err = y_pred - y
        hard = ops.cast(y_pred >= threshold_norm, "float32")
        if article_bce:
            p = ops.stop_gradient(hard)
        else:
            p = ops.sigmoid((y_pred - threshold_norm) / SOFT_BCE_TEMPERATURE)
        p = ops.clip(p, 1e-7, 1 - 1e-7)
        bce = -(s * ops.log(p) + (1 - s) * ops.log(1 - p))
        mask = ops.cast(ops.logical_or(s > 0.5, ops.not_equal(s, hard)), "float32")
        batch = ops.cast(ops.shape(y_pred)[0], "float32")
        l1 = l1_weight * ops.abs(err) * mask * batch / ops.maximum(ops.sum(mask), 1.0)
        total = err * err + bce + l1
        if off_weight:
            total = total + off_weight * ops.abs(err) * (1 - s)
        return ops.squeeze(total, axis=-1)

    seq2point_loss.__name__ = "article_loss" if article_bce else "soft_bce_loss"
    return seq2point_loss


def appliance_loss(params, article_bce: bool, off_weight: float = 0.0):
    """make_loss for one appliance's parameters (threshold in units of its maximum power)."""
    return make_loss(
        params.on_threshold_w / params.max_power_w, params.l1_weight, article_bce, off_weight
    )


def power_mae(y_true, y_pred):
    from keras import ops

    return ops.mean(ops.abs(y_pred - y_true[:, 0:1]))


def zero_prediction_loss(
    va, val_starts, params, article_bce: bool, off_weight: float = 0.0
) -> float:
    """Validation loss of predicting 0 W everywhere: a model not below it learned nothing."""
    y, s = va.targets(np.sort(val_starts))
    loss = appliance_loss(params, article_bce, off_weight)
    y_true = np.stack([y, s], axis=1).astype(np.float32)
    return float(np.mean(np.asarray(loss(y_true, np.zeros((len(y), 1), np.float32)))))
