"""A page's whole answer is kept per store version: served as is while the store file is the
same, computed anew after a publish, and never kept for a page that shows anything else."""

from __future__ import annotations

from .handmade_store import build
from .test_reliability import _page


def _client(store):
    from dashboard.app import create_app
    from dashboard.store_reads import clear_caches

    clear_caches()
    return create_app(store).server.test_client()


def _kept(store) -> list:
    from dashboard.store_reads import PAGE_RESPONSES

    return [k for k in PAGE_RESPONSES._data if k[1] == str(store.resolve())]


def test_a_page_answer_is_kept_per_store_version_and_renewed_by_a_publish(tmp_path):
    from store import db

    store = build(tmp_path / "nilm.duckdb")
    client = _client(store)
    first = client.post("/_dash-update-component", json=_page("/tradeoff"))
    assert first.status_code == 200 and len(_kept(store)) == 1
    again = client.post("/_dash-update-component", json=_page("/tradeoff"))
    assert again.data == first.data and again.mimetype == "application/json"
    assert len(_kept(store)) == 1
    other = client.post("/_dash-update-component", json=_page("/tradeoff", "?metric=mae"))
    assert other.status_code == 200 and len(_kept(store)) == 2  # the address is in the key

    with db.write_store(store) as con:  # a publish: a new file renamed over the store
        con.execute("DELETE FROM latency")
    after = client.post("/_dash-update-component", json=_page("/tradeoff"))
    assert after.status_code == 200 and after.data != first.data
    (key,) = _kept(store)  # the older version's answers are forgotten
    assert key[2] == tuple(db_identity(store))


def db_identity(store):
    from dashboard.store_reads import store_identity

    return store_identity(str(store.resolve()))


def test_pages_that_show_more_than_the_store_are_never_kept(tmp_path):
    from store import db

    store = tmp_path / "empty.duckdb"
    db.ensure_store(store)  # no device yet: the Overview follows the live run's progress file
    client = _client(store)
    assert client.post("/_dash-update-component", json=_page("/")).status_code == 200
    assert client.post("/_dash-update-component", json=_page("/article")).status_code == 200
    assert _kept(store) == []
