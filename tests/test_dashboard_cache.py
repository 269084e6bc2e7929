"""Answers kept per store version (dashboard/cache.py, dashboard/store_reads.py): a republished
store is never answered from the cache, an open reader of the old file does not hide the new
one, concurrent askers compute once, error messages are not kept, and the shared page helpers."""

import shutil
import sys
import threading
import time

import pandas as pd
import pytest

from dashboard import queries
from dashboard.cache import ResultCache, freeze, fresh
from dashboard.store_reads import READERS, clear_caches, session, store_identity
from store import db

from .handmade_store import build


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return build(tmp_path_factory.mktemp("cache") / "nilm.duckdb")


@pytest.fixture
def store(built, tmp_path):
    """A private copy of the hand-made store: these tests republish it."""
    clear_caches()
    path = tmp_path / "nilm.duckdb"
    shutil.copyfile(built, path)
    shutil.copytree(db.artifacts_dir(built), db.artifacts_dir(path))
    return path


def _publish_rename(store, old: str, new: str) -> None:
    """Republish the store (copy, write, atomic rename) with one variant renamed."""
    with db.write_store(store) as con:
        con.execute("UPDATE variants SET variant_id = ? WHERE variant_id = ?", [new, old])


# -- the pure pieces ---------------------------------------------------------------------------
def test_freeze_keeps_types_and_refuses_unhashable_arguments():
    assert freeze(1) != freeze(1.0) != freeze(True)
    assert freeze([1, "a"]) != freeze((1, "a"))
    assert freeze({"a": [1, None]}) == freeze({"a": [1, None]})
    assert hash(freeze({"xaxis.range[0]": "2014-03-01", "b": [1, {"c": 2}]}))
    with pytest.raises(TypeError):
        freeze(pd.DataFrame({"a": [1]}))


def test_fresh_copies_cannot_change_the_kept_answer():
    df = pd.DataFrame({"a": [1, 2]})
    copy = fresh(df)
    copy["a"] = [5, 6]
    copy.loc[0, "a"] = 9
    assert df["a"].tolist() == [1, 2]
    kept = {"ops": {"n": 1}, "rows": [1]}
    mine = fresh(kept)
    mine["ops"]["n"] = 2
    mine["rows"].append(2)
    assert kept == {"ops": {"n": 1}, "rows": [1]}
    a, b = fresh((df, df))
    assert a is not df and b is not df


def test_result_cache_is_bounded_and_keeps_only_what_it_is_told():
    cache = ResultCache(2)
    for k in "abc":
        cache.get_or_compute(k, lambda k=k: (k.upper(), True))
    assert len(cache) == 2 and cache.get_or_compute("a", lambda: ("again", True)) == "again"
    assert cache.get_or_compute("x", lambda: ("error", False)) == "error"
    assert cache.get_or_compute("x", lambda: ("fine", True)) == "fine"
    assert cache.drop(lambda k: k in ("x", "a")) == 2 and len(cache) == 0


