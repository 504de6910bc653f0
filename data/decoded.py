"""Decompressed copies of the IDX files in the per-user cache, so that a later run skips the gunzip.

Gunzipping MNIST's 47 MB of training images is most of the time it takes to load the dataset
(0.3 s of about 0.35 s on the 2-core CPU of BENCHMARKS.md, 1.3 s or more when the machine is
busy); reading the same bytes uncompressed and checking them takes about 0.04 s. So the first
load writes the decompressed bytes of ``train-images-idx3-ubyte.gz`` to

    $XDG_CACHE_HOME/handjax/decoded/train-images-idx3-ubyte.<crc32>     (default ~/.cache/...)

and later loads read that copy instead. The data folders themselves are never written to.

Verified, never trusted: a gzip file ends with the CRC-32 and the length (mod 2^32) of the data it
decompresses to (RFC 1952). A copy is used only when its length and CRC-32 match the trailer of
the .gz it stands for, which data/fetch.py has already checked against the registry's sha256;
a copy that is stale, truncated or altered is ignored and rewritten. Copies are written
atomically (a temporary sibling renamed into place), and not at all when the cache cannot be
written: the cache is an optimisation, never a reason to fail.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

from data.fetch import cache_root
from data.files import atomic_write
from data.idx import GZIP_HEADER, decode_idx, gunzip


def decoded_root() -> Path:
    """$XDG_CACHE_HOME/handjax/decoded, beside the per-user dataset cache."""
    return cache_root().parent / "decoded"


def gzip_trailer(gz: bytes) -> tuple[int, int]:
    """(CRC-32, length mod 2^32) of the data a single-member gzip file decompresses to."""
    crc, size = struct.unpack("<II", gz[-8:])
    return crc, size


def matches(raw: bytes, trailer: tuple[int, int]) -> bool:
    return (zlib.crc32(raw), len(raw) % 2**32) == trailer


def copy_path(path: Path, trailer: tuple[int, int], root: Path) -> Path:
    """Where the decompressed copy of ``path`` (a .gz file with this trailer) is kept."""
    return root / f"{path.with_suffix('').name}.{trailer[0]:08x}"


def read_idx_cached(
    path: str | Path, expected_magic: int | None = None, *, root: Path | None = None
) -> np.ndarray:
    """``data.idx.read_idx``, but reading a verified decompressed copy from ``root`` (default
    ``decoded_root()``) when there is one, and writing one there after a gunzip."""
    path = Path(path)
    gz = path.read_bytes()
    if gz[:2] != GZIP_HEADER or len(gz) < 18:
        return decode_idx(gz, str(path), expected_magic)
    trailer = gzip_trailer(gz)
    copy = copy_path(path, trailer, decoded_root() if root is None else root)
    try:
        raw = copy.read_bytes()
    except OSError:
        raw = None
    if raw is not None and matches(raw, trailer):
        return decode_idx(raw, str(path), expected_magic)
    raw = gunzip(gz, path)
    array = decode_idx(raw, str(path), expected_magic)
    if matches(raw, trailer):  # a single-member gzip: its trailer can verify the copy later
        try:
            copy.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(copy, raw)
        except OSError:
            pass  # an unwritable cache: load from the .gz every time
    return array
