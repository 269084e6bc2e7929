"""The training stage (stage.py: `pipeline train`): one model per appliance and architecture.
The article's networks (models.py), the loss (loss.py), the callbacks and learning-rate schedule
(callbacks.py), one model's fit (fit.py), what a fit learned (facts.py), models trained in worker
processes (workers.py).

Imports: data, core, settings, errors, store.
"""
