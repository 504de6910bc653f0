"""Where the dataset files come from, and how missing ones are downloaded and verified.

A data root holds one folder per dataset (ROOT/mnist/, ROOT/fashion-mnist/). Roots are
searched in this order:
    1. the ``data_dir`` argument: one root or several, in order (the command line passes
       ``--data-dir DIR``, then $HANDJAX_DATA_DIR, which it reads; nothing here reads it),
    2. the per-user cache: $XDG_CACHE_HOME/handjax/datasets (default ~/.cache/handjax/datasets).
A file found in a root is verified against the registry's sha256 before it is used. Files found
nowhere are downloaded into the first root of that list, from each mirror in turn, to a
temporary file that is renamed into place only once its sha256 matches.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from data.errors import ChecksumError, DataError, MissingDataError
from data.registry import DataFile, DatasetInfo

CHUNK = 1 << 16

DataDirs = str | os.PathLike | Sequence[str | os.PathLike] | None  # one root, several, or none


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "handjax" / "datasets"


def data_roots(data_dir: DataDirs = None) -> list[Path]:
    """The data roots to search, most specific first: ``data_dir`` (one root, or several in
    order), then the per-user cache."""
    given = [data_dir] if isinstance(data_dir, str | os.PathLike) else list(data_dir or [])
    roots = [Path(d) for d in given if d] + [cache_root()]
    return list(dict.fromkeys(roots))  # each root once, in order


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def verify(path: Path, entry: DataFile) -> None:
    """Raise ChecksumError unless ``path`` has the registry's sha256 (DataError if it cannot
    be read)."""
    try:
        digest = sha256_of(path)
    except OSError as e:
        raise DataError(
            f"{path}: cannot read it ({e.strerror or e}); check its permissions"
        ) from None
    if digest != entry.sha256:
        raise ChecksumError(
            f"{path}: sha256 {digest[:16]}... does not match the expected {entry.sha256[:16]}...; "
            "the file is corrupt or not the original, delete it so it can be downloaded again"
        )


def dataset_files(
    info: DatasetInfo,
    data_dir: DataDirs = None,
    *,
    mirrors: Sequence[str] | None = None,
    timeout: float = 30.0,
    progress: bool = True,
) -> dict[str, Path]:
    """Paths of the four verified files of ``info``, downloading the missing ones."""
    roots = data_roots(data_dir)
    found: dict[str, Path] = {}
    for entry in info.files:
        for root in roots:
            path = root / info.name / entry.name
            if path.is_file():
                verify(path, entry)
                found[entry.name] = path
                break
    missing = [e for e in info.files if e.name not in found]
    if missing:
        target = roots[0] / info.name
        for entry in missing:
            found[entry.name] = download(
                entry,
                target,
                info.mirrors if mirrors is None else mirrors,
                info,
                timeout=timeout,
                progress=progress,
            )
    return found


def download(
    entry: DataFile,
    folder: Path,
    mirrors: Sequence[str],
    info: DatasetInfo,
    *,
    timeout: float,
    progress: bool,
) -> Path:
    """Fetch one file from the first mirror that serves the right bytes. Offline (no mirrors)
    nothing is created; a folder made here and left empty by failed downloads is removed."""
    if not mirrors:
        raise MissingDataError(offline_message(info, folder, "the files are missing"))
    created = not folder.exists()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise MissingDataError(
            offline_message(info, folder, f"cannot create the folder: {e}")
        ) from None
    errors = []
    for base in mirrors:
        url = base + entry.name
        try:
            return fetch_verified(url, entry, folder, timeout=timeout, progress=progress)
        except (OSError, ChecksumError) as e:  # URLError and HTTPError are OSErrors
            errors.append(f"{url}: {e}")
            if progress:
                print(f"  {url} failed: {e}", file=sys.stderr)
    if created and not any(folder.iterdir()):
        folder.rmdir()
    raise MissingDataError(offline_message(info, folder, f"download failed ({errors[-1]})"))


def fetch_verified(
    url: str, entry: DataFile, folder: Path, *, timeout: float, progress: bool
) -> Path:
    """Stream ``url`` into a temporary file in ``folder``, hashing as it goes; rename it to its
    final name only when the sha256 matches, else delete it and raise."""
    final = folder / entry.name
    fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{entry.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        h, done = hashlib.sha256(), 0
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            total = int(resp.headers.get("Content-Length") or entry.size)
            while chunk := resp.read(CHUNK):
                out.write(chunk)
                h.update(chunk)
                done += len(chunk)
                if progress and sys.stderr.isatty():
                    print(
                        f"\rDownloading {url}: {done / 1e6:6.1f} / {total / 1e6:.1f} MB",
                        end="",
                        file=sys.stderr,
                        flush=True,
                    )
        if progress and sys.stderr.isatty():
            print(file=sys.stderr)
        if h.hexdigest() != entry.sha256:
            raise ChecksumError(f"sha256 mismatch for the {done} bytes served")
        os.replace(tmp, final)
        if progress:
            print(f"Downloaded {final} ({done / 1e6:.1f} MB, sha256 verified)", file=sys.stderr)
        return final
    finally:
        tmp.unlink(missing_ok=True)


def offline_message(info: DatasetInfo, folder: Path, reason: str) -> str:
    names = ", ".join(e.name for e in info.files)
    return (
        f"{info.name} is not available: {reason}. Put the four files {names} in {folder}/ "
        f"(or pass --data-dir DIR with them in DIR/{info.name}/, or set HANDJAX_DATA_DIR)"
    )
