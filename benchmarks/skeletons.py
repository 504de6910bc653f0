"""The stroke skeletons of benchmarks/digit_set.py's drawn digits, made by hand: several styles
per digit (a 7 with and without a bar, a 1 with and without a flag, open and closed 4s, ...),
each a list of pen strokes in the digit's box."""

from __future__ import annotations

import numpy as np

Stroke = np.ndarray  # (M, 2) points (x, y) in the digit's box: x right in [0, 1], y down in [0, 1]


# ------------------------------------------------------------------ the skeletons, by hand


def arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float) -> Stroke:
    """Points along an ellipse from angle ``start`` to ``end``, degrees, counter-clockwise as
    displayed (0 is to the right, 90 is up)."""
    a = np.radians(np.linspace(start, end, max(8, int(abs(end - start) / 8))))
    return np.stack([cx + rx * np.cos(a), cy - ry * np.sin(a)], axis=1)


def line(*points: tuple[float, float]) -> Stroke:
    return np.asarray(points, np.float64)


def joined(*parts: Stroke) -> Stroke:
    """One pen stroke through several pieces in order."""
    return np.concatenate(parts)


SKELETONS: dict[int, dict[str, list[Stroke]]] = {
    0: {
        "oval": [arc(0.5, 0.5, 0.3, 0.48, 100, 480)],
        "round": [arc(0.5, 0.5, 0.4, 0.46, 80, 445)],
        "open top": [arc(0.5, 0.52, 0.33, 0.46, 70, 400)],
    },
    1: {
        "stick": [line((0.52, 0.0), (0.48, 1.0))],
        "flag": [line((0.25, 0.28), (0.58, 0.0), (0.55, 1.0))],
        "flag and base": [
            line((0.25, 0.25), (0.55, 0.0), (0.55, 1.0)),
            line((0.28, 1.0), (0.8, 1.0)),
        ],
    },
    2: {
        "curve": [joined(arc(0.5, 0.28, 0.3, 0.28, 160, -20), line((0.2, 1.0), (0.85, 1.0)))],
        "looped": [
            joined(
                arc(0.5, 0.28, 0.3, 0.28, 165, -25),
                line((0.28, 0.82)),
                arc(0.28, 0.9, 0.1, 0.1, 90, 330),
                line((0.5, 0.94), (0.88, 0.92)),
            )
        ],
        "z-like": [line((0.18, 0.05), (0.8, 0.05), (0.2, 1.0), (0.85, 1.0))],
    },
    3: {
        "round": [
            joined(arc(0.48, 0.26, 0.28, 0.25, 150, -90), arc(0.48, 0.74, 0.32, 0.26, 90, -150))
        ],
        "flat top": [
            joined(
                line((0.2, 0.02), (0.78, 0.02), (0.42, 0.42)), arc(0.48, 0.7, 0.32, 0.29, 95, -150)
            )
        ],
    },
    4: {
        "open": [line((0.35, 0.0), (0.15, 0.62), (0.88, 0.62)), line((0.66, 0.18), (0.66, 1.0))],
        "closed": [line((0.66, 1.0), (0.66, 0.0), (0.12, 0.66), (0.9, 0.66))],
        "open, one stroke": [
            line((0.3, 0.0), (0.18, 0.6), (0.7, 0.6)),
            line((0.72, 0.05), (0.7, 1.0)),
        ],
    },
    5: {
        "bar last": [
            joined(line((0.32, 0.02), (0.28, 0.44)), arc(0.5, 0.68, 0.3, 0.3, 140, -150)),
            line((0.32, 0.02), (0.8, 0.0)),
        ],
        "one stroke": [
            joined(line((0.8, 0.0), (0.3, 0.02), (0.26, 0.46)), arc(0.5, 0.7, 0.3, 0.29, 145, -145))
        ],
    },
    6: {
        "curved": [
            joined(arc(0.68, 0.62, 0.46, 0.62, 95, 180), arc(0.5, 0.72, 0.28, 0.27, 180, 540))
        ],
        "straight": [
            joined(line((0.68, 0.0), (0.24, 0.66)), arc(0.48, 0.72, 0.26, 0.26, 175, 535))
        ],
    },
    7: {
        "plain": [line((0.15, 0.02), (0.85, 0.02), (0.4, 1.0))],
        "bar": [line((0.15, 0.02), (0.85, 0.02), (0.4, 1.0)), line((0.4, 0.52), (0.84, 0.5))],
        "hook": [line((0.15, 0.18), (0.17, 0.0), (0.85, 0.02), (0.45, 1.0))],
    },
    8: {
        "two loops": [arc(0.5, 0.25, 0.22, 0.24, 0, 360), arc(0.5, 0.74, 0.28, 0.26, 90, 450)],
        "figure eight": [
            np.stack(
                [
                    0.5 - 0.27 * np.sin(2 * (t := np.linspace(0, 2 * np.pi, 60))),
                    0.5 - 0.49 * np.cos(t),
                ],
                axis=1,
            )
        ],
    },
    9: {
        "straight": [arc(0.45, 0.27, 0.28, 0.26, 10, 370), line((0.73, 0.22), (0.7, 1.0))],
        "curved": [
            joined(
                arc(0.45, 0.28, 0.28, 0.27, 0, 360),
                line((0.72, 0.5), (0.68, 0.85)),
                arc(0.5, 0.85, 0.18, 0.15, 0, -150),
            )
        ],
    },
}
