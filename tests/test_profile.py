"""Measuring in a child process and the isolated per-op profile, on small real models."""

import json
import subprocess
import sys

import pytest

from pipeline.profile import CHILD, PER_OP_TOLERANCE
from store import db


def _child(req):
    out = subprocess.run(
        [sys.executable, str(CHILD), json.dumps(req)], capture_output=True, text=True, timeout=300
    ).stdout
    return json.loads(out[out.rfind("@@RESULT@@") + len("@@RESULT@@") :])


def test_child_measures_latency_memory_phases_and_both_runtimes(smoke_store):
    model = db.artifacts_dir(smoke_store) / "variants" / "kettle.cnn.w8_a16.tflite"
    r = _child(
        {
            "model": str(model),
            "runtime": "litert",
            "threads": 1,
            "min_seconds": 0.05,
            "min_runs": 5,
            "parallel": 2,
        }
    )
    assert r["latency"]["median_ms"] > 0 and r["latency"]["runs"] >= 5
    assert set(r["phases"]) == {"baseline", "create", "allocate", "first_invoke", "steady", "peak"}
    assert r["phases"]["peak"] >= r["phases"]["baseline"]
    assert r["throughput"]["interpreters"] == 2 and r["throughput"]["windows_per_s"] > 0
    tf = _child(
        {
            "model": str(model),
            "runtime": "tf_lite",
            "threads": 1,
            "more_threads": [2],
            "min_seconds": 0.05,
            "min_runs": 5,
        }
    )
    assert tf["latency"]["median_ms"] > 0 and tf["more_threads"]["2"]["median_ms"] > 0


def test_refused_model_is_reported_as_data(tmp_path):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"not a flatbuffer")
    r = _child({"model": str(bad), "runtime": "litert", "threads": 1})
    assert "error" in r


def test_per_op_sum_is_within_the_recorded_tolerance_of_the_whole_model(smoke_store):
    # the float transformer has ~100 ops of real work; on the tiny CNN the ~1-2 us per-invoke
    # overhead of each cut-out op dominates, so its ratio is only recorded, not asserted
    row = db.query_df(
        smoke_store,
        "SELECT * FROM op_profile_totals WHERE variant_id = 'kettle.transformer.convert_only'",
    )
    assert row["tolerance"].iloc[0] == PER_OP_TOLERANCE
    assert row["ratio"].iloc[0] == pytest.approx(1.0, abs=PER_OP_TOLERANCE)
    ops = db.query_df(
        smoke_store, "SELECT * FROM op_profile WHERE variant_id = 'kettle.transformer.convert_only'"
    )
    census = db.query_df(
        smoke_store,
        "SELECT sum(count) AS n FROM op_census WHERE variant_id = 'kettle.transformer.convert_only'",
    )
    assert len(ops) == census["n"].iloc[0]
    assert ops["latency_ms"].notna().all() and ops["xnnpack"].all()
