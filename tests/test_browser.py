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


@pytest.fixture(scope="module")
def plain_nbconvert_explore(quick_reports, tmp_path_factory) -> Path:
    """The executed 00_explore (papermill, widget state stored) converted by plain `jupyter nbconvert --to html`."""
    import subprocess
    import sys

    reports_dir, _ = quick_reports
    folder = tmp_path_factory.mktemp("nbconvert")
    executed = folder / "00_explore.ipynb"
    shutil.copy(reports_dir / "quick" / "00_explore.ipynb", executed)
    subprocess.run([sys.executable, "-m", "nbconvert", "--to", "html", str(executed)], check=True, capture_output=True)
    return folder / "00_explore.html"


@pytest.mark.slow
def test_plain_nbconvert_shows_the_explorers_as_static_content(plain_nbconvert_explore):
    """What the page holds outside scripts: three snapshots with their figures, and no rule hiding them."""
    import json
    import re

    page = plain_nbconvert_explore.read_text()
    state = json.loads(page.split('<script type="application/vnd.jupyter.widget-state+json">')[1].split("</script>")[0])
    assert state["state"], "papermill stored the widget state: the live widgets are in the page too"
    outside_scripts = re.sub(r"<script.*?</script>", "", page, flags=re.S)
    snapshots = re.findall(r'<div class="(srna-snapshot-[0-9a-f]+) srna-snapshot">(.*?)</div>\s*</div>', outside_scripts, flags=re.S)
    assert len(snapshots) == 3
    assert all("data:image/png;base64," in body for _, body in snapshots)
    assert not any(f".{name}" in outside_scripts.replace(f'class="{name}', "") for name, _ in snapshots)


@pytest.mark.slow
def test_plain_nbconvert_explorers_are_visible_offline(browser, plain_nbconvert_explore):
    """Opened with no network: the widget manager cannot load, the three snapshots and their figures show."""
    browser.get(plain_nbconvert_explore.resolve().as_uri())
    snapshots = browser.find_elements("css selector", "div.srna-snapshot")
    assert len(snapshots) == 3 and all(s.is_displayed() for s in snapshots)
    for snapshot in snapshots:
        images = snapshot.find_elements("tag name", "img")
        assert images and all(browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", i) for i in images)
        # Never stretched: at most their own size (narrowed to the page if wider), proportions kept.
        for image in images:
            width, height, natural_width, natural_height = browser.execute_script(
                "const i = arguments[0]; return [i.width, i.height, i.naturalWidth, i.naturalHeight]", image)
            assert 0 < width <= natural_width and abs(height / width - natural_height / natural_width) < 0.02
