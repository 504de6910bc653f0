"""experiments.draw's page in a real browser: headless Chromium (Debian's chromium and
chromium-driver) driven by selenium draws real MNIST test digits with pointer events (a mouse on a
desktop-sized window, a finger on a phone-sized one) along their strokes, and reads the answers
from the page; it opens an image file and drops a file that is not an image. Each test saves a
screenshot and prints where. Without a browser the tests skip (in CI they fail: .ci/run installs
one)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest

from tests.cli import assert_real_image
from tests.draw_server import as_drawn, draw_server, png, predict

pytestmark = pytest.mark.slow
PIL = pytest.importorskip("PIL.Image")

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


@pytest.fixture
def browser(request, server):
    driver = open_browser(phone=request.param == "phone")
    driver.get(server.url + "/")
    wait_for(driver, "document.querySelectorAll('#bars li').length == 10")
    yield driver
    driver.quit()


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


# ---- Strokes: the skeleton of an MNIST digit, traced into polylines a pointer can follow.

NEIGHBOURS = [(-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1)]  # P2..P9


def thin(mask: np.ndarray) -> np.ndarray:
    """Zhang and Suen's thinning (1984): peel boundary pixels until a one-pixel-wide skeleton
    is left. p[k] is the neighbour P(k+2) of every pixel, clockwise from the one above."""
    img = np.pad(mask, 1).astype(np.uint8)
    changed = True
    while changed:
        changed = False
        for step in (0, 1):
            p = [np.roll(img, (-dy, -dx), (0, 1)) for dy, dx in NEIGHBOURS]
            count = sum(p)  # B(P1): neighbours set
            turns = sum((p[k] == 0) & (p[(k + 1) % 8] == 1) for k in range(8))  # A(P1): 0 -> 1
            if step == 0:
                south_east = (p[0] * p[2] * p[4] == 0) & (p[2] * p[4] * p[6] == 0)
            else:
                south_east = (p[0] * p[2] * p[6] == 0) & (p[0] * p[4] * p[6] == 0)
            peel = (img == 1) & (count >= 2) & (count <= 6) & (turns == 1) & south_east
            if peel.any():
                img[peel] = 0
                changed = True
    return img[1:-1, 1:-1].astype(bool)


def trace(skeleton: np.ndarray) -> list[list[tuple[int, int]]]:
    """The skeleton's pixels as (row, column) walks, each from an end when one is left."""
    left = {(int(y), int(x)) for y, x in np.argwhere(skeleton)}

    def next_to(q: tuple[int, int]) -> list[tuple[int, int]]:
        around = [(q[0] + dy, q[1] + dx) for dy, dx in NEIGHBOURS]
        return sorted(
            (r for r in around if r in left), key=lambda r: abs(r[0] - q[0]) + abs(r[1] - q[1])
        )

    walks = []
    while left:
        ends = sorted(q for q in left if len(next_to(q)) == 1)
        q = ends[0] if ends else min(left)
        walk = [q]
        left.discard(q)
        while steps := next_to(q):
            q = steps[0]  # a side neighbour before a diagonal one: stays on the line
            left.discard(q)
            walk.append(q)
        if len(walk) >= 3:
            walks.append(walk)
    return walks


def strokes(digit: np.ndarray, up: int = 4) -> list[list[tuple[float, float]]]:
    """An MNIST digit (28, 28) in [0, 1] -> strokes of (x, y) points in its 28x28 frame."""
    big = PIL.fromarray(np.uint8(255 * digit)).resize((28 * up, 28 * up), PIL.Resampling.BILINEAR)
    walks = trace(thin(np.asarray(big) > 127))
    return [[((x + 0.5) / up, (y + 0.5) / up) for y, x in w[::2] + [w[-1]]] for w in walks]


def draw(driver, digit: np.ndarray, pointer: str) -> None:
    """Draw ``digit``'s strokes on the pad with pointer events of ``pointer`` (mouse, touch or
    pen), the digit's 28x28 frame stretched over the whole pad, as MNIST frames its digits."""
    from selenium.webdriver.common.actions.action_builder import ActionBuilder
    from selenium.webdriver.common.actions.pointer_input import PointerInput

    left, top, side = driver.execute_script(
        "const r = document.getElementById('pad').getBoundingClientRect();"
        "return [r.left, r.top, r.width];"
    )
    actions = ActionBuilder(driver, mouse=PointerInput(pointer, pointer), duration=0)
    for stroke in strokes(digit):
        points = [(round(left + x * side / 28), round(top + y * side / 28)) for x, y in stroke]
        actions.pointer_action.move_to_location(*points[0])
        actions.pointer_action.pointer_down()
        for p in points[1:]:
            actions.pointer_action.move_to_location(*p)
        actions.pointer_action.pointer_up()
    actions.perform()


def drawn_png(driver) -> bytes:
    """The pad's pixels as the PNG the page posts."""
    import base64

    url = driver.execute_script("return document.getElementById('pad').toDataURL('image/png')")
    return base64.b64decode(url.split(",", 1)[1])


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
