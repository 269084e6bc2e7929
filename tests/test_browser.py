"""The dashboard in a real headless Chromium (dash_duo): every page, the click-through, zoom and SQL."""

import hashlib
import time
import urllib.parse
import urllib.request

import pytest
from selenium.common.exceptions import (
    ElementClickInterceptedException,
    StaleElementReferenceException,
)
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys

from .conftest import chromedriver_available
from .handmade_store import build

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not chromedriver_available(), reason="chromium/chromedriver not installed"),
]

PAGES = [
    ("overview", "/", "#recommendation .ag-row"),
    ("tradeoff", "/tradeoff", "#tradeoff-graph .main-svg"),
    ("variant", "/variant?id=kettle.cnn.w8_a8&tab=ops", "#ops-type-a .main-svg"),
    ("compare", "/compare?ids=kettle.cnn.w8,kettle.transformer.w8", "#cmp-f1 .main-svg"),
    ("traces", "/traces", "#trace-graph .main-svg"),
    ("quantization", "/quantization", "#qz-heatmap .main-svg"),
    ("article", "/article?metric=mae_masked", "#art-graph .main-svg"),
    ("sql", "/sql", "#sql-text"),
]
WIDTHS = (1400, 412)


@pytest.fixture(scope="module")
def hand_store(tmp_path_factory):
    return build(tmp_path_factory.mktemp("browser") / "nilm.duckdb")


@pytest.fixture
def app(hand_store):
    from dashboard.app import create_app

    return create_app(hand_store)


@pytest.fixture
def dash_duo(dash_duo):
    dash_duo.driver.set_window_size(1400, 1000)
    return dash_duo


def _severe(logs):
    return [entry for entry in logs if entry.get("level") == "SEVERE"]


