"""The SQL page in a real headless Chromium: shared links run their query, examples fill the
editor, a result cut at the row limit says so."""

import urllib.parse

import pytest

from .cli_support import tiny_store
from .conftest import chromedriver_available

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not chromedriver_available(), reason="chromium/chromedriver not installed"),
]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """One app for the module: Dash's page registry is process-wide."""
    from dashboard.app import create_app

    return create_app(tiny_store(tmp_path_factory.mktemp("sql") / "nilm.duckdb"))


def test_a_shared_link_runs_its_query_on_load(dash_duo, app):
    dash_duo.start_server(app)
    q = "SELECT 42 AS answer, 'kettle' AS appliance"
    dash_duo.driver.get(dash_duo.server_url + "/sql?q=" + urllib.parse.quote(q))
    dash_duo.wait_for_contains_text("#sql-rows", "1 rows in ", timeout=30)  # and its time
    dash_duo.wait_for_contains_text("#sql-table", "42", timeout=10)
    href = dash_duo.find_element("#sql-share").get_attribute("href")
    assert urllib.parse.unquote_plus(href.split("q=", 1)[1]) == q


def test_examples_fill_the_editor_and_run(dash_duo, app):
    # (importing dashboard.pages.sql here would register the page a second time)
    label, query = "Columns of the tradeoff view", "DESCRIBE tradeoff"
    dash_duo.start_server(app)
    dash_duo.driver.get(dash_duo.server_url + "/sql")
    dash_duo.wait_for_element("#sql-text", timeout=20)
    dash_duo.select_dcc_dropdown("#sql-example", value=label)
    dash_duo.wait_for_text_to_equal("#sql-text", query, timeout=10)
    dash_duo.find_element("#sql-run").click()
    dash_duo.wait_for_contains_text("#sql-rows", "rows", timeout=30)
    dash_duo.wait_for_contains_text("#sql-table", "variant_id", timeout=10)


def test_rows_cut_at_the_limit_are_announced(dash_duo, app):
    dash_duo.start_server(app)
    dash_duo.driver.get(dash_duo.server_url + "/sql?q=" + urllib.parse.quote("FROM range(9000)"))
    dash_duo.wait_for_contains_text("#sql-rows", "cut at the row limit", timeout=30)
