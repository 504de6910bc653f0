"""Keras-style progress output:

    Epoch 1/5
    1875/1875 [==============================] - 33s 18ms/step - loss: 0.4723 - accuracy: 0.8328

On a terminal the bar redraws in place while the epoch runs (a few times a second); otherwise
(a log file, CI) each epoch prints one final line.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

WIDTH = 30  # characters between the brackets, as Keras


def bar(done: int, total: int) -> str:
    if done >= total:
        return "=" * WIDTH
    filled = WIDTH * done // total
    return "=" * max(filled - 1, 0) + ">" + "." * (WIDTH - max(filled, 1))


def format_seconds(seconds: float) -> str:
    return f"{seconds:.0f}s" if seconds >= 1 else f"{seconds * 1000:.0f}ms"


def format_step_time(seconds_per_step: float) -> str:
    if seconds_per_step >= 1:
        return f"{seconds_per_step:.0f}s/step"
    if seconds_per_step >= 1e-3:
        return f"{seconds_per_step * 1e3:.0f}ms/step"
    return f"{seconds_per_step * 1e6:.0f}us/step"


def metrics_text(metrics: dict[str, float]) -> str:
    return "".join(f" - {k}: {v:.4f}" for k, v in metrics.items())


class ProgressBar:
    """One epoch's progress line. ``live`` defaults to whether the stream is a terminal."""

    def __init__(
        self, stream: TextIO | None = None, live: bool | None = None, interval: float = 0.25
    ) -> None:
        self.stream = stream or sys.stdout
        self.live = self.stream.isatty() if live is None else live
        self.interval = interval
        self.start = time.perf_counter()
        self.last = 0.0

    def due(self) -> bool:
        """Whether a live redraw is due (never, when not live)."""
        if not self.live:
            return False
        now = time.perf_counter()
        if now - self.last >= self.interval:
            self.last = now
            return True
        return False

    def update(self, done: int, total: int, loss: float, accuracy: float) -> None:
        elapsed = time.perf_counter() - self.start
        eta = elapsed / max(done, 1) * (total - done)
        line = (
            f"\r{done:{len(str(total))}d}/{total} [{bar(done, total)}] - ETA: {eta:.0f}s"
            f"{metrics_text({'loss': loss, 'accuracy': accuracy})}\x1b[K"  # clear the rest
        )
        self.stream.write(line)
        self.stream.flush()

    def finish(self, steps: int, seconds: float, metrics: dict[str, float]) -> None:
        line = (
            f"{steps}/{steps} [{bar(steps, steps)}] - {format_seconds(seconds)} "
            f"{format_step_time(seconds / max(steps, 1))}{metrics_text(metrics)}"
        )
        if self.live:
            self.stream.write("\r" + line + "\x1b[K\n")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
