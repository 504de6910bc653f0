"""Stopping a run cleanly: while a ``StopRequest`` is installed, SIGTERM (what schedulers such
as Slurm and Kubernetes send before they kill) and SIGINT (Ctrl-C) do not end the process at
once; they are remembered, and the run, which asks at every step boundary, saves a checkpoint
there and exits with 128 + the signal's number. A second signal acts as if none were caught.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopRequest:
    """``stop()`` says whether a signal asked the run to stop; ``stop.signum`` is which."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.previous: dict[int, object] = {}

    def __call__(self) -> bool:
        return self.signum is not None

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum else "no signal"

    def catch(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None:  # asked twice: stop now, as without us
            self.restore()
            signal.raise_signal(signum)
            return
        self.signum = signum

    def restore(self) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)
        self.previous.clear()

    @contextmanager
    def installed(self) -> Iterator[StopRequest]:
        self.previous = {s: signal.signal(s, self.catch) for s in SIGNALS}
        try:
            yield self
        finally:
            self.restore()
