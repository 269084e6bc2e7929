"""The dashboard in a real headless Chromium (dash_duo): every page, the click-through, zoom and SQL."""

import time

import pytest

from .conftest import chromedriver_available

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not chromedriver_available(), reason="chromium/chromedriver not installed"),
]

PAGES = [
    ("overview", "/", "#leaderboard"),
    ("tradeoff", "/tradeoff", "#tradeoff-graph .main-svg"),
    ("variant", "/variant?id=kettle.cnn.w8_a8", "#qerr-a .main-svg"),
    ("traces", "/traces", "#trace-graph .main-svg"),
    ("quantization", "/quantization", "#qz-heatmap .main-svg"),
    ("sql", "/sql", "#sql-text"),
]


@pytest.fixture
def app(smoke_store):
    from dashboard.app import create_app

    return create_app(smoke_store)


@pytest.fixture
def dash_duo(dash_duo):
    dash_duo.driver.set_window_size(1400, 1000)
    return dash_duo


def _severe(logs):
    return [entry for entry in logs if entry.get("level") == "SEVERE"]


def test_every_page_loads_without_console_errors(dash_duo, app, screenshot_dir):
    dash_duo.start_server(app)
    for name, path, selector in PAGES:
        dash_duo.driver.get(dash_duo.server_url + path)
        dash_duo.wait_for_element(selector, timeout=20)
        time.sleep(0.5)
        dash_duo.driver.save_screenshot(str(screenshot_dir / f"page-{name}.png"))
        assert _severe(dash_duo.get_logs() or []) == [], name
        assert "Traceback" not in dash_duo.driver.page_source


def test_tradeoff_click_opens_the_variant(dash_duo, app):
    dash_duo.start_server(app)
    dash_duo.driver.get(dash_duo.server_url + "/tradeoff")
    dash_duo.wait_for_element("#tradeoff-graph .scatterlayer .point", timeout=20)
    point = dash_duo.find_elements("#tradeoff-graph .scatterlayer .point")[0]
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(dash_duo.driver).move_to_element(point).click().perform()
    deadline = time.time() + 15
    while "/variant" not in dash_duo.driver.current_url and time.time() < deadline:
        time.sleep(0.2)
    assert "/variant?id=kettle." in dash_duo.driver.current_url
    dash_duo.wait_for_element("#var-body h3", timeout=20)
    vid = dash_duo.driver.current_url.split("id=")[1]
    assert dash_duo.find_element("#var-body h3").text == vid


def test_share_link_carries_the_selection(dash_duo, app):
    dash_duo.start_server(app)
    dash_duo.driver.get(dash_duo.server_url + "/tradeoff?metric=mae&x=disk_mb&appliance=kettle")
    dash_duo.wait_for_element("#tradeoff-graph .main-svg", timeout=20)
    deadline = time.time() + 15
    href = ""
    while time.time() < deadline and "metric=mae" not in href:
        href = dash_duo.find_element("#to-share").get_attribute("href") or ""
        time.sleep(0.2)
    assert "metric=mae" in href and "x=disk_mb" in href and "appliance=kettle" in href
    assert "disk" in dash_duo.find_element("#tradeoff-graph .xtitle").text


def test_trace_zoom_requeries_the_visible_range(dash_duo, app, screenshot_dir):
    dash_duo.start_server(app)
    dash_duo.driver.get(dash_duo.server_url + "/traces")
    dash_duo.wait_for_contains_text("#trace-points", "whole trace", timeout=20)
    from selenium.webdriver.common.action_chains import ActionChains

    drag = dash_duo.wait_for_element("#trace-graph .nsewdrag", timeout=20)
    width = drag.size["width"]
    chain = ActionChains(dash_duo.driver).move_to_element(drag).move_by_offset(-width // 6, 0)
    chain.click_and_hold().move_by_offset(width // 8, 0).move_by_offset(
        width // 8, 5
    ).release().perform()
    dash_duo.wait_for_contains_text("#trace-points", " for ", timeout=20)
    dash_duo.driver.save_screenshot(str(screenshot_dir / "traces-zoomed.png"))


@pytest.mark.parametrize(
    "sql, text",
    [
        ("DROP TABLE variants", "only read queries"),
        ("SELECT * FROM read_csv('/etc/passwd')", "Permission"),
    ],
)
def test_sql_page_rejects_writes_and_file_reads(dash_duo, app, sql, text):
    dash_duo.start_server(app)
    dash_duo.driver.get(dash_duo.server_url + "/sql")
    box = dash_duo.wait_for_element("#sql-text", timeout=20)
    from selenium.webdriver.common.keys import Keys

    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.DELETE)
    box.send_keys(sql)
    dash_duo.find_element("#sql-run").click()
    dash_duo.wait_for_contains_text("#sql-error", text, timeout=20)


def test_sql_page_runs_a_read_query(dash_duo, app, screenshot_dir):
    dash_duo.start_server(app)
    dash_duo.driver.get(dash_duo.server_url + "/sql")
    dash_duo.wait_for_element("#sql-text", timeout=20)
    dash_duo.find_element("#sql-run").click()
    dash_duo.wait_for_contains_text("#sql-rows", "rows", timeout=20)
    dash_duo.driver.save_screenshot(str(screenshot_dir / "sql-result.png"))


def test_missing_store_shows_a_friendly_message(dash_duo, tmp_path):
    from dashboard.app import create_app

    dash_duo.start_server(create_app(tmp_path / "none.duckdb"))
    dash_duo.wait_for_contains_text(".notice", "no store here yet", timeout=20)