def test_concurrent_askers_of_one_key_compute_it_once():
    cache, calls, answers = ResultCache(8), [], []

    def compute():
        calls.append(1)
        time.sleep(0.3)
        return "page", True

    threads = [
        threading.Thread(target=lambda: answers.append(cache.get_or_compute("k", compute)))
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and answers == ["page"] * 8


def test_when_the_first_asker_fails_the_others_compute_their_own():
    cache, answers = ResultCache(8), []
    started = threading.Event()

    def failing():
        started.set()
        time.sleep(0.2)
        raise RuntimeError("store swapped")

    def first():
        with pytest.raises(RuntimeError):
            cache.get_or_compute("k", failing)

    t = threading.Thread(target=first)
    t.start()
    started.wait()
    answers.append(cache.get_or_compute("k", lambda: ("computed", True)))
    t.join()
    assert answers == ["computed"]


def test_store_identity_changes_on_every_publish(store, tmp_path):
    assert store_identity(tmp_path / "none.duckdb") is None
    assert store_identity(tmp_path) is None  # a folder is not a store
    before = store_identity(store)
    _publish_rename(store, "kettle.cnn.w8", "kettle.cnn.w8b")
    assert store_identity(store) not in (None, before)


# -- republishing ------------------------------------------------------------------------------
def test_a_republished_store_is_never_answered_from_the_cache(store):
    ids = queries.variant_ids(store)
    assert "kettle.cnn.w8" in ids and queries.variant_ids(store) == ids  # the second is kept
    _publish_rename(store, "kettle.cnn.w8", "kettle.cnn.w8_renamed")
    ids = queries.variant_ids(store)
    assert "kettle.cnn.w8_renamed" in ids and "kettle.cnn.w8" not in ids


def _layout(app, name: str, **params):
    import dash

    module = next(
        sys.modules[p["module"]] for p in dash.page_registry.values() if p["name"] == name
    )
    with app.server.test_request_context():
        return module.layout(**params)


def test_the_next_page_load_after_a_publish_shows_the_change(store):
    from dashboard.app import create_app

    app = create_app(store)
    first = _layout(app, "Variant")
    assert _layout(app, "Variant") is first  # the whole page is kept for this store version
    assert "kettle.cnn.w8_renamed" not in str(first.to_plotly_json())
    _publish_rename(store, "kettle.cnn.w8", "kettle.cnn.w8_renamed")
    after = str(_layout(app, "Variant").to_plotly_json())
    assert "kettle.cnn.w8_renamed" in after and "'kettle.cnn.w8'" not in after


def test_an_open_reader_of_the_old_file_neither_hides_nor_holds_up_the_new_one(store, monkeypatch):
    """DuckDB gives a plain connect the instance still open on the old file; the dashboard opens
    the new file beside it at once, and the old reader finishes on the old file."""
    monkeypatch.setattr(READERS, "linger_s", 0.2)
    assert "kettle.cnn.w8" in queries.variant_ids(store)
    opened, release, seen = threading.Event(), threading.Event(), []

    def old_reader():
        with session(store) as s, s.cursor() as cur:
            cur.execute("SELECT count(*) FROM variants").fetchall()
            opened.set()
            release.wait(10)
            seen.extend(r[0] for r in cur.execute("SELECT variant_id FROM variants").fetchall())

    reader = threading.Thread(target=old_reader)
    reader.start()
    opened.wait(10)
    _publish_rename(store, "kettle.cnn.w8", "kettle.cnn.w8_new")
    t0 = time.perf_counter()
    ids = queries.variant_ids(store)  # does not wait for the old reader
    waited = time.perf_counter() - t0
    assert not release.is_set()  # the new file was read while the old reader still held its own
    release.set()
    reader.join()
    assert "kettle.cnn.w8_new" in ids and "kettle.cnn.w8" not in ids
    assert waited < 5.0  # READERS.open_timeout_s is 30 s: it opened, it did not time out
    assert "kettle.cnn.w8" in seen and "kettle.cnn.w8_new" not in seen  # the old file, to the end
    assert "kettle.cnn.w8_new" in queries.variant_ids(store)
    time.sleep(0.5)
    assert str(store) not in READERS._open  # nothing left open once the readers are done


def test_one_page_load_opens_the_store_once(store, monkeypatch):
    """The layout and the callbacks that follow it share one open store (it lingers a moment)."""
    monkeypatch.setattr(READERS, "linger_s", 5.0)
    opened = []
    real = db.attach_readonly
    monkeypatch.setattr(db, "attach_readonly", lambda *a, **k: opened.append(1) or real(*a, **k))
    queries.variant_ids(store)
    queries.devices(store)
    assert len(opened) == 1 and str(store) in READERS._open
    _publish_rename(store, "kettle.cnn.w8", "kettle.cnn.w8_new")
    assert "kettle.cnn.w8_new" in queries.variant_ids(store)  # the idle old one is closed
    assert len(opened) == 2


def test_reads_during_publishes_never_fail_and_end_on_the_last_store(store):
    errors, stop = [], threading.Event()

    def reader():
        while not stop.is_set():
            try:
                with session(store):
                    queries.variant_ids(store)
                    queries.devices(store)
            except Exception as exc:  # noqa: BLE001 (any failure is the finding)
                errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    names = ["kettle.cnn.w8"] + [f"kettle.cnn.w8_{i}" for i in range(3)]
    for old, new in zip(names, names[1:], strict=False):
        _publish_rename(store, old, new)
    stop.set()
    for t in threads:
        t.join()
    assert errors == [] and "kettle.cnn.w8_2" in queries.variant_ids(store)


def test_an_error_message_is_not_kept(store, monkeypatch):
    from dashboard.app import create_app

    app = create_app(store)
    real = queries.variant_options

    def swapped(path):
        raise RuntimeError("store swapped mid-read")

    monkeypatch.setattr(queries, "variant_options", swapped)
    assert "could not read the store" in str(_layout(app, "Variant", id="x").to_plotly_json())
    monkeypatch.setattr(queries, "variant_options", real)
    assert "var-id" in str(_layout(app, "Variant", id="x").to_plotly_json())


# -- shared page helpers -----------------------------------------------------------------------
def test_page_header_title_device_line_and_hint():
    from dashboard.components import error_page, field, page_header

    title, line, hint = page_header("T", device=("x-line", ["on a"]), hint="h", hint_class="c")
    assert title.children[0].children == "T" and title.className == "mb-2"
    assert (line.id, line.className, line.children) == ("x-line", "device-line", ["on a"])
    assert (hint.children, hint.className) == ("h", "c")
    assert len(page_header("T")) == 1
    assert error_page("T", "why").children[1].className == "notice"
    col = field("label", "ctl", "control", xs=12)
    assert col.children[0].htmlFor == "ctl" and col.xs == 12


def test_budget_sliders_cover_the_data_and_every_preset():
    from dashboard.device_controls import budget_ranges
    from store.recommend import DEVICE_CLASSES

    ranges = budget_ranges({"latency_ms": (0.004, 2.0)})
    lo, hi = ranges["latency_ms"]
    assert 10**lo <= 0.004
    assert all(10**hi >= p["budgets"]["latency_ms"] for p in DEVICE_CLASSES.values())
    assert set(budget_ranges(None)) == {"latency_ms", "ram_mb", "disk_mb"}


# -- views carried over to a new version whose reads answer the same ---------------------------
def _publish_sql(store, sql: str) -> None:
    with db.write_store(store) as con:
        con.execute(sql)


def _counting_views(app, calls):
    """Two views: one reads the variants through a kept query, one reads a cursor directly."""
    from dashboard.callbacks import store_view
    from dashboard.store_reads import reading

    @store_view
    def ids_view():
        calls.append("ids")
        return sorted(queries.variant_ids(app.server.config["NILM_STORE"]))

    @store_view
    def raw_view():
        calls.append("raw")
        with reading(app.server.config["NILM_STORE"]) as con:
            return con.execute("SELECT count(*) FROM variants").fetchall()[0][0]

    return ids_view, raw_view


def test_a_view_whose_reads_answer_the_same_is_carried_to_the_new_version(store):
    from dashboard.app import create_app

    app = create_app(store)
    calls = []
    ids_view, raw_view = _counting_views(app, calls)
    with app.server.test_request_context():
        first, n = ids_view(), raw_view()
        assert calls == ["ids", "raw"]
        # a publish that changes a table the view does not read: its answer is carried over
        _publish_sql(store, "UPDATE runs SET status = status || ''; DELETE FROM memory")
        assert ids_view() is first and raw_view() == n
        assert calls == ["ids", "raw", "raw"]  # the raw cursor read is computed again
        # a publish that changes what it reads: computed again, and shows the change
        _publish_rename(store, "kettle.cnn.w8", "kettle.cnn.w8_carried")
        after = ids_view()
        assert calls[-1] == "ids" and "kettle.cnn.w8_carried" in after
        assert "kettle.cnn.w8" not in after


def test_a_view_showing_a_persons_sql_is_never_carried(store, monkeypatch):
    from dashboard.app import create_app
    from dashboard.callbacks import store_view

    app = create_app(store)
    calls = []

    @store_view
    def sql_view():
        calls.append(1)
        return queries.run_user_sql(app.server.config["NILM_STORE"], "SELECT 1 AS x")

    with app.server.test_request_context():
        sql_view()
        _publish_sql(store, "DELETE FROM memory")
        sql_view()
    assert len(calls) == 2


def test_a_carried_view_whose_new_version_cannot_be_read_shows_the_pages_own_message(store):
    """The carry-over check re-runs the page's queries on the new version; when that version
    cannot be read, the page computes afresh and shows its own message, not a failed request."""
    from dashboard.app import create_app

    app = create_app(store)
    client = app.server.test_client()
    body = {
        "output": ".._pages_content.children..._pages_store.data..",
        "outputs": [
            {"id": "_pages_content", "property": "children"},
            {"id": "_pages_store", "property": "data"},
        ],
        "inputs": [
            {"id": "_pages_location", "property": "pathname", "value": "/traces"},
            {"id": "_pages_location", "property": "search", "value": ""},
        ],
        "changedPropIds": ["_pages_location.pathname"],
        "state": [],
    }
    assert client.post("/_dash-update-component", json=body).status_code == 200
    _publish_sql(store, "UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    for _ in range(2):
        r = client.post("/_dash-update-component", json=body)
        text = r.get_data(as_text=True)
        assert r.status_code == 200 and "schema version '3'" in text, text[:300]


def test_an_attached_version_spills_beside_the_store(store):
    con = db.attach_readonly(store, "store")
    try:
        assert con.execute("SELECT current_setting('temp_directory')").fetchall()[0][0] == (
            f"{store}.tmp"
        )
        assert con.execute("SELECT count(*) FROM variants").fetchall()[0][0] > 0
    finally:
        con.close()
