"""Drawing an MNIST digit on experiments.draw's page as a person would: the digit's skeleton,
traced into strokes that a pointer (mouse, finger or pen) follows with selenium's actions."""

from __future__ import annotations

import numpy as np

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
    from PIL import Image

    size = (28 * up, 28 * up)
    big = Image.fromarray(np.uint8(255 * digit)).resize(size, Image.Resampling.BILINEAR)
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
