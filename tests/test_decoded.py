"""The decompressed copies of IDX files (data/decoded.py): used only when they match the .gz."""

from pathlib import Path

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from data.decoded import copy_path, gzip_trailer, read_idx_cached
from data.idx import write_idx


def gz_file(tmp: Path, array: np.ndarray) -> Path:
    path = tmp / "images-idx3-ubyte.gz"
    write_idx(path, array)
    return path


def the_copy(path: Path, root: Path) -> Path:
    return copy_path(path, gzip_trailer(path.read_bytes()), root)


@given(arrays(np.uint8, st.tuples(st.integers(1, 5), st.integers(1, 4), st.integers(1, 4))))
def test_first_and_second_load_give_the_written_array(tmp_path_factory, array):
    tmp = tmp_path_factory.mktemp("idx")
    path, root = gz_file(tmp, array), tmp / "decoded"
    first = read_idx_cached(path, root=root)
    assert the_copy(path, root).is_file()  # the first load left a copy
    second = read_idx_cached(path, root=root)
    np.testing.assert_array_equal(first, array)
    np.testing.assert_array_equal(second, array)


def test_an_altered_copy_is_ignored_and_rewritten(tmp_path):
    array = np.arange(60, dtype=np.uint8).reshape(3, 4, 5)
    path, root = gz_file(tmp_path, array), tmp_path / "decoded"
    read_idx_cached(path, root=root)
    copy = the_copy(path, root)
    good = copy.read_bytes()
    altered = bytearray(good)
    altered[-1] ^= 0xFF  # same length, different data: only the CRC-32 can tell
    copy.write_bytes(bytes(altered))
    np.testing.assert_array_equal(read_idx_cached(path, root=root), array)
    assert copy.read_bytes() == good


def test_a_truncated_copy_is_ignored_and_rewritten(tmp_path):
    array = np.arange(60, dtype=np.uint8).reshape(3, 4, 5)
    path, root = gz_file(tmp_path, array), tmp_path / "decoded"
    read_idx_cached(path, root=root)
    copy = the_copy(path, root)
    good = copy.read_bytes()
    copy.write_bytes(good[:-7])
    np.testing.assert_array_equal(read_idx_cached(path, root=root), array)
    assert copy.read_bytes() == good


def test_a_new_gz_is_not_answered_with_the_old_copy(tmp_path):
    root = tmp_path / "decoded"
    path = gz_file(tmp_path, np.zeros((2, 3, 3), np.uint8))
    read_idx_cached(path, root=root)
    newer = np.full((2, 3, 3), 7, np.uint8)
    write_idx(path, newer)
    np.testing.assert_array_equal(read_idx_cached(path, root=root), newer)


def test_an_unwritable_cache_still_loads(tmp_path):
    array = np.arange(12, dtype=np.uint8).reshape(1, 3, 4)
    path = gz_file(tmp_path, array)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder would be")
    np.testing.assert_array_equal(read_idx_cached(path, root=blocker / "decoded"), array)
    assert blocker.read_text() == "a file where the cache folder would be"


def test_raw_idx_files_are_read_as_they_are(tmp_path):
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    path = tmp_path / "images-idx3-ubyte"
    write_idx(path, array)
    root = tmp_path / "decoded"
    np.testing.assert_array_equal(read_idx_cached(path, root=root), array)
    assert not root.exists()
