"""Running the project's commands in a subprocess, as a user would."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def command_env(env: dict | None = None) -> dict:
    """The environment of a command under test: headless plots, unbuffered output, the repo
    importable from any working folder, plus ``env``."""
    base = {"MPLBACKEND": "Agg", "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)}
    return {**os.environ, **base, **(env or {})}


def run_module(
    module: str, *args: str, timeout: float = 600, env: dict | None = None, cwd: Path = ROOT
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", module, *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=command_env(env),
    )


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk; raises if the file is not a PNG."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", head[16:24])


def assert_real_image(path: Path, min_side: int = 150, max_side: int = 4000) -> None:
    """A PNG of sensible size whose pixels are not all one colour."""
    import matplotlib.image

    w, h = png_size(path)
    assert min_side <= w <= max_side and min_side <= h <= max_side, (path, w, h)
    pixels = matplotlib.image.imread(path)
    assert pixels.std() > 0.01, f"{path} is blank"


def assert_one_line_error(proc, *needles: str) -> None:
    """Non-zero exit, no traceback, one line on stderr that contains every needle."""
    assert proc.returncode != 0, proc.stdout[-2000:]
    err = proc.stderr.strip()
    assert "Traceback" not in proc.stderr, proc.stderr
    assert len(err.splitlines()) == 1, err
    for n in needles:
        assert n in err, err
