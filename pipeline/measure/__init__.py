"""The profiling stage (stage.py: the command stays `pipeline profile`): latency, RAM by phase,
XNNPACK use and isolated per-op latency per variant. The measuring child run in a fresh process
(measure_child.py, self-contained: the edge kit ships it), the per-op profiler (op_profile.py,
shipped too), the measurement rows (measurements.py) and the stage on a remote executor
(remote.py: every model measured on every node, each with its own hosts row).

Imports: convert, core, settings, errors, store.
"""
