"""Driving experiments.draw's page in headless Chromium (Debian's chromium and chromium-driver)
with selenium, for tests/test_draw_browser.py: starting a browser, waiting for the page's
answers, clearing it, saving screenshots; tests/strokes.py draws on it."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from tests.cli import assert_real_image

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = [  # what works headless on a closed network
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT = 120  # seconds before a wait for the page gives up (a hung page, not a speed check)


def need_browser() -> None:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).exists()]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium (pip install -e '.[test]')")
    if missing:
        reason = f"no browser to test the page with: {', '.join(missing)} not found"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (.ci/run installs chromium and chromium-driver)")
        pytest.skip(f"{reason} (apt-get install chromium chromium-driver)")


def open_browser(phone: bool):  # noqa: ANN201  (a selenium WebDriver)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in [*FLAGS, f"--user-data-dir={tempfile.mkdtemp(prefix='chromium-')}"]:
        options.add_argument(flag)
    if phone:  # a 390 x 844 CSS-pixel touch screen at twice the density
        metrics = {"width": 390, "height": 844, "pixelRatio": 2.0, "touch": True}
        options.add_experimental_option("mobileEmulation", {"deviceMetrics": metrics})
    else:
        options.add_argument("--window-size=1280,900")
    return webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))


def wait_for(driver, condition: str) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, WAIT).until(lambda d: d.execute_script(f"return {condition}"))


def answers(driver) -> int:
    """How many answers (or errors) the page has shown so far."""
    return int(driver.find_element("id", "result").get_attribute("data-answers") or 0)


def answer(driver, since: int) -> str:
    """The page's prediction, once it has shown an answer after the first ``since`` and has
    nothing pending ("–" when it shows an error)."""
    wait_for(
        driver,
        "document.getElementById('result').getAttribute('aria-busy') === 'false' && "
        f"Number(document.getElementById('result').dataset.answers) > {since}",
    )
    return driver.find_element("id", "answer").text


def cleared(driver) -> None:
    """Click Clear; the page then shows no prediction."""
    driver.find_element("id", "clear").click()
    wait_for(driver, "document.getElementById('answer').textContent === '–'")


def screenshot(driver, tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    driver.save_screenshot(str(path))
    assert_real_image(path)
    print(f"screenshot: {path}")
    return path
