"""`pipeline all`'s live-progress file: the record, its writer, the hook in `run_all`, and the
dashboard's defensive reader and panel text."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from dashboard import progress as panel
from pipeline.progress import Progress, build_record, write_record
from store.progress_file import progress_path

STAGES = ["data", "train", "convert", "evaluate", "profile"]
T0 = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC).timestamp()


def _record(**over):
    args = dict(
        state="running",
        stages=STAGES,
        stage_index=3,
        started_at=T0,
        now=T0 + 723,
        pid=os.getpid(),
        host="here",
        run_id="r1",
        eta_s=480.0,
    )
    return build_record(**{**args, **over})


def test_progress_path_is_beside_the_store(tmp_path):
    assert progress_path(tmp_path / "nilm.duckdb") == tmp_path / "nilm.duckdb.progress.json"


def test_the_record_says_stage_elapsed_and_eta():
    rec = _record(items_done=2)
    assert rec["state"] == "running" and rec["stage"] == "convert"
    assert (rec["stage_index"], rec["stage_total"]) == (3, 5)
    assert rec["elapsed_s"] == 723.0 and rec["eta_s"] == 480.0
    assert rec["started_at"] == "2025-01-02T03:04:05+00:00"
    assert rec["updated_at"] == "2025-01-02T03:16:08+00:00"
    assert (rec["items_done"], rec["items_total"], rec["error"]) == (2, None, None)
    assert _record(eta_s=-5)["eta_s"] == 0.0 and _record(eta_s=None)["eta_s"] is None
    json.dumps(rec)  # plain JSON
    with pytest.raises(ValueError):
        _record(state="done")
    with pytest.raises(ValueError):
        _record(stage_index=6)


def test_the_writer_replaces_the_file_whole(tmp_path):
    store = tmp_path / "nilm.duckdb"
    now = [T0]
    p = Progress(store, STAGES, "r1", clock=lambda: now[0])
    p.stage(1, 600.0)
    now[0] += 100
    p.item("data", "kettle")
    p.item("train", "kettle.cnn")  # not the stage at work: not counted
    rec = json.loads(progress_path(store).read_text())
    assert (rec["stage"], rec["items_done"], rec["eta_s"], rec["elapsed_s"]) == (
        "data",
        1,
        500.0,
        100.0,
    )
    p.stage(2)
    assert json.loads(progress_path(store).read_text())["items_done"] == 0
    p.failed(KeyboardInterrupt())
    rec = json.loads(progress_path(store).read_text())
    assert (rec["state"], rec["stage"], rec["error"]) == ("failed", "train", "interrupted")
    p.finished()
    assert json.loads(progress_path(store).read_text())["state"] == "finished"
    assert [f.name for f in tmp_path.iterdir()] == ["nilm.duckdb.progress.json"]  # no temp left


def test_an_unwritable_progress_file_never_fails_the_run(tmp_path, capsys):
    p = Progress(tmp_path / "gone" / "nilm.duckdb", STAGES)
    p.stage(1)
    p.stage(2)
    assert capsys.readouterr().err.count("cannot write") == 1


def _ctx(store, appliances=()):
    from pipeline.cli.common import resolve_profile
    from pipeline.core.context import RunContext
    from store import db
    from store.vocab import Profile

    db.ensure_store(store)
    cfg = resolve_profile(Profile.SMOKE, None, None)
    return RunContext(store=store, cfg=cfg, appliances=list(appliances), archs=[])


def _stub_stages(monkeypatch, seen, fail_in=None, calls=None):
    import pipeline.convert.stage
    import pipeline.data.stage
    import pipeline.evaluate.stage
    import pipeline.measure.stage
    import pipeline.train.stage

    def stage(name):
        def run(ctx, *_):
            if name == fail_in:
                raise KeyboardInterrupt
            ctx.record_skips(name, ["a", "b"])
            seen[name] = json.loads(progress_path(ctx.store).read_text())
            if calls is not None:
                calls.append((name, [str(a) for a in ctx.appliances], seen[name]["stage"]))

        return run

    monkeypatch.setattr(pipeline.data.stage, "run_data", stage("data"))
    monkeypatch.setattr(pipeline.data.stage, "appliances_with_data", lambda ctx: ctx.appliances)
    monkeypatch.setattr(pipeline.train.stage, "run_train", stage("train"))
    monkeypatch.setattr(pipeline.convert.stage, "run_convert", stage("convert"))
    monkeypatch.setattr(pipeline.evaluate.stage, "run_evaluate", stage("evaluate"))
    monkeypatch.setattr(pipeline.measure.stage, "run_profile", stage("profile"))


def test_run_all_writes_each_stage_its_items_and_the_end(tmp_path, monkeypatch):
    from pipeline.all_stages import run_all

    store, seen = tmp_path / "nilm.duckdb", {}
    _stub_stages(monkeypatch, seen)
    run_all(_ctx(store), None)
    assert [(r["stage"], r["stage_index"], r["items_done"]) for r in seen.values()] == [
        (name, i, 2) for i, name in enumerate(STAGES, 1)
    ]
    assert {r["state"] for r in seen.values()} == {"running"}
    assert seen["data"]["pid"] == os.getpid()
    end = json.loads(progress_path(store).read_text())
    assert (end["state"], end["stage_index"]) == ("finished", 5)


def test_run_all_takes_the_kettle_end_to_end_before_the_others(tmp_path, monkeypatch):
    from pipeline.all_stages import run_all
    from store.vocab import Appliance

    store, seen, calls = tmp_path / "nilm.duckdb", {}, []
    _stub_stages(monkeypatch, seen, calls=calls)
    run_all(_ctx(store, [Appliance.FRIDGE, Appliance.KETTLE]), None)
    both = ["fridge", "kettle"]
    assert calls == [
        ("data", both, "data"),
        ("train", ["kettle"], "train kettle"),
        ("convert", ["kettle"], "convert kettle"),
        ("evaluate", ["kettle"], "evaluate kettle"),
        ("profile", ["kettle"], "profile kettle"),
        ("train", both, "train"),
        ("convert", both, "convert"),
        ("evaluate", both, "evaluate"),
        ("profile", both, "profile"),
    ]
    assert seen["train"]["items_done"] == 2  # items of the stage the label names are counted
    assert seen["train"]["complete"] == ["kettle"]  # the kettle's pages were final by then
    end = json.loads(progress_path(store).read_text())
    assert (end["state"], end["stage_index"], end["stage_total"]) == ("finished", 9, 9)
    assert end["complete"] == ["kettle", "fridge"]
    # the stage times stay one row per stage (both passes summed), as benchmarks read them
    from store import db

    rows = db.query_df(store, "SELECT stage FROM stage_timings WHERE item = '*' ORDER BY 1")
    assert sorted(rows["stage"]) == ["all", "convert", "data", "evaluate", "profile", "train"]


def test_run_all_marks_the_models_ready_then_the_appliances_complete(tmp_path, monkeypatch):
    from dataclasses import replace

    from pipeline.all_stages import run_all
    from store.vocab import Appliance, Arch

    store, seen, calls = tmp_path / "nilm.duckdb", {}, []
    _stub_stages(monkeypatch, seen, calls=calls)
    archs_seen = []
    import pipeline.train.stage

    def train(ctx, *_):
        archs_seen.append(([str(a) for a in ctx.appliances], [str(a) for a in ctx.archs]))
        seen["train"] = json.loads(progress_path(ctx.store).read_text())
        if len(archs_seen) == 3:  # the kettle's whole pass
            seen["train whole"] = seen["train"]

    monkeypatch.setattr(pipeline.train.stage, "run_train", train)
    ctx = replace(
        _ctx(store, [Appliance.FRIDGE, Appliance.KETTLE]), archs=[Arch.CNN, Arch.TRANSFORMER]
    )
    run_all(ctx, None)
    assert archs_seen == [
        (["kettle"], ["cnn"]),
        (["fridge"], ["cnn"]),
        (["kettle"], ["cnn", "transformer"]),
        (["fridge", "kettle"], ["cnn", "transformer"]),
    ]
    # when the kettle's whole pass trains, both CNNs are ready and no appliance is complete yet
    assert seen["train whole"]["models_complete"] == ["kettle.cnn", "fridge.cnn"]
    assert seen["train whole"]["complete"] == []
    end = json.loads(progress_path(store).read_text())
    assert end["complete"] == ["kettle", "fridge"]


def test_the_panel_names_the_models_ready_before_their_appliance_is_complete(tmp_path):
    store = tmp_path / "nilm.duckdb"
    rec = _record(
        host="elsewhere", complete=["kettle"], models_complete=["kettle.cnn", "washing_machine.cnn"]
    )
    _write(store, rec)
    text = panel.progress_text(panel.read_progress(store), now=T0 + 723)
    assert "Complete: kettle (every stage done" in text
    # the kettle's CNN is part of a complete appliance: only the washing machine's is named
    assert "Ready so far: washing machine cnn (" in text and "kettle cnn" not in text
    assert "its recommendation may change" in text
    _write(store, {**rec, "models_complete": ["x" * 41, 3, "fridge.cnn"]})  # odd entries dropped
    assert panel.read_progress(store)["models_complete"] == ["fridge.cnn"]
    _write(store, {k: v for k, v in rec.items() if k != "models_complete"})  # an older file
    assert "Ready so far" not in panel.progress_text(panel.read_progress(store), now=T0 + 723)


def test_run_all_interrupted_says_failed_and_reraises(tmp_path, monkeypatch):
    from pipeline.all_stages import run_all

    store = tmp_path / "nilm.duckdb"
    _stub_stages(monkeypatch, {}, fail_in="convert")
    with pytest.raises(KeyboardInterrupt):
        run_all(_ctx(store), None)
    rec = json.loads(progress_path(store).read_text())
    assert (rec["state"], rec["stage"], rec["error"]) == ("failed", "convert", "interrupted")


# -- the dashboard's reader ------------------------------------------------------------------


def _write(store, rec):
    write_record(progress_path(store), rec)


def test_a_running_record_reads_back_as_the_panel_sentence(tmp_path):
    store = tmp_path / "nilm.duckdb"
    _write(store, _record(stage_index=4, now=T0 + 60))
    rec = panel.read_progress(store)
    assert rec is not None and rec["state"] == "running" and rec["stage"] == "evaluate"
    # a run on another machine is taken as running (its pid cannot be checked from here)
    rec = {**rec, "host": "another-machine"}
    text = panel.progress_text(rec, now=T0 + 723)
    assert text.startswith("Pipeline running: stage 4/5 evaluate \u2014 elapsed 12:03, ")
    # 480 s left at T0+60, 663 s later: over by 183 s
    assert "taking longer than the last full run" in text
    text = panel.progress_text(rec, now=T0 + 120)
    assert "about 7 min left (from the last full run)" in text
    assert "results appear" in text.lower()
    assert panel.run_state(rec) == "running"
    assert panel.run_state({**rec, "host": "another-machine", "pid": 2**30}) == "running"


def test_items_and_long_runs_read_well(tmp_path):
    rec = panel.read_progress(_store_with(tmp_path, _record(items_done=3, host="another-machine")))
    assert "stage 3/5 convert (3 done) \u2014 elapsed 1:01:05" in panel.progress_text(
        rec, now=T0 + 3665
    )
    rec = panel.read_progress(
        _store_with(
            tmp_path,
            _record(items_done=3, items_total=10, host="elsewhere", complete=["washing_machine"]),
        )
    )
    text = panel.progress_text(rec, now=T0 + 3665)
    assert "(3/10 done)" in text and "Complete: washing machine (every stage done" in text


def _store_with(tmp_path, rec):
    store = tmp_path / "nilm.duckdb"
    _write(store, rec)
    return store


def test_missing_or_garbage_files_show_no_panel(tmp_path):
    store = tmp_path / "nilm.duckdb"
    assert panel.read_progress(store) is None
    bad = [
        b"",
        b"{",
        b"not json",
        b"[1, 2]",
        b"null",
        json.dumps({"state": "running"}).encode(),
        json.dumps({**_record(), "state": "paused"}).encode(),
        json.dumps({**_record(), "stage_index": 9}).encode(),
        json.dumps({**_record(), "stage_index": "3"}).encode(),
        json.dumps({**_record(), "started_at": "yesterday"}).encode(),
        json.dumps({**_record(), "started_at": "2025-01-02T03:04:05"}).encode(),  # no zone
        json.dumps({**_record(), "stage": ["x"]}).encode(),
        json.dumps(_record())[:-20].encode(),  # a partial file
        b"\xff\xfe\x00garbage",
        b" " * 70_000,
    ]
    for raw in bad:
        progress_path(store).write_bytes(raw)
        assert panel.read_progress(store) is None, raw[:60]
        assert panel.progress_text(panel.read_progress(store)) is None
    progress_path(store).unlink()
    progress_path(store).mkdir()  # a folder where the file belongs
    assert panel.read_progress(store) is None


def test_odd_field_values_are_dropped_not_shown(tmp_path):
    rec = panel.read_progress(
        _store_with(
            tmp_path,
            {**_record(), "eta_s": "soon", "items_done": -1, "pid": True, "error": 5},
        )
    )
    assert (rec["eta_s"], rec["items_done"], rec["pid"], rec["error"]) == (None,) * 4


def test_a_dead_pid_or_a_failed_run_says_it_stopped(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    import socket

    rec = panel.read_progress(
        _store_with(tmp_path, _record(pid=child.pid, host=socket.gethostname()))
    )
    assert panel.run_state(rec) == "stopped"
    assert panel.progress_text(rec).startswith(
        "The last pipeline run stopped before finishing (stage 3/5 convert)."
    )
    failed = panel.read_progress(_store_with(tmp_path, _record(state="failed", error="x")))
    assert "stopped before finishing (stage 3/5 convert)" in panel.progress_text(failed)


def test_a_finished_run_shows_no_panel(tmp_path):
    rec = panel.read_progress(_store_with(tmp_path, _record(state="finished", stage_index=5)))
    assert rec is not None and panel.progress_text(rec) is None


def test_a_pid_reused_after_the_run_started_is_not_the_run():
    from store.progress_file import process_alive

    assert process_alive(os.getpid())
    assert not process_alive(os.getpid(), started_at=T0)  # this process is younger than T0
    assert not process_alive(None)


def test_no_store_yet_says_results_will_appear_while_a_run_is_live(tmp_path):
    import socket

    store = tmp_path / "nilm.duckdb"
    assert panel.no_store_yet(store, "no store here yet") == "no store here yet"
    _write(store, _record(host=socket.gethostname(), started_at=datetime.now(UTC).timestamp()))
    assert "results will appear here as the run publishes them" in panel.no_store_yet(store, "x")
    store.write_bytes(b"")  # an empty file: the same
    assert "as the run publishes them" in panel.no_store_yet(store, "x")
    store.write_bytes(b"x" * 10)  # a file that is there: its own error stands
    assert panel.no_store_yet(store, "damaged") == "damaged"


def test_the_dashboard_starts_before_the_store_exists_only_when_told(tmp_path, monkeypatch):
    import waitress
    from typer.testing import CliRunner

    from dashboard.serve import cli

    served = []
    monkeypatch.setattr(waitress, "serve", lambda app, **kw: served.append(kw))
    missing = tmp_path / "nilm.duckdb"
    assert CliRunner().invoke(cli, ["--store", str(missing)]).exit_code == 1
    res = CliRunner().invoke(cli, ["--store", str(missing), "--allow-missing", "--port", "8123"])
    assert res.exit_code == 0, res.output
    assert served and served[0]["port"] == 8123 and not missing.exists()
    missing.write_bytes(b"not a store")  # a file that is not a store is still an error
    assert CliRunner().invoke(cli, ["--store", str(missing), "--allow-missing"]).exit_code == 1


def test_the_eta_comes_from_the_last_run_that_did_the_work(tmp_path):
    """A run that skipped most of its items (a refresh) is not the pace; a resumed run that
    skipped a few is; an item made and later skipped in that run counts its longer time."""
    from pipeline.all_stages import previous_item_times

    store = tmp_path / "nilm.duckdb"
    ctx = _ctx(store)
    with _rw(store) as con:
        for run, day, skip_train, secs in (("full", 1, 1, 100), ("refresh", 2, 8, 5)):
            con.execute(
                "INSERT INTO runs (run_id, command, profile, config, config_hash, host, "
                "started_at, finished_at, status) VALUES (?, 'all', 'smoke', '{}', 'h', 'vm', "
                "?, ?, 'ok')",
                [run, f"2026-01-0{day} 00:00:00", f"2026-01-0{day} 01:00:00"],
            )
            rows = [(run, "data", "kettle", True, secs), (run, "all", "*", False, secs)]
            rows += [(run, "train", f"kettle.m{i}", i < skip_train, secs + i) for i in range(10)]
            rows += [(run, "train", "kettle.m5", True, 0.1)]  # made, then skipped again
            rows += [(run, "profile", "kettle.m1@vm", False, 7.0)]
            rows += [(run, s, "*", False, secs) for s in ("data", "train")]
            con.executemany(
                "INSERT INTO stage_timings (run_id, stage, item, skipped, seconds, finished_at) "
                "VALUES (?, ?, ?, ?, ?, now())",
                rows,
            )
    times = previous_item_times(ctx)
    assert times["train"] == {f"kettle.m{i}": 100.0 + i for i in range(10)}
    # a run in the plan's order makes the CNN in its own pass and skips it in the whole pass:
    # one item made, so that run is the pace
    with _rw(store) as con:
        con.execute(
            "INSERT INTO runs (run_id, command, profile, config, config_hash, host, started_at, "
            "finished_at, status) VALUES ('cnnfirst', 'all', 'smoke', '{}', 'h', 'vm', "
            "'2026-01-03 00:00:00', '2026-01-03 01:00:00', 'ok')"
        )
        con.executemany(
            "INSERT INTO stage_timings (run_id, stage, item, skipped, seconds, finished_at) "
            "VALUES ('cnnfirst', ?, ?, ?, ?, now())",
            [
                (stage, item, skipped, 0.0 if skipped else 50.0)
                for stage in ("train", "convert", "profile")
                for item, skipped in (("k.cnn", False), ("k.cnn", True), ("k.transformer", False))
            ],
        )
    assert previous_item_times(ctx)["train"] == {"k.cnn": 50.0, "k.transformer": 50.0}
    assert times["data"] == {"kettle": 100.0}
    assert times["profile"] == {"kettle.m1": 7.0}  # keyed by model, without the host


def test_the_plan_answers_with_the_cnns_first_and_times_each_step_once():
    """Both architectures: the first appliance's CNN end to end, the other CNNs, the first
    appliance whole, then everything; an item an earlier step made costs nothing again."""
    from pipeline.all_stages import build_plan, step_estimates
    from store.vocab import Appliance, Arch

    apps = [Appliance.KETTLE, Appliance.FRIDGE, Appliance.MICROWAVE]
    archs = [Arch.CNN, Arch.TRANSFORMER]
    steps = build_plan(apps, archs)
    labels = [label for label, *_ in steps]
    assert labels == ["data"] + [
        f"{s}{suffix}"
        for suffix in (" kettle cnn", " cnn", " kettle", "")
        for s in ("train", "convert", "evaluate", "profile")
    ]
    assert steps[5][2:] == ([Appliance.FRIDGE, Appliance.MICROWAVE], [Arch.CNN])
    # one architecture, or one appliance: no CNN pass of the others
    assert len(build_plan(apps, [Arch.TRANSFORMER])) == 9
    assert [lb for lb, *_ in build_plan([Appliance.KETTLE], archs)][1:5] == [
        "train kettle cnn",
        "convert kettle cnn",
        "evaluate kettle cnn",
        "profile kettle cnn",
    ]

    times = {
        "data": {a.value: 1.0 for a in apps},
        "train": {
            f"{a.value}.{x.value}": 10.0 if x is Arch.CNN else 100.0 for a in apps for x in archs
        },
        "evaluate": {"kettle:cnn": 30.0, "kettle:cnn,transformer": 20.0},
    }
    expected, counts = step_estimates(steps, apps, archs, times)
    by = dict(zip(labels, zip(expected, counts, strict=True), strict=True))
    assert by["data"] == (3.0, 3)
    assert by["train kettle cnn"] == (10.0, 1)
    assert by["train cnn"] == (20.0, 2)
    assert by["train kettle"] == (100.0, 2)  # its CNN is current by then
    assert by["train"] == (200.0, 6)  # the two other transformers; six items touched
    assert by["evaluate kettle cnn"] == (30.0, 1)
    # items that run did not have are taken at the stage's mean item time (25 s)
    assert by["evaluate cnn"] == (50.0, 2)
    assert by["evaluate kettle"] == (20.0, 1)
    assert by["evaluate"] == (50.0, 3)
    assert by["convert"] == (None, 6)  # a stage that run did not have: unknown


def _rw(store):
    import duckdb

    return duckdb.connect(str(store))


def test_the_empty_overview_says_a_live_run_is_filling_the_store(tmp_path):
    import socket

    from dashboard.app import create_app
    from store import db

    store = tmp_path / "nilm.duckdb"
    db.ensure_store(store)
    app = create_app(store)
    from dashboard.pages import overview

    with app.server.test_request_context("/"):
        assert "run `pipeline all`" in str(overview.layout())
        now = datetime.now(UTC).timestamp()
        _write(store, _record(host=socket.gethostname(), started_at=now, now=now))
        text = str(overview.layout())
        assert "the `pipeline all` run shown above is filling the store" in text
