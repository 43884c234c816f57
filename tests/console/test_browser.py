"""End to end in a real browser: Debian's chromium driven by selenium over chromedriver.

The console serves data the collector wrote against the simulator; the test opens every
page (Audit after a few MCP calls on the same data), checks the slot grid, a chart and the
verdicts, starts a snapshot from Operations against the still-running simulator, waits
for it to finish ok and to show in the grid, and saves a screenshot of each page under
the test's tmp dir.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.ui import WebDriverWait

from tests.console.conftest import CONSOLE_NOW, Collected
from tests.support.mcp_client import McpSession, server_params
from tests.support.pipeline import SIM_DAY

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (Path(CHROMIUM).exists() and Path(DRIVER).exists()),
        reason="needs Debian's chromium and chromium-driver (.ci/run installs them)",
    ),
]


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1400,1800"):  # fmt: skip
        opts.add_argument(flag)
    opts.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    driver = webdriver.Chrome(options=opts, service=Service(DRIVER))
    driver.set_page_load_timeout(120)
    try:
        yield driver
    finally:
        driver.quit()


def shot(driver: webdriver.Chrome, out: Path, name: str) -> None:
    height = driver.execute_script("return document.body.scrollHeight")
    driver.set_window_size(1400, min(max(int(height) + 40, 900), 6000))
    assert driver.save_screenshot(str(out / f"{name}.png"))


def test_console_in_a_browser(
    browser: webdriver.Chrome, console_url: str, collected: Collected, tmp_path: Path
) -> None:
    wait = WebDriverWait(browser, 120)
    # Overview: the grid, a chart and the verdicts.
    browser.get(console_url + "/")
    grid = browser.find_element(By.ID, "slot-grid")
    assert len(grid.find_elements(By.CSS_SELECTOR, 'td[data-status="ok"]')) >= 4
    assert browser.find_elements(By.CSS_SELECTOR, "#chart-dwell rect.bar")
    verdicts = [v.text for v in browser.find_elements(By.CSS_SELECTOR, "table.verdicts .verdict")]
    assert set(verdicts) & {"PASS", "FAIL"}, verdicts
    shot(browser, tmp_path, "overview")

    # History: daily bars and the stored chains' charts, with a legend toggle.
    browser.get(console_url + "/history?symbol=AAPL")
    for chart in ("chart-bars", "chart-smile", "chart-term", "chart-intraday-iv", "chart-gex"):
        assert browser.find_element(By.ID, chart).find_elements(
            By.CSS_SELECTOR, "circle, rect.bar"
        ), chart
    legend = browser.find_element(By.CSS_SELECTOR, '.lg[data-series="chart-smile-0"]')
    legend.click()
    assert "off" in browser.find_element(
        By.CSS_SELECTOR, 'g[data-series="chart-smile-0"]'
    ).get_attribute("class")
    shot(browser, tmp_path, "history")

    # Operations: snapshot 11:30 (due, not yet written) against the running simulator.
    browser.get(console_url + "/operations")
    Select(browser.find_element(By.ID, "f-operation")).select_by_visible_text("snapshot")
    date_box = browser.find_element(By.ID, "f-date")
    date_box.clear()
    date_box.send_keys(SIM_DAY.isoformat())
    Select(browser.find_element(By.ID, "f-slot")).select_by_visible_text("11:30")
    browser.find_element(By.ID, "start-job").click()
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "tr.job")))
    shot(browser, tmp_path, "operations-running")

    # The job list is redrawn every second: read it in one script call, never through
    # element handles that the next redraw makes stale.
    def job_row(d: webdriver.Chrome) -> dict[str, str] | None:
        return d.execute_script(  # type: ignore[no-any-return]
            "const r = document.querySelector('tr.job'); if (!r) return null;"
            "const a = r.querySelector('a[href^=\"/runs/\"]');"
            "return {status: r.dataset.status, text: r.innerText, run: a ? a.getAttribute('href') : ''};"
        )

    wait.until(lambda d: (job_row(d) or {}).get("status") not in (None, "running"))
    job = job_row(browser)
    assert job is not None and job["status"] == "ok", job
    shot(browser, tmp_path, "operations-done")
    assert job["run"].startswith("/runs/snapshot-")
    browser.get(console_url + job["run"])  # the job's ledger row
    fields = {r.find_elements(By.TAG_NAME, "td")[0].text: r.find_elements(By.TAG_NAME, "td")[1].text
              for r in browser.find_elements(By.CSS_SELECTOR, "tbody tr")}  # fmt: skip
    assert (fields["task"], fields["slot"], fields["status"]) == ("snapshot", "11:30", "ok")

    browser.get(console_url + f"/?date={SIM_DAY.isoformat()}")
    cells = browser.find_elements(By.CSS_SELECTOR, 'td[data-status="ok"] a[title*="11:30"]')
    assert len(cells) == 2, "the snapshot started from Operations is not in the grid"

    # Audit: after a few MCP calls on the same data.
    assert collected.cfg.source_file is not None
    mcp = McpSession(server_params(collected.cfg.source_file, "--allow-raw"))
    try:
        mcp.ok("health_overview")
        mcp.ok("list_recent_runs", {"limit": 5})
        mcp.error("get_chain_sample", {"symbol": "NOPE", "date": SIM_DAY.isoformat()})
    finally:
        mcp.close()
    browser.get(console_url + "/audit")
    rows = browser.find_elements(By.CSS_SELECTOR, "table.calls tbody tr")
    assert len(rows) == 3
    tools = {
        r.find_elements(By.TAG_NAME, "td")[0].text
        for r in browser.find_elements(By.CSS_SELECTOR, "table.tools tbody tr")
    }
    assert tools == {"health_overview", "list_recent_runs", "get_chain_sample"}
    shot(browser, tmp_path, "audit")
    print(f"screenshots in {tmp_path} (calendar pinned at {CONSOLE_NOW})")
