"""Loading a dataset into NumPy arrays: images float32 in [0, 1] shaped (N, 28, 28, 1),
labels int32, with optional standardisation and a seeded validation split.

The first load keeps each .gz file's decompressed bytes in the per-user cache, and later loads
read them instead of gunzipping (data/decoded.py: verified against the gzip trailer).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from data.decoded import read_idx_cached
from data.errors import DataError
from data.fetch import DataDirs, dataset_files
from data.idx import IMAGES_MAGIC, LABELS_MAGIC
from data.registry import DataFile, DatasetInfo, get_dataset


class Dataset(NamedTuple):
    name: str
    class_names: tuple[str, ...]
    x_train: np.ndarray  # (N_train, 28, 28, 1) float32
    y_train: np.ndarray  # (N_train,) int32
    x_test: np.ndarray  # (N_test, 28, 28, 1) float32
    y_test: np.ndarray  # (N_test,) int32
    x_val: np.ndarray | None  # (N_val, 28, 28, 1) float32, or None without a validation split
    y_val: np.ndarray | None  # (N_val,) int32
    mean: float  # the training mean subtracted from every pixel (0 without standardisation)
    std: float  # the training std every pixel was divided by (1 without standardisation)
    root: str | None = None  # the data root the training images were read from


def read_split(info: DatasetInfo, images: DataFile, labels: DataFile, paths: dict) -> tuple:
    """(images float32 (N, H, W, 1) in [0, 1], labels int32 (N,)), validated together."""
    img_path, lab_path = paths[images.name], paths[labels.name]
    x = read_idx_cached(img_path, IMAGES_MAGIC)
    y = read_idx_cached(lab_path, LABELS_MAGIC)
    if x.ndim != 3:
        raise DataError(
            f"{img_path}: images must have 3 dimensions (count, rows, cols), got {x.shape}"
        )
    if x.shape[0] != y.shape[0]:
        raise DataError(
            f"{img_path} holds {x.shape[0]} images but {lab_path} holds {y.shape[0]} labels; "
            "the two files do not belong together"
        )
    if y.size and int(y.max()) >= info.num_classes:
        raise DataError(
            f"{lab_path}: label {int(y.max())} is outside the {info.num_classes} classes of "
            f"{info.name}"
        )
    images = aligned_empty((*x.shape, 1), np.float32)
    np.multiply(x[..., None], np.float32(1 / 255), out=images, dtype=np.float32)
    return images, y.astype(np.int32)


# A CPU device takes a NumPy array whose data starts on a 64-byte boundary as it is, without a
# copy (jax.device_put, nn/batches.py's to_device): MNIST's training images reach the device in
# 0.01 s instead of 0.07-0.13 s (BENCHMARKS.md, "Start-up, late on 2026-12-03") and are held
# once, not twice. The device's array is then the same memory: the only in-place change here,
# ``standardized``, happens inside ``load_dataset``, before any device has seen the images.
ALIGNMENT = 64


def aligned_empty(shape: tuple[int, ...], dtype: npt.DTypeLike) -> np.ndarray:
    """An uninitialised array whose data starts on an ``ALIGNMENT``-byte boundary (NumPy's own
    allocations are only 16-byte aligned)."""
    size = int(np.prod(shape)) * np.dtype(dtype).itemsize
    raw = np.empty(size + ALIGNMENT, np.uint8)
    start = -raw.ctypes.data % ALIGNMENT
    return raw[start : start + size].view(dtype).reshape(shape)


def aligned_copy(x: np.ndarray) -> np.ndarray:
    """A copy of ``x`` in a new ``aligned_empty`` array."""
    out = aligned_empty(x.shape, x.dtype)
    out[...] = x
    return out


def load_dataset(
    name: str = "mnist",
    data_dir: DataDirs = None,
    *,
    standardize: bool = False,
    validation_size: int = 0,
    seed: int = 0,
    download: bool = True,
) -> Dataset:
    """Load ``name`` ('mnist' or 'fashion-mnist') from the data roots (see data.fetch):
    ``data_dir`` is one root or several, searched in order before the per-user cache. Missing
    files are downloaded unless ``download`` is False.

    ``validation_size`` > 0 moves that many training examples, chosen by a permutation seeded
    with ``seed``, into a validation split. ``standardize`` subtracts the training split's
    pixel mean and divides by its std (computed after the validation split is removed).
    """
    info = get_dataset(name)
    paths = dataset_files(info, data_dir, mirrors=None if download else ())
    x_train, y_train = read_split(info, info.train_images, info.train_labels, paths)
    x_test, y_test = read_split(info, info.test_images, info.test_labels, paths)

    root = str(Path(paths[info.train_images.name]).parent.parent.absolute())
    ds = Dataset(
        info.name, info.class_names, x_train, y_train, x_test, y_test, None, None, 0.0, 1.0, root
    )
    if validation_size:
        ds = hold_out(ds, validation_size, seed=seed)
    if standardize:
        ds = standardized(ds)
    return ds


def hold_out(ds: Dataset, n: int, *, seed: int) -> Dataset:
    """Move ``n`` training examples, chosen by a permutation seeded with ``seed``, into the
    validation split (the rest keep their order)."""
    if not 0 < n < len(ds.y_train):
        raise ValueError(f"validation_size must be between 1 and {len(ds.y_train) - 1}, got {n}")
    order = np.random.default_rng(seed).permutation(len(ds.y_train))
    val, train = order[:n], np.sort(order[n:])
    return ds._replace(
        x_val=aligned_copy(ds.x_train[val]),
        y_val=ds.y_train[val],
        x_train=aligned_copy(ds.x_train[train]),
        y_train=ds.y_train[train],
    )


def standardized(ds: Dataset) -> Dataset:
    """Subtract the training split's pixel mean and divide by its std, in every split (in
    place: call it before the images go to a device, which may share their memory, as
    ``load_dataset`` does)."""
    mean, std = float(ds.x_train.mean(dtype=np.float64)), float(ds.x_train.std(dtype=np.float64))
    for a in (ds.x_train, ds.x_test, ds.x_val):
        if a is not None:
            a -= np.float32(mean)
            a /= np.float32(std)
    return ds._replace(mean=mean, std=std)


def subset(ds: Dataset, n: int) -> Dataset:
    """The first ``n`` training and ``n`` test examples (for quick runs and smoke tests), copied:
    a device that shared a view of the full split would keep all of it alive."""
    return ds._replace(
        x_train=aligned_copy(ds.x_train[:n]), y_train=ds.y_train[:n],
        x_test=aligned_copy(ds.x_test[:n]), y_test=ds.y_test[:n],
    )  # fmt: skip
