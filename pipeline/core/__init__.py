"""What every stage shares: the run context (store, artifacts folder, settings, run record and
cache: context.py), immutable content-addressed artifacts (artifacts.py), content hashes for cache
keys (hashing.py), the one worker pool with its die-with-parent guard (workers.py), where a
stage's items run (executors.py: the interface and the local executor; ray_executor.py: Ray
tasks, imported only for `--executor ray`), the TFLite runtime (interpreters, inference, op
census: tflite_runtime.py) and TensorFlow's silencing (quiet.py).

Imports: settings, errors, store.
"""
