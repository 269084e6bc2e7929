"""Measurements made elsewhere into the store, and files for other tools out of it: the
`benchmark_model` tool's output (benchmark_output.py) and an edge kit's results
(edge_kit_results.py) ingested (ingest.py, with the field checks in ingest_fields.py); the edge
kit and Model Explorer data exported (exports.py), with the kit's runner (edge_kit_runner.py,
shipped as run_kit.py beside the measuring child and op profiler of pipeline/measure/).

Imports: measure, core, settings, errors, store.
"""