def _wait(predicate, timeout=15.0, what="condition", shown=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            value = predicate()
        except StaleElementReferenceException:  # re-rendered while read: look again
            value = None
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(
        f"timed out waiting for {what}" + (f" (shown: {shown()})" if shown else "")
    )


def _click(element):
    """Click as a person would. Content rendered above the element after it was scrolled into
    view can push it below the fold (seen under load): bring it back into view and try again;
    a failure says where the element was and what took the click."""

    taken_by = []

    def attempt():
        try:
            element.click()
            return True
        except ElementClickInterceptedException:
            driver = element.parent
            taken_by[:] = [
                driver.execute_script(
                    "const r = arguments[0].getBoundingClientRect();"
                    "const e = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);"
                    "return [r.y, window.innerHeight, e ? e.outerHTML.slice(0, 160) : null];",
                    element,
                )
            ]
            driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
            return False

    _wait(attempt, what="a click that reaches the element", shown=lambda: taken_by)


def _recommended(dash_duo, appliance):
    return dash_duo.find_element(f"#open-rec-{appliance}").text.removeprefix("open ")


def test_every_page_at_desktop_and_phone_width(dash_duo, app, screenshot_dir):
    dash_duo.start_server(app)
    for width in WIDTHS:
        dash_duo.driver.set_window_size(width, 900)
        for name, path, selector in PAGES:
            dash_duo.driver.get(dash_duo.server_url + path)
            dash_duo.wait_for_element(selector, timeout=20)
            time.sleep(0.6)
            dash_duo.driver.save_screenshot(str(screenshot_dir / f"page-{name}-{width}.png"))
            assert _severe(dash_duo.get_logs() or []) == [], (name, width)
            assert "Traceback" not in dash_duo.driver.page_source
            title = dash_duo.driver.title
            assert title.startswith("nilm-edge") and (name == "sql" or "·" in title), title
            # no sideways scrolling of the page itself (wide tables scroll inside their grid)
            overflow = dash_duo.driver.execute_script(
                "return document.documentElement.scrollWidth - window.innerWidth"
            )
            assert overflow <= 1, (name, width, overflow)
    dash_duo.driver.set_window_size(1400, 900)
    dash_duo.driver.get(dash_duo.server_url + "/tradeoff")
    dash_duo.wait_for_element("#tradeoff-graph .main-svg", timeout=20)
    active = dash_duo.find_element("#nav-tradeoff")
    assert "active" in active.get_attribute("class")


def _choose(dash_duo, dropdown: str, starts: str) -> int:
    """Open a dropdown and click the option whose text starts with ``starts``: 2 clicks."""
    dash_duo.find_element(dropdown).click()
    options = _wait(
        lambda: dash_duo.find_elements(".dash-dropdown-option"), what=f"{dropdown} options"
    )
    hit = next((o for o in options if o.text.startswith(starts)), None)
    assert hit is not None, [o.text for o in options]
    hit.click()
    return 2


def test_decision_flow_pi_class_kettle_answer_in_three_clicks(
    dash_duo, app, hand_store, screenshot_dir
):
    """The stakeholder's question: which variant do I ship for the kettle on a Raspberry Pi 4,
    and how much accuracy do I give up versus float? Device class -> kettle -> the answer."""
    dash_duo.start_server(app)
    dash_duo.driver.get(dash_duo.server_url + "/")
    dash_duo.wait_for_element("#open-rec-kettle", timeout=20)
    assert _recommended(dash_duo, "kettle") == "kettle.transformer.convert_only"  # the devbox
    assert "devbox" in dash_duo.find_element("#ov-device-line").text

    # 1-2. the Pi 4 class: the device moves to the measured Pi, the kettle's answer follows
    clicks = _choose(dash_duo, "#ov-preset", "Raspberry Pi 4")
    _wait(lambda: "pi4" in dash_duo.find_element("#ov-device-line").text, what="device line")
    _wait(
        lambda: "ship kettle.cnn.convert_only" in dash_duo.find_element("#answer-kettle").text,
        what="the kettle's answer on the Pi",
        shown=lambda: dash_duo.find_element("#answer-kettle").text,
    )
    answer = dash_duo.find_element("#answer-kettle").text
    assert clicks <= 3
    dash_duo.driver.save_screenshot(str(screenshot_dir / "flow-1-answer.png"))
    # measured on a Pi-class host, not projected from the x86 one
    assert "measured on pi4 (aarch64)" in answer and "not measured" not in answer
    assert dash_duo.find_elements("#ov-device-line .not-measured") == []
    assert "Raspberry Pi 4" in dash_duo.find_element("#ov-device-line").text
    # the energy error, the paired loss to float, byte-identical files as one entry
    assert "energy-per-day error +2.5 %" in answer
    assert "-0.01 [-0.018, -0.002] F1 vs its float model (paired)" in answer
    assert "one entry each: kettle.cnn.w8_a8 = kettle.cnn.w8_a8_fallback" in answer


def test_a_budget_an_unmeasured_class_and_the_shared_url_on_the_overview(dash_duo, app):
    dash_duo.start_server(app)
    dash_duo.driver.get(dash_duo.server_url + "/?preset=cortex_a")  # the class's measured host
    dash_duo.wait_for_contains_text("#answer-kettle", "ship kettle.cnn.convert_only", timeout=20)
    assert "pi4" in dash_duo.find_element("#ov-device-line").text
    # a budget of 5 ms leaves nothing for the kettle on the Pi: it says so and why
    box = dash_duo.find_element("#ov-latency_ms-in")
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.DELETE)
    box.send_keys("5" + Keys.ENTER)
    _wait(
        lambda: "nothing recommended" in dash_duo.find_element("#answer-kettle").text,
        what="no recommendation under 5 ms",
    )
    assert "5 ms" in dash_duo.find_element("#ov-rule").text
    assert dash_duo.find_elements("#open-rec-kettle") == []
    _wait(
        lambda: "lat=5" in dash_duo.driver.current_url and "pi4" in dash_duo.driver.current_url,
        what="state in the address bar",
    )
    url = dash_duo.driver.current_url

    # a class nothing was measured on: the figures are said to come from another host
    _choose(dash_duo, "#ov-preset", "Pi Zero 2")
    _wait(
        lambda: dash_duo.find_elements("#ov-device-line .not-measured"),
        what="not-measured warning",
    )
    assert "not measured on a Pi Zero 2" in dash_duo.find_element("#ov-answers").text

    # the shared URL brings the same view back
    dash_duo.driver.get(url)
    dash_duo.wait_for_contains_text("#answer-kettle", "nothing recommended", timeout=20)
    assert "pi4" in dash_duo.find_element("#ov-device-line").text
    assert dash_duo.find_element("#ov-latency_ms-in").get_attribute("value") == "5"


