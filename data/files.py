"""Writing a file whole or not at all: the bytes go to a temporary file beside it, which is
renamed over it only once complete, so that a process killed while writing leaves the previous
file (or none) and a ``.part`` file, never a truncated one. IDX files (data/idx.py) and the run
folder's checkpoint and metrics (experiments/rundir.py) are written this way."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write(path: Path, payload: bytes) -> None:
    """Write bytes to ``path`` via a temporary sibling and os.replace; no partial file remains."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
        os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp makes 0600; use the usual mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
