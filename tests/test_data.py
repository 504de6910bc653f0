"""data/: IDX round trips, every corruption with its own clear error, the download path against
a local HTTP server, the real files, and batching."""

import gzip
import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from data import (
    ChecksumError,
    DataError,
    IdxFormatError,
    MissingDataError,
    get_dataset,
    load_dataset,
)
from data.idx import IMAGES_MAGIC, LABELS_MAGIC, decode_idx, encode_idx, read_idx, write_idx
from data.load import ALIGNMENT, subset
from data.registry import MNIST, DataFile, DatasetInfo
from nn.batches import batches, num_batches

# ---------------------------------------------------------------- IDX format


@given(
    arrays(np.uint8, st.lists(st.integers(0, 6), min_size=1, max_size=4).map(tuple)), st.booleans()
)
def test_idx_write_then_read_round_trips(tmp_path_factory, array, compress):
    path = tmp_path_factory.mktemp("idx") / ("a.idx.gz" if compress else "a.idx")
    write_idx(path, array)
    back = read_idx(path)
    assert back.dtype == np.uint8 and back.shape == array.shape
    np.testing.assert_array_equal(back, array)
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left


def images_bytes(n=3, h=4, w=5, seed=0):
    return encode_idx(np.random.default_rng(seed).integers(0, 256, (n, h, w), np.uint8))


def test_truncated_gzip_is_its_own_error(tmp_path):
    p = tmp_path / "x.gz"
    p.write_bytes(gzip.compress(images_bytes())[:-10])
    with pytest.raises(IdxFormatError, match="truncated or corrupt gzip"):
        read_idx(p)


def test_truncated_payload_names_declared_and_actual_sizes(tmp_path):
    p = tmp_path / "x"
    p.write_bytes(images_bytes()[:-7])
    with pytest.raises(IdxFormatError, match=r"declares 3x4x5 = 60 bytes .* holds 53"):
        read_idx(p, IMAGES_MAGIC)


def test_trailing_bytes_are_a_count_mismatch(tmp_path):
    p = tmp_path / "x"
    p.write_bytes(images_bytes() + b"\0\0")
    with pytest.raises(IdxFormatError, match="declares"):
        read_idx(p)


def test_wrong_magic_is_its_own_error():
    with pytest.raises(IdxFormatError, match="magic number 0x00000803, expected 0x00000801"):
        decode_idx(images_bytes(), "f", LABELS_MAGIC)
    with pytest.raises(IdxFormatError, match="bad magic"):
        decode_idx(b"PK\x03\x04" + b"\0" * 20, "f")
    with pytest.raises(IdxFormatError, match="too short"):
        decode_idx(b"\0\0", "f")


def fake_dataset(folder: Path, n_train=12, n_test=7, classes=3, seed=0, **overrides) -> dict:
    """Write a tiny dataset's four .gz files into ``folder``; return {name: bytes}."""
    rng = np.random.default_rng(seed)
    arrays_ = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (n_train, 28, 28), np.uint8),
        "train-labels-idx1-ubyte.gz": rng.integers(0, classes, n_train).astype(np.uint8),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (n_test, 28, 28), np.uint8),
        "t10k-labels-idx1-ubyte.gz": rng.integers(0, classes, n_test).astype(np.uint8),
    }
    arrays_.update(overrides)
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, a in arrays_.items():
        write_idx(folder / name, a)
        out[name] = (folder / name).read_bytes()
    return out


def registry_for(files: dict, name="tiny", classes=3, mirrors=()) -> DatasetInfo:
    entries = [DataFile(n, len(b), hashlib.sha256(b).hexdigest()) for n, b in files.items()]
    return DatasetInfo(
        name,
        *entries,
        class_names=tuple(map(str, range(classes))),
        mirrors=tuple(mirrors),
        credit="test",
        augment="none",
        test_views="none",
        framing=MNIST.framing,
    )


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    """A registered 3-class dataset 'tiny' under tmp_path/root/tiny, and an empty cache."""
    import data.load
    import data.registry

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("HANDJAX_DATA_DIR", raising=False)

    def install(**overrides):
        files = fake_dataset(tmp_path / "root" / "tiny", **overrides)
        info = registry_for(files)
        monkeypatch.setitem(data.registry.DATASETS, "tiny", info)
        return tmp_path / "root", info

    return install


def test_image_and_label_count_mismatch_is_its_own_error(tiny):
    root, _ = tiny(**{"train-labels-idx1-ubyte.gz": np.zeros(11, np.uint8)})
    with pytest.raises(DataError, match="holds 12 images but .* holds 11 labels"):
        load_dataset("tiny", root, download=False)


def test_label_out_of_range_is_its_own_error(tiny):
    root, _ = tiny(**{"t10k-labels-idx1-ubyte.gz": np.array([0, 1, 2, 7, 0, 0, 0], np.uint8)})
    with pytest.raises(DataError, match="label 7 is outside the 3 classes"):
        load_dataset("tiny", root, download=False)