def test_the_recommended_variant_opens_and_its_file_downloads(dash_duo, app):
    dash_duo.start_server(app)
    dash_duo.driver.get(dash_duo.server_url + "/?preset=cortex_a")
    dash_duo.wait_for_element("#open-rec-kettle", timeout=20)
    _wait(
        lambda: _recommended(dash_duo, "kettle") == "kettle.cnn.convert_only",
        what="Pi recommendation",
        shown=lambda: _recommended(dash_duo, "kettle"),
    )
    link = dash_duo.find_element("#open-rec-kettle")
    dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", link)
    _wait(lambda: link.is_displayed(), what="the link in view")
    _click(link)
    dash_duo.wait_for_text_to_equal("#var-title", "kettle.cnn.convert_only", timeout=20)
    sha_shown = dash_duo.find_element("#sha-tflite").text
    href = dash_duo.find_element("#dl-tflite").get_attribute("href")
    body = urllib.request.urlopen(href).read()
    assert hashlib.sha256(body).hexdigest() == sha_shown
    kernels = dash_duo.find_element("#var-kernels").text
    assert "XNNPACK" in kernels and "litert" in kernels
    # the inspection's tabs, below the fold: none drawn until scrolled into view, then the
    # first; one drawn at a time, the chosen one kept in the address
    assert dash_duo.find_elements("#ops-type-a") == [] and "tab=" not in dash_duo.driver.current_url
    tabs = dash_duo.find_element("#var-tabs")
    dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", tabs)
    dash_duo.wait_for_element("#ops-type-a .main-svg", timeout=20)
    _wait(lambda: "tab=ops" in dash_duo.driver.current_url, what="the first tab in the address")
    _click(dash_duo.find_element("#var-tab-qerr"))
    dash_duo.wait_for_element("#qerr-a .main-svg", timeout=20)
    _wait(lambda: "tab=qerr" in dash_duo.driver.current_url, what="the tab in the address")
    assert dash_duo.find_elements("#ops-type-a") == []
    dash_duo.driver.get(dash_duo.driver.current_url)
    dash_duo.wait_for_element("#qerr-a .main-svg", timeout=20)


def test_tradeoff_state_is_in_the_url_and_a_click_opens_the_variant(dash_duo, app):
    dash_duo.start_server(app)
    dash_duo.driver.get(
        dash_duo.server_url + "/tradeoff?metric=mae_masked_w&x=disk_mb&appliance=kettle&ram=30"
    )
    dash_duo.wait_for_element("#tradeoff-graph .main-svg", timeout=20)
    _wait(
        lambda: (
            "metric=mae_masked_w"
            in (dash_duo.find_element("#to-share").get_attribute("href") or "")
        ),
        what="share link",
    )
    href = dash_duo.find_element("#to-share").get_attribute("href")
    assert "x=disk_mb" in href and "appliance=kettle" in href and "ram=30" in href
    assert "disk" in dash_duo.find_element("#tradeoff-graph .xtitle").text
    assert "ram=30" in dash_duo.driver.current_url
    dash_duo.driver.get(dash_duo.server_url + "/tradeoff?appliance=kettle")
    dash_duo.wait_for_element("#tradeoff-graph .scatterlayer .point", timeout=20)
    point = dash_duo.find_elements("#tradeoff-graph .scatterlayer .point")[0]
    ActionChains(dash_duo.driver).move_to_element(point).click().perform()
    _wait(lambda: "/variant" in dash_duo.driver.current_url, what="navigation")
    assert "/variant?id=kettle." in dash_duo.driver.current_url
    dash_duo.wait_for_element("#var-title", timeout=20)
    query = urllib.parse.urlparse(dash_duo.driver.current_url).query
    vid = urllib.parse.parse_qs(query)["id"][0]
    assert dash_duo.find_element("#var-title").text == vid


def test_trace_zoom_requeries_the_visible_range(dash_duo, app, screenshot_dir):
    dash_duo.start_server(app)
    dash_duo.driver.get(dash_duo.server_url + "/traces")
    dash_duo.wait_for_contains_text("#trace-points", "whole trace", timeout=20)
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


