"""experiments.draw's page in a real browser: headless Chromium (Debian's chromium and
chromium-driver) driven by selenium draws real MNIST test digits with pointer events (a mouse on a
desktop-sized window, a finger on a phone-sized one) along their strokes, and reads the answers
from the page; it shows the map of the answer and, on a click or a key, of another class; it
opens an image file and drops a file that is not an image. Each test saves a screenshot and
prints where. Without a browser the tests skip (in CI they fail: .ci/run installs one)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.browser import answer, answers, cleared, need_browser, open_browser, screenshot, wait_for
from tests.draw_server import as_drawn, draw_server, png, predict
from tests.strokes import draw, drawn_png

pytestmark = pytest.mark.slow
PIL = pytest.importorskip("PIL.Image")


@pytest.fixture(scope="module")
def mnist(shared_data_dir):
    from data import load_dataset

    return load_dataset("mnist", shared_data_dir, download=False)


@pytest.fixture(scope="module")
def server(request, tmp_path_factory):
    need_browser()  # before a checkpoint is trained for nothing
    checkpoint = request.getfixturevalue("mnist_checkpoint")
    with draw_server(tmp_path_factory.mktemp("draw-browser"), "--checkpoint", checkpoint) as s:
        yield s


@pytest.fixture
def browser(request, server):
    driver = open_browser(phone=request.param == "phone")
    driver.get(server.url + "/")
    wait_for(driver, "document.querySelectorAll('#bars li').length == 10")
    yield driver
    driver.quit()


@pytest.mark.parametrize("browser", ["desktop"], indirect=True)
def test_mnist_digits_drawn_with_a_mouse_are_read_from_the_page(browser, server, mnist, tmp_path):
    digits = range(5)
    said = []
    for i in digits:
        cleared(browser)
        before = answers(browser)
        draw(browser, mnist.x_test[i, :, :, 0], "mouse")
        said.append(answer(browser, before))
    expected = [str(mnist.y_test[i]) for i in digits]
    assert sum(s == e for s, e in zip(said, expected, strict=True)) >= 4, (said, expected)

    top = browser.find_element("css selector", "#bars li.top .name").text
    assert top == said[-1]  # the highlighted bar is the answer's
    seen = browser.execute_script(
        "return Array.from(document.getElementById('seen').getContext('2d')"
        ".getImageData(0, 0, 28, 28).data).reduce((a, b) => a + b, 0)"
    )
    assert seen > 255 * 28 * 28  # more than the opaque black of an empty 28x28: a digit
    status, api = predict(server, drawn_png(browser))  # what another client gets for it
    assert status == 200 and api["name"] == said[-1]
    screenshot(browser, tmp_path, "draw-desktop.png")

    cleared(browser)
    assert browser.find_element("css selector", "#bars li:first-child .pct").text == "–"
    assert browser.find_element("id", "result").get_attribute("aria-busy") == "false"


@pytest.mark.parametrize("browser", ["phone"], indirect=True)
def test_digits_drawn_with_a_finger_on_a_phone_sized_window(browser, mnist, tmp_path):
    digits = [7, 11, 18]  # a 9, a 6 and a 3
    said = []
    for i in digits:
        cleared(browser)
        before = answers(browser)
        draw(browser, mnist.x_test[i, :, :, 0], "touch")
        said.append(answer(browser, before))
    expected = [str(mnist.y_test[i]) for i in digits]
    assert sum(s == e for s, e in zip(said, expected, strict=True)) >= 2, (said, expected)
    fits = browser.execute_script(
        "const last = document.querySelector('#bars li:last-child .track');"
        "return [last.getBoundingClientRect().bottom, innerHeight,"
        "        document.documentElement.scrollWidth, innerWidth];"
    )
    assert fits[0] <= fits[1] and fits[2] <= fits[3], fits  # all of it on screen, no scrolling
    screenshot(browser, tmp_path, "draw-phone.png")


@pytest.mark.parametrize("browser", ["desktop"], indirect=True)
def test_an_opened_image_is_classified_and_a_dropped_non_image_shows_the_error(
    browser, mnist, tmp_path
):
    photo = tmp_path / "digit.png"
    photo.write_bytes(png(as_drawn(mnist.x_test[0, :, :, 0], 400)))
    browser.find_element("id", "file").send_keys(str(photo))
    assert answer(browser, 0) == str(mnist.y_test[0])

    browser.execute_script(
        "const files = new DataTransfer();"
        "files.items.add(new File(['just some text'], 'notes.txt', {type: 'text/plain'}));"
        "document.getElementById('drop-zone').dispatchEvent("
        "  new DragEvent('drop', {dataTransfer: files, bubbles: true, cancelable: true}));"
    )
    assert answer(browser, 1) == "–"
    error = browser.find_element("id", "error")
    assert error.is_displayed() and "not a readable image" in error.text, error.text
    screenshot(browser, tmp_path, "draw-error.png")

    draw(browser, mnist.x_test[1, :, :, 0], "pen")  # and drawing works again, with a pen
    assert answer(browser, 2) == str(mnist.y_test[1])
    assert not browser.find_element("id", "error").is_displayed()


def why(driver) -> dict:
    """What the map shows: its class (data-class), its caption, and the count of its red and
    blue pixels, read from the canvas."""
    return driver.execute_script(
        "const c = document.getElementById('why');"
        "const d = c.getContext('2d').getImageData(0, 0, 28, 28).data;"
        "let red = 0, blue = 0;"
        "for (let i = 0; i < d.length; i += 4) {"
        "  if (d[i] - d[i + 2] > 60) red++; if (d[i + 2] - d[i] > 60) blue++; }"
        "return {cls: c.dataset.class, caption: document.getElementById('why-caption')"
        ".textContent, red, blue, pixels: Array.from(d)};"
    )


def map_in_screenshot(driver, path) -> np.ndarray:
    """The map's square cut out of a screenshot: (h, w, 3) pixels as the screen showed them."""
    box = driver.execute_script(
        "const r = document.getElementById('why').getBoundingClientRect();"
        "return [r.left, r.top, r.right, r.bottom].map((v) => v * devicePixelRatio);"
    )
    with PIL.open(path) as shot:
        return np.asarray(shot.convert("RGB").crop([round(v) for v in box]), np.int32)


