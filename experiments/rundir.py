"""The run folder: choosing and creating it, refusing to replace a run already in it, the lock
that keeps two runs out of one folder, and writing files into it.

    checkpoint.npz   parameters, Adam state and PRNG key, with the epoch (and the step within
                     it), history and configuration in its header (see nn/checkpoint.py)
    metrics.json     test accuracy and loss, history, configuration, report, seconds, versions
    *.png            the figures of experiments/plots.py, named in metrics.json
    .lock            held (flock) by the run writing the folder; the kernel releases it when that
                     process ends, however it ends, so a killed run leaves no lock that counts
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path
from typing import Any

from data.files import atomic_write
from experiments.outcome import FileError, UsageError
from nn.checkpoint import checkpoint_bytes

CHECKPOINT = "checkpoint.npz"
METRICS = "metrics.json"
LOCK = ".lock"


def prepare_out_dir(out: str | None, name: str) -> tuple[Path, bool]:
    """Create (or reuse) the run folder and prove it is writable. Returns (folder, created)."""
    if out is None:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        folder, k = Path("runs") / f"{name}-{stamp}", 1
        while folder.exists():
            k += 1
            folder = Path("runs") / f"{name}-{stamp}-{k}"
    else:
        folder = Path(out)
    created = not folder.exists()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as e:
        raise UsageError(
            f"cannot write to the output folder {folder}: {e.strerror or e}; "
            "choose another with --out"
        ) from None
    return folder, created


def refuse_to_replace(folder: Path) -> None:
    """Raise UsageError if ``folder`` holds a run (a checkpoint or metrics), naming the ways
    forward: --resume, a fresh folder, or --overwrite."""
    held = [f for f in (CHECKPOINT, METRICS) if (folder / f).exists()]
    if not held:
        return
    finished = METRICS in held
    raise UsageError(
        f"{folder} already holds a {'finished run' if finished else 'run'} ({', '.join(held)}): "
        + ("" if finished else f"continue it with --resume {folder}, or ")
        + "choose a fresh folder with --out DIR, or replace it with --overwrite"
        + (" (--resume continues only an unfinished run)" if finished else "")
    )


def clear_run(folder: Path) -> None:
    """Remove the run that --overwrite replaces: its checkpoint, metrics.json and the figures
    that metrics.json lists."""
    names = [CHECKPOINT, METRICS]
    with suppress(OSError, ValueError, AttributeError):  # no metrics.json, or not one of ours
        figures = json.loads((folder / METRICS).read_text()).get("figures", [])
        names += [n for n in figures if isinstance(n, str) and Path(n).name == n]  # no paths
    with writing(folder):
        for name in names:
            (folder / name).unlink(missing_ok=True)


class FolderLock:
    """An exclusive lock on a run folder, held by this process until ``release``."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / LOCK
        with writing(folder):
            while True:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    holder = os.read(fd, 200).decode(errors="replace").strip() or "unknown"
                    os.close(fd)
                    raise UsageError(
                        f"{folder} is in use by another run ({holder}); wait for it to end, or "
                        "choose another folder with --out"
                    ) from None
                if same_file(fd, self.path):
                    break
                os.close(fd)  # released and removed between our open and flock: again
            os.ftruncate(fd, 0)
            os.write(fd, f"process {os.getpid()} on {socket.gethostname()}\n".encode())
        self.fd: int | None = fd

    def release(self) -> None:
        """Remove the lock file, then let go of it (in that order, so that no other process
        can lock the file while it is being removed and then hold a lock on nothing)."""
        if self.fd is None:
            return
        self.path.unlink(missing_ok=True)
        os.close(self.fd)
        self.fd = None


def same_file(fd: int, path: Path) -> bool:
    try:
        return os.fstat(fd).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        return False


@contextmanager
def writing(path: Path) -> Iterator[None]:
    """Turn an OSError while writing ``path`` (permissions, a full disk) into one FileError."""
    try:
        yield
    except OSError as e:
        raise FileError(f"cannot write {path}: {e.strerror or e}") from None


def write_json(path: Path, payload: dict) -> None:
    with writing(path):
        atomic_write(path, (json.dumps(payload, indent=2) + "\n").encode())


def write_checkpoint(path: Path, tree: Any, meta: dict) -> None:
    """Write a run's checkpoint (nn/checkpoint.py) whole or not at all: a run killed while
    writing it leaves the previous one."""
    with writing(path):
        atomic_write(path, checkpoint_bytes(tree, meta))