def test_a_live_run_shows_its_progress_before_the_store_exists(dash_duo, tmp_path):
    import os
    import socket

    from dashboard.app import create_app
    from pipeline.progress import Progress

    store = tmp_path / "nilm.duckdb"  # `make run`: the dashboard starts before the store does
    progress = Progress(store, ["data", "train kettle", "train"], "r1")
    progress.stage(2, eta_s=600.0, items_total=2, counts="train")
    progress.item("train")
    assert os.getpid() and socket.gethostname()  # the record names this live process
    dash_duo.start_server(create_app(store))
    dash_duo.wait_for_contains_text(
        "#pipeline-progress", "Pipeline running: stage 2/3 train kettle (1/2 done)", timeout=20
    )
    dash_duo.wait_for_contains_text(".notice", "results will appear here", timeout=20)
    progress.complete("kettle")
    progress.failed(RuntimeError("boom"))
    dash_duo.wait_for_contains_text("#pipeline-progress", "stopped before finishing", timeout=20)


def test_a_smoke_run_fills_the_open_dashboard_cnn_first_then_whole(dash_duo, tmp_path):
    """`make run` as a person sees it: the dashboard open on a store a real smoke run is
    building; the panel says the run is live, then that the kettle's CNN is ready (its answer
    is on the Overview while the transformer is still to come), then the run ends and the
    transformer's pages are there."""
    import subprocess
    import sys

    from dashboard.app import create_app

    from .conftest import ROOT

    store = tmp_path / "nilm.duckdb"
    dash_duo.start_server(create_app(store), navigate=False)  # `make run`: the dashboard first
    dash_duo._url = dash_duo.server.url  # the setter would wait 10 s for the first page
    log = open(tmp_path / "all.log", "wb")  # noqa: SIM115 (closed below)
    run = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli.command", "all", "--profile", "smoke"]
        + ["--appliance", "kettle", "--store", str(store)],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        dash_duo.wait_for_page(timeout=60)  # the first page of a process busy starting a run
        dash_duo.wait_for_contains_text("#pipeline-progress", "Pipeline running", timeout=120)
        dash_duo.wait_for_contains_text(
            "#pipeline-progress", "Ready so far: kettle cnn", timeout=400
        )
        dash_duo.driver.get(dash_duo.server_url + "/")
        dash_duo.wait_for_contains_text("#recommendation", "kettle", timeout=30)
        partial = dash_duo.driver.find_element("css selector", "body").text
        assert "kettle.cnn" in partial and "Ready so far: kettle cnn" in partial
        assert run.wait(timeout=600) == 0, (tmp_path / "all.log").read_text()[-3000:]
    finally:
        if run.poll() is None:
            run.kill()
            run.wait(timeout=30)
        log.close()
    dash_duo.wait_for_text_to_equal("#pipeline-progress", "", timeout=30)  # the run ended
    dash_duo.driver.get(dash_duo.server_url + "/variant?id=kettle.transformer.w8_a8&tab=ops")
    dash_duo.wait_for_element("#ops-type-a .main-svg", timeout=30)
    assert _severe(dash_duo.get_logs()) == []


# the basics axe-core checks first, kept beside the real axe run below as a quick readable list:
# a page language, one H1, headings without skipped levels, charts with an accessible name,
# form controls with a label
A11Y_JS = """
const out = [];
if (!document.documentElement.lang) out.push('html has no lang');
const h1 = document.querySelectorAll('h1').length;
if (h1 !== 1) out.push(h1 + ' H1 elements');
let last = 0;
document.querySelectorAll('h1,h2,h3,h4,h5,h6').forEach(h => {
  const level = +h.tagName[1];
  if (last && level > last + 1) out.push('heading jumps H' + last + ' -> H' + level + ': ' + h.textContent.slice(0, 40));
  last = level;
});
document.querySelectorAll('.js-plotly-plot').forEach(p => {
  const named = p.closest('[aria-label]');
  if (!named || !named.getAttribute('aria-label')) out.push('chart without a name: ' + (p.id || p.parentElement.id));
});
const labelled = el => el.getAttribute('aria-label') || el.getAttribute('aria-labelledby') ||
  el.closest('label') || (el.id && document.querySelector('label[for="' + CSS.escape(el.id) + '"]')) ||
  el.closest('[aria-label]');
document.querySelectorAll('input, select, textarea').forEach(el => {
  if (el.type === 'hidden' || el.offsetParent === null) return;
  if (!labelled(el)) out.push('control without a label: ' + (el.id || el.name || el.className));
});
return out;
"""


