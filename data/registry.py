"""The datasets this project knows, each in one entry: its files (names, sizes, sha256
checksums) and mirrors, its classes, and what the experiments need to know about it: the
augmentation preset of ``--augment auto``, the test-time views of ``--tta auto``, and how its
pictures were framed in the 28x28 field (so that an outside picture can be framed the same way).
A dataset added here needs nothing else (tests/test_registry.py checks every entry).

MNIST: Y. LeCun, C. Cortes, C. Burges, CC BY-SA 3.0.
Fashion-MNIST: H. Xiao, K. Rasul, R. Vollgraf (Zalando Research), MIT licence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple


@dataclass(frozen=True)
class DataFile:
    name: str  # file name, identical on every mirror and in the local folder
    size: int  # bytes
    sha256: str


class Framing(NamedTuple):
    """How a dataset placed its pictures in the 28x28 field."""

    side: int  # pixels of the picture's longer side
    by_mass: bool  # centre its centre of mass (else its bounding box)
    trim: float  # crop to the pixels above this fraction of the contrast


@dataclass(frozen=True)
class DatasetInfo:
    name: str  # registry key and local folder name
    train_images: DataFile
    train_labels: DataFile
    test_images: DataFile
    test_labels: DataFile
    class_names: tuple[str, ...]
    mirrors: tuple[str, ...]  # base URLs, tried in order; each ends with "/"
    credit: str
    augment: str  # the augmentation preset of --augment auto (a name in data/augment.py)
    test_views: str  # the test-time views of --tta auto (a name in data/views.py)
    framing: Framing  # how its pictures sit in the field, for outside pictures

    @property
    def files(self) -> tuple[DataFile, ...]:
        return (self.train_images, self.train_labels, self.test_images, self.test_labels)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


MNIST = DatasetInfo(
    name="mnist",
    train_images=DataFile(
        "train-images-idx3-ubyte.gz",
        9912422,
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    ),
    train_labels=DataFile(
        "train-labels-idx1-ubyte.gz",
        28881,
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    ),
    test_images=DataFile(
        "t10k-images-idx3-ubyte.gz",
        1648877,
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    ),
    test_labels=DataFile(
        "t10k-labels-idx1-ubyte.gz",
        4542,
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    ),
    class_names=tuple(str(d) for d in range(10)),
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ),
    credit="MNIST by Y. LeCun, C. Cortes and C. Burges (CC BY-SA 3.0)",
    augment="mnist",  # handwriting: other writers' slants, sizes, positions and pens
    # a digit moved by one pixel is the same digit: the main job's medians 99.41 -> 99.51% on
    # MNIST, 95.94 -> 96.55% on the UCI digits of other writers (BENCHMARKS.md, "Fourth pass");
    # experiments.best's, 20 epochs: 99.61 -> 99.66% ("Later on 2026-12-03"; at 12, nothing)
    test_views="shifts",
    framing=Framing(20, True, 0.2),  # LeCun et al.: fit 20x20, centre of mass at the centre
)

FASHION_MNIST = DatasetInfo(
    name="fashion-mnist",
    train_images=DataFile(
        "train-images-idx3-ubyte.gz",
        26421880,
        "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    ),
    train_labels=DataFile(
        "train-labels-idx1-ubyte.gz",
        29515,
        "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    ),
    test_images=DataFile(
        "t10k-images-idx3-ubyte.gz",
        4422102,
        "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
    ),
    test_labels=DataFile(
        "t10k-labels-idx1-ubyte.gz",
        5148,
        "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    ),
    class_names=(
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ),
    mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    credit="Fashion-MNIST by Zalando Research (MIT licence)",
    augment="fashion",  # clothing: mirror images (data/augment.py says why no shifts)
    test_views="flip",  # a mirrored garment is the same garment
    framing=Framing(28, False, 0.05),  # Xiao et al.: trim, longer edge 28, bounding box centred
)

DATASETS: dict[str, DatasetInfo] = {d.name: d for d in (MNIST, FASHION_MNIST)}


def get_dataset(name: str) -> DatasetInfo:
    """The registry entry for ``name``; a clear error for unknown names."""
    try:
        return DATASETS[name]
    except KeyError:
        raise ValueError(
            f"unknown dataset {name!r}; choose one of: {', '.join(DATASETS)}"
        ) from None
