"""The HTML reports as a reader sees them: opened in headless Chromium (Debian's chromium + chromium-driver).

`make test` installs the browser first (`make browser`); where it cannot, these tests skip and say so.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("Chromium not installed (Debian packages chromium and chromium-driver; `make browser` installs them as root)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    # No network here: background connections would only produce noise (and errors) in the log.
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-quic",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def _open(driver, path: Path) -> list[dict]:
    """Load a local page; return the browser console's errors (JavaScript errors, failed loads)."""
    driver.get_log("browser")  # forget earlier pages' messages
    driver.get(path.resolve().as_uri())
    assert driver.execute_script("return document.readyState") == "complete"
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def _local_links(driver, page: Path) -> list[Path]:
    hrefs = [a.get_attribute("href") for a in driver.find_elements("css selector", "a[href]")]
    return [Path(unquote(urlparse(href).path)) for href in hrefs if href.startswith("file:")]


@pytest.mark.slow
def test_index_and_reports_render_in_chromium(browser, quick_reports):
    reports_dir, results = quick_reports
    index = reports_dir / "index.html"
    assert _open(browser, index) == []
    summary = browser.find_element("id", "paper-summary")
    assert len(summary.find_elements("css selector", "tbody tr")) >= 8  # 4 targets x 2 protocols
    assert "tissue" in summary.text and "grouped" in summary.text

    links = _local_links(browser, index)
    assert {reports_dir / "quick" / f"{r.run.name}.html" for r in results} <= set(links)
    missing = [str(link) for link in links if not link.exists()]
    assert not missing, f"broken links on the index: {missing}"

    # Every report: no console errors, its figures decoded, its own links resolve.
    for result in results:
        assert _open(browser, result.html) == [], result.run.name
        assert "Simulated data" in browser.find_element("tag name", "body").text
        broken_images = browser.execute_script(
            "return Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).length")
        assert broken_images == 0, result.run.name
        for link in _local_links(browser, result.html):
            assert link.exists(), f"{result.run.name}: broken link {link}"


def test_console_errors_are_caught(browser, tmp_path):
    """The check above can fail: a page with a script error is reported."""
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><html><body><script>undefinedFunction();</script></body></html>")
    errors = _open(browser, page)
    assert errors and "undefinedFunction" in errors[0]["message"]
