"""data/: MNIST and Fashion-MNIST from the original IDX files, found locally or downloaded,
verified and loaded into NumPy arrays (batching is nn/batches.py)."""

from data.errors import ChecksumError, DataError, IdxFormatError, ImageError, MissingDataError
from data.load import Dataset, load_dataset
from data.registry import DATASETS, DatasetInfo, get_dataset

__all__ = [
    "DATASETS",
    "ChecksumError",
    "DataError",
    "Dataset",
    "DatasetInfo",
    "IdxFormatError",
    "ImageError",
    "MissingDataError",
    "get_dataset",
    "load_dataset",
]