def test_checksum_mismatch_is_its_own_error_and_leaves_the_file(tiny):
    root, _ = tiny()
    bad = root / "tiny" / "t10k-labels-idx1-ubyte.gz"
    bad.write_bytes(gzip.compress(encode_idx(np.zeros(7, np.uint8))))
    before = sorted(p.name for p in bad.parent.iterdir())
    with pytest.raises(ChecksumError, match="sha256 .* does not match"):
        load_dataset("tiny", root, download=False)
    assert sorted(p.name for p in bad.parent.iterdir()) == before


def test_missing_files_without_network_name_the_folder_and_files(tiny, tmp_path):
    _, _ = tiny()
    empty = tmp_path / "elsewhere"
    with pytest.raises(MissingDataError) as e:
        load_dataset("tiny", empty, download=False)
    msg = str(e.value)
    assert str(empty / "tiny") in msg and "t10k-images-idx3-ubyte.gz" in msg and "\n" not in msg


def test_loader_shapes_dtypes_split_and_standardisation(tiny):
    root, _ = tiny()
    d = load_dataset("tiny", root, download=False)
    assert d.x_train.shape == (12, 28, 28, 1) and d.x_train.dtype == np.float32
    assert d.y_train.dtype == np.int32 and d.x_train.min() >= 0 and d.x_train.max() <= 1
    s = load_dataset("tiny", root, download=False, validation_size=4, standardize=True, seed=3)
    assert s.x_train.shape[0] == 8 and s.x_val.shape[0] == 4
    assert abs(float(s.x_train.mean())) < 1e-5 and abs(float(s.x_train.std()) - 1) < 1e-4
    again = load_dataset("tiny", root, download=False, validation_size=4, seed=3)
    np.testing.assert_array_equal(again.y_val, s.y_val)
    with pytest.raises(ValueError, match="validation_size"):
        load_dataset("tiny", root, download=False, validation_size=12)


def test_a_cpu_device_takes_the_loaded_images_without_a_copy(tiny):
    """Every split the loader hands out (after a validation split and a subset too) starts on a
    64-byte boundary, so a CPU device uses its memory as it is (data/load.py ALIGNMENT): the
    same values, no second copy, no time spent copying."""
    import jax

    from nn.batches import to_device

    root, _ = tiny()
    d = load_dataset("tiny", root, download=False)
    held = load_dataset("tiny", root, download=False, validation_size=4, seed=1)
    for x in (d.x_train, d.x_test, held.x_train, held.x_val, subset(d, 5).x_train):
        assert x.ctypes.data % ALIGNMENT == 0 and x.flags.c_contiguous
    on_device = to_device(d.x_train, d.y_train)
    np.testing.assert_array_equal(np.asarray(on_device.x), d.x_train)
    if jax.devices()[0].platform == "cpu":
        assert on_device.x.unsafe_buffer_pointer() == d.x_train.ctypes.data


def test_unknown_dataset_name_lists_the_choices():
    with pytest.raises(ValueError, match="unknown dataset 'cifar'; choose one of: mnist"):
        get_dataset("cifar")


# ---------------------------------------------------------------- the real files


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_real_files_have_the_published_sizes_and_class_counts(name, shared_data_dir):
    d = load_dataset(name, shared_data_dir, download=False)
    assert d.x_train.shape == (60_000, 28, 28, 1) and d.x_test.shape == (10_000, 28, 28, 1)
    counts = np.bincount(d.y_test, minlength=10).tolist()
    if name == "mnist":
        assert counts == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    else:
        assert counts == [1000] * 10
        assert d.class_names[0] == "T-shirt/top" and d.class_names[9] == "Ankle boot"


def test_a_real_file_copied_and_truncated_is_refused(shared_data_dir, tmp_path):
    folder = tmp_path / "mnist"
    shutil.copytree(shared_data_dir / "mnist", folder)
    p = folder / "t10k-labels-idx1-ubyte.gz"
    p.write_bytes(p.read_bytes()[:1000])
    with pytest.raises(ChecksumError, match="t10k-labels"):
        load_dataset("mnist", tmp_path, download=False)


# ---------------------------------------------------------------- batching


@given(st.integers(1, 200), st.integers(1, 64), st.booleans(), st.integers(0, 99))
def test_batches_cover_each_example_once_per_epoch(n, bs, drop_last, seed):
    if drop_last and bs > n:
        with pytest.raises(ValueError, match="larger than"):
            list(batches(n, bs, drop_last=drop_last))
        return
    got = list(batches(n, bs, seed=seed, epoch=1, drop_last=drop_last))
    assert len(got) == num_batches(n, bs, drop_last)
    assert all(b.index.shape == (bs,) and b.weight.shape == (bs,) for b in got)
    real = np.concatenate([b.index[b.weight > 0] for b in got])
    expected = (n // bs) * bs if drop_last else n
    assert len(real) == expected and len(set(real.tolist())) == expected


def test_shuffling_is_seeded_and_changes_per_epoch():
    a = [b.index for b in batches(100, 10, seed=1, epoch=0)]
    b = [b.index for b in batches(100, 10, seed=1, epoch=0)]
    c = [b.index for b in batches(100, 10, seed=1, epoch=1)]
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))
