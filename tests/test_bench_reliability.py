"""The reliability benchmark's verdict: a resume that fails makes it fail, loudly."""

from __future__ import annotations

import importlib

import pytest

from .conftest import ROOT


@pytest.fixture
def bench(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    module = importlib.import_module("bench_reliability")
    monkeypatch.setattr(module, "save", lambda name, data: None)  # keep bench/results as it is
    return module


FRESH_OK = {"kills": 1, "failed_resumes": 0, "inconsistent_stores": 0, "details": []}
FRESH_FAILED = {
    "kills": 1,
    "failed_resumes": 1,
    "inconsistent_stores": 0,
    "details": [{"resume_ok": False, "kept": "/scratch/fresh-0"}],
}
KILLS_OK = {
    "final_resume_ok": True,
    "starts_that_failed_by_themselves": 0,
    "inconsistent_stores": 0,
}


def test_failures_name_each_failed_resume(bench):
    assert bench._failures({"kills": KILLS_OK, "fresh_kills": FRESH_OK}) == []
    (line,) = bench._failures({"fresh_kills": FRESH_FAILED})
    assert "1 resume(s) after a fresh-store kill failed" in line and "fresh-0" in line
    final = bench._failures({"kills": {**KILLS_OK, "final_resume_ok": False}})
    assert final == ["the final resume after the kills did not finish (see kills.log)"]


@pytest.mark.parametrize("fresh, code", [(FRESH_OK, None), (FRESH_FAILED, 1)])
def test_a_failed_resume_makes_the_benchmark_exit_1(
    bench, monkeypatch, tmp_path, capsys, fresh, code
):
    monkeypatch.setattr(bench, "phase_fresh_kills", lambda work, args: fresh)
    argv = ["--kills", "0", "--readers", "0", "--clients", "0", "--fresh-kills", "1"]
    if code is None:
        bench.main([*argv, "--workdir", str(tmp_path)])
        assert "FAILED" not in capsys.readouterr().err
        return
    with pytest.raises(SystemExit) as exc:
        bench.main([*argv, "--workdir", str(tmp_path)])
    assert exc.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("FAILED: 1 resume(s) after a fresh-store kill failed")
