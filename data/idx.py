"""The IDX format of MNIST and Fashion-MNIST (gzip-compressed or raw).

    magic   4 bytes: 0x00, 0x00, dtype code (0x08 = unsigned byte), number of dimensions D
    dims    D big-endian uint32: the size of each dimension
    data    prod(dims) values, row-major

Images are magic 0x00000803 (count, rows, cols); labels are 0x00000801 (count).
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from data.errors import IdxFormatError
from data.files import atomic_write

IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801
UBYTE = 0x08
GZIP_HEADER = b"\x1f\x8b"


def decode_idx(raw: bytes, name: str, expected_magic: int | None = None) -> np.ndarray:
    """Parse IDX bytes (already decompressed) into a uint8 array; ``name`` is for messages."""
    if len(raw) < 4:
        raise IdxFormatError(f"{name}: only {len(raw)} bytes, too short for an IDX header")
    magic = int.from_bytes(raw[:4], "big")
    zeros, dtype_code, ndim = raw[0:2], raw[2], raw[3]
    if zeros != b"\x00\x00" or dtype_code != UBYTE or ndim == 0:
        raise IdxFormatError(
            f"{name}: bad magic number 0x{magic:08x}, not an unsigned-byte IDX file"
        )
    if expected_magic is not None and magic != expected_magic:
        raise IdxFormatError(
            f"{name}: magic number 0x{magic:08x}, expected 0x{expected_magic:08x} "
            f"({'images' if expected_magic == IMAGES_MAGIC else 'labels'})"
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise IdxFormatError(f"{name}: header truncated ({len(raw)} bytes, need {header})")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    declared, actual = math.prod(dims), len(raw) - header
    if declared != actual:
        raise IdxFormatError(
            f"{name}: header declares {'x'.join(map(str, dims))} = {declared} bytes of data "
            f"but the file holds {actual}; the file is truncated or corrupt, replace it"
        )
    return np.frombuffer(raw, np.uint8, offset=header).reshape(dims)


def read_idx(path: str | os.PathLike, expected_magic: int | None = None) -> np.ndarray:
    """Read an IDX file, gunzipping it if it starts with the gzip header."""
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == GZIP_HEADER:
        raw = gunzip(raw, path)
    return decode_idx(raw, str(path), expected_magic)


def gunzip(gz: bytes, path: Path) -> bytes:
    """The decompressed bytes of ``path``'s gzip data ``gz``; damaged data is an IdxFormatError."""
    try:
        return gzip.decompress(gz)
    except (EOFError, OSError, zlib.error) as e:
        raise IdxFormatError(
            f"{path}: truncated or corrupt gzip data ({e}); delete it and download it again"
        ) from None


def encode_idx(array: np.ndarray) -> bytes:
    """IDX bytes for a uint8 array of 1 to 255 dimensions."""
    array = np.ascontiguousarray(array)
    if array.dtype != np.uint8 or not 1 <= array.ndim <= 255:
        raise ValueError(f"IDX stores uint8 arrays of 1-255 dims, got {array.dtype} {array.shape}")
    head = bytes([0, 0, UBYTE, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return head + array.tobytes()


def write_idx(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write an IDX file (gzip-compressed when the name ends in .gz), atomically: the bytes go
    to a temporary file in the same folder, which is renamed only when complete."""
    path = Path(path)
    payload = encode_idx(array)
    if path.suffix == ".gz":
        payload = gzip.compress(payload, mtime=0)
    atomic_write(path, payload)
