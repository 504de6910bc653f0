"""data/: MNIST and Fashion-MNIST from the original IDX files, found locally or downloaded,
verified, loaded into NumPy arrays, and batched."""

from data.batches import Batch, DeviceArrays, batches, epoch_order, num_batches, to_device
from data.errors import ChecksumError, DataError, IdxFormatError, MissingDataError
from data.load import Dataset, load_dataset
from data.registry import DATASETS, DatasetInfo, get_dataset

__all__ = [
    "DATASETS",
    "Batch",
    "ChecksumError",
    "DataError",
    "Dataset",
    "DatasetInfo",
    "DeviceArrays",
    "IdxFormatError",
    "MissingDataError",
    "batches",
    "epoch_order",
    "get_dataset",
    "load_dataset",
    "num_batches",
    "to_device",
]