def test_every_page_passes_the_accessibility_basics(dash_duo, app):
    dash_duo.start_server(app)
    found = {}
    for name, path, selector in PAGES:
        dash_duo.driver.get(dash_duo.server_url + path)
        dash_duo.wait_for_element(selector, timeout=20)
        time.sleep(0.8)
        problems = dash_duo.driver.execute_script(A11Y_JS)
        if problems:
            found[name] = problems
    assert found == {}, found


def _axe_script() -> str:
    """axe-core's own axe.min.js, shipped inside the axe-core-python wheel (test extra): no
    network at test time."""
    from importlib.resources import files

    return (files("axe_core_python") / "axe.min.js").read_text(encoding="utf-8")


AXE_RUN_JS = """
const done = arguments[arguments.length - 1];
axe.run(document, {resultTypes: ['violations']})
  .then(r => done(r.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map(n => ({target: n.target.join(' '), html: n.html.slice(0, 160)})),
  }))))
  .catch(e => done([{id: 'axe-error', impact: 'critical', help: String(e), nodes: []}]));
"""


def _axe_line(name: str, v: dict) -> str:
    where = "; ".join(f"{n['target']} {n['html']}" for n in v["nodes"][:3])
    more = f" (+{len(v['nodes']) - 3} more)" if len(v["nodes"]) > 3 else ""
    return f"{name}: [{v['impact']}] {v['id']} ({v['help']}) at {where}{more}"


def test_every_page_has_no_critical_or_serious_axe_violation(dash_duo, app):
    """Real axe-core on every page: no 'critical' and no 'serious' violation."""
    script = _axe_script()
    dash_duo.start_server(app)
    dash_duo.driver.set_script_timeout(90)
    critical, serious = [], []
    for name, path, selector in PAGES:
        dash_duo.driver.get(dash_duo.server_url + path)
        dash_duo.wait_for_element(selector, timeout=20)
        time.sleep(0.8)
        dash_duo.driver.execute_script(script)
        for v in dash_duo.driver.execute_async_script(AXE_RUN_JS):
            if v["impact"] == "critical":
                critical.append(_axe_line(name, v))
            elif v["impact"] == "serious":
                serious.append(_axe_line(name, v))
    report = "\n".join(["critical:", *critical, "serious:", *serious])
    print(report)
    assert critical == [] and serious == [], report


def test_traces_zoom_is_kept_in_the_address_and_energy_follows_the_window(dash_duo, app):
    dash_duo.start_server(app)
    dash_duo.driver.get(
        dash_duo.server_url
        + "/traces?appliance=kettle&variants=kettle.cnn.w8,kettle.baseline.always_off"
    )
    dash_duo.wait_for_contains_text("#trace-points", "whole trace", timeout=20)
    dash_duo.wait_for_contains_text("#trace-energy-table", "kettle.baseline.always_off", timeout=20)
    assert "error vs truth" in dash_duo.find_element("#trace-energy-table").text
    drag = dash_duo.wait_for_element("#trace-graph .nsewdrag", timeout=20)
    width = drag.size["width"]
    chain = ActionChains(dash_duo.driver).move_to_element(drag).move_by_offset(-width // 6, 0)
    chain.click_and_hold().move_by_offset(width // 4, 5).release().perform()
    dash_duo.wait_for_contains_text("#trace-points", " for ", timeout=20)
    _wait(lambda: "zoom=" in dash_duo.driver.current_url, what="zoom in the address")
    url = dash_duo.driver.current_url
    dash_duo.driver.get(url)
    dash_duo.wait_for_contains_text("#trace-points", " for ", timeout=20)


def test_sql_page_keeps_the_query_in_the_address_and_runs_on_ctrl_enter(dash_duo, app):
    dash_duo.start_server(app)
    dash_duo.driver.get(dash_duo.server_url + "/sql")
    box = dash_duo.wait_for_element("#sql-text", timeout=20)
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.DELETE)
    box.send_keys("SELECT 42 AS answer")
    box.send_keys(Keys.CONTROL, Keys.ENTER)
    dash_duo.wait_for_contains_text("#sql-rows", " ms", timeout=20)
    _wait(lambda: "q=SELECT" in dash_duo.driver.current_url, what="query in the address")