def red_and_blue(pixels: np.ndarray) -> tuple[int, int]:
    r, b = pixels[..., 0], pixels[..., 2]
    return int((r - b > 60).sum()), int((b - r > 60).sum())


@pytest.mark.parametrize("browser", ["desktop"], indirect=True)
def test_the_map_shows_why_and_another_class_on_a_click_or_a_key(browser, mnist, tmp_path):
    from selenium.webdriver.common.keys import Keys

    before = answers(browser)
    draw(browser, mnist.x_test[0, :, :, 0], "mouse")  # a 7
    said = answer(browser, before)
    shown = why(browser)
    assert shown["cls"] == said and shown["caption"] == f"Why {said}?"
    assert shown["red"] > 10  # strokes that push towards the answer, in red
    first = map_in_screenshot(browser, screenshot(browser, tmp_path, "map-answer.png"))
    assert red_and_blue(first)[0] > 100  # and on the screen, scaled up

    other = (int(said) + 1) % 10
    buttons = browser.find_elements("css selector", "#bars button")
    before = answers(browser)
    buttons[other].click()
    answer(browser, before)
    chosen = why(browser)
    assert chosen["cls"] == str(other) and chosen["caption"] == f"Map of {other}"
    assert buttons[other].get_attribute("aria-pressed") == "true"
    assert chosen["pixels"] != shown["pixels"]
    second = map_in_screenshot(browser, screenshot(browser, tmp_path, "map-other.png"))
    assert second.shape == first.shape and np.abs(second - first).max() > 100

    before = answers(browser)
    buttons[other].send_keys(Keys.ENTER)  # the keyboard: pressed again, back to the answer's map
    answer(browser, before)
    assert why(browser)["cls"] == said and buttons[other].get_attribute("aria-pressed") == "false"

    browser.find_element("css selector", "label[for=map-gradient]").click()  # no new request
    gradient = why(browser)
    assert gradient["cls"] == said and gradient["pixels"] != shown["pixels"]
    assert gradient["red"] > 10 and gradient["blue"] > 10
