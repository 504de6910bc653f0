"""Bad files and folders, for tests/test_bad_inputs.py: the files they point at
(``make_world``) and the cases (id, module, args, what the one line must say[, environment])."""

import fcntl
import gzip
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from nn.checkpoint import save_checkpoint
from tests.bad_options import D, W


def make_world(root: Path, shared_data_dir: Path) -> Iterator[Path]:
    """Files the bad inputs point at: a truncated and a foreign data file, checkpoints that are
    damaged, of another model or with an incomplete header, a non-image, a blank image, a folder
    that is a file, run folders holding a finished and an unfinished run, one in use."""
    truncated = root / "truncated"
    shutil.copytree(shared_data_dir / "mnist", truncated / "mnist")
    p = truncated / "mnist" / "t10k-images-idx3-ubyte.gz"
    p.write_bytes(p.read_bytes()[:50_000])
    foreign = root / "foreign"
    shutil.copytree(shared_data_dir / "mnist", foreign / "mnist")
    (foreign / "mnist" / "t10k-labels-idx1-ubyte.gz").write_bytes(
        gzip.compress(b"\0\0\x08\x01\0\0\x27\x10" + bytes(10_000))
    )
    (root / "damaged.npz").write_bytes(b"PK\x03\x04 this is not a zip")
    header = {
        "experiment": "cnn",
        "config": {},
        "in_shape": [28, 28, 1],
        "class_names": [str(i) for i in range(10)],
        "epoch": 1,
        "mean": 0.0,
        "std": 1.0,
    }
    tree = {"params": ({"w": np.zeros((3, 3))},)}
    save_checkpoint(root / "other-model.npz", tree, header)
    save_checkpoint(root / "headerless.npz", tree, {"experiment": "cnn", "epoch": 1})
    save_checkpoint(root / "moved-data.npz", tree, header | {"data_root": str(root / "gone")})
    for name, files in [("finished", ["checkpoint.npz", "metrics.json"]),
                        ("unfinished", ["checkpoint.npz"])]:  # fmt: skip
        (root / name).mkdir()
        save_checkpoint(root / name / "checkpoint.npz", tree, header | {"config": {"epochs": 1}})
        if "metrics.json" in files:
            (root / name / "metrics.json").write_text("{}")
    (root / "busy").mkdir()
    (root / "text.png").write_text("not an image")
    from PIL import Image

    Image.new("L", (50, 50), 255).save(root / "blank.png")
    digit = Image.new("L", (50, 50), 255)
    digit.paste(0, (20, 5, 30, 45))  # a dark bar, a "1"
    digit.save(root / "digit.png")
    (root / "a-file").write_text("")
    (root / "empty").mkdir()
    lock = open(root / "busy" / ".lock", "w")  # noqa: SIM115  (held while the tests run)
    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a run in progress holds it
    lock.write("process 1 in this test\n")
    lock.flush()
    yield root
    lock.close()


FILE_CASES = [
    (
        "out folder holds a finished run",
        "experiments.cnn",
        ["--data-dir", D, "--out", W + "/finished"],
        ["finished already holds a finished run", "--resume", "--out", "--overwrite"],
    ),
    (
        "out folder holds an unfinished run",
        "experiments.cnn",
        ["--data-dir", D, "--out", W + "/unfinished"],
        ["already holds a run", "--resume " + W + "/unfinished", "--out", "--overwrite"],
    ),
    (
        "out folder in use by another run",
        "experiments.cnn",
        ["--data-dir", D, "--out", W + "/busy", "--overwrite"],
        ["busy is in use by another run (process 1 in this test)", "--out"],
    ),
    (
        "overwrite with resume",
        "experiments.cnn",
        ["--resume", W + "/unfinished", "--overwrite"],
        ["--overwrite cannot be combined with --resume"],
    ),
    (
        "resume a finished run",
        "experiments.cnn",
        ["--data-dir", D, "--resume", W + "/finished"],
        ["already finished its 1 epochs; nothing to resume"],
    ),
    (
        "batch larger than data",
        "experiments.cnn",
        ["--data-dir", D, "--batch-size", "60001"],
        ["--batch-size 60001 is larger than the 60000"],
    ),
    (
        "output folder is a file",
        "experiments.cnn",
        ["--data-dir", D, "--out", W + "/a-file/run"],
        ["cannot write to the output folder", "--out"],
    ),
    (
        "missing data, offline",
        "experiments.cnn",
        ["--data-dir", W + "/empty"],
        ["empty/mnist", "Put the four files", "train-images-idx3-ubyte.gz"],
    ),
    (
        "truncated data file",
        "experiments.cnn",
        ["--data-dir", W + "/truncated"],
        ["t10k-images-idx3-ubyte.gz", "sha256", "delete it"],
    ),
    (
        "wrong checksum",
        "experiments.softmax",
        ["--data-dir", W + "/foreign"],
        ["t10k-labels-idx1-ubyte.gz", "does not match"],
    ),
    (
        "loss turns NaN",
        "experiments.cnn",
        ["--data-dir", D, "--lr", "1e15", "--schedule", "constant", "--subset", "6400"],
        ["NaN or infinite at epoch 1, step", "--lr"],
    ),
    (
        "damaged checkpoint",
        "experiments.cnn",
        ["--data-dir", D, "--eval-only", "--checkpoint", W + "/damaged.npz"],
        ["damaged or not a checkpoint"],
    ),
    (
        "missing checkpoint",
        "experiments.cnn",
        ["--eval-only", "--checkpoint", W + "/none.npz"],
        ["no such checkpoint"],
    ),
    (
        "checkpoint of another model",
        "experiments.cnn",
        ["--data-dir", D, "--eval-only", "--checkpoint", W + "/other-model.npz"],
        ["different model"],
    ),
    (
        "checkpoint with an incomplete header",
        "experiments.cnn",
        ["--data-dir", D, "--eval-only", "--checkpoint", W + "/headerless.npz"],
        ["headerless.npz: its header lacks config, in_shape, class_names"],
    ),
    (
        "evaluate a run whose data folder is gone",
        "experiments.cnn",
        ["--eval-only", "--checkpoint", W + "/moved-data.npz"],
        ["mnist is not available", "Put the four files"],
    ),
    ("eval-only without checkpoint", "experiments.cnn", ["--eval-only"], ["--checkpoint PATH"]),
    (
        "resume a folder with no run",
        "experiments.cnn",
        ["--resume", W + "/empty"],
        ["no such checkpoint"],
    ),
    (
        "resume with changed options",
        "experiments.cnn",
        ["--resume", W, "--epochs", "9"],
        ["--epochs cannot be changed with --resume"],
    ),
    (
        "resume with test-time augmentation",
        "experiments.best",
        ["--resume", W, "--tta", "flip"],
        ["--tta cannot be changed with --resume"],
    ),
    (
        "predict a non-image",
        "experiments.predict",
        [W + "/text.png", "--checkpoint", W + "/other-model.npz"],
        ["not a readable image"],
    ),
    (
        "predict a missing file",
        "experiments.predict",
        [W + "/nope.png", "--checkpoint", W + "/other-model.npz"],
        ["nope.png: no such file"],
    ),
    (
        "predict a blank image",
        "experiments.predict",
        [W + "/blank.png", "--checkpoint", W + "/other-model.npz"],
        ["blank.png", "blank"],
    ),
    (
        "predict with a damaged checkpoint",
        "experiments.predict",
        [W + "/digit.png", "--checkpoint", W + "/damaged.npz"],
        ["damaged or not a checkpoint"],
    ),
    (
        "compare a folder without runs",
        "experiments.compare",
        ["--runs", W + "/empty"],
        ["metrics.json not found"],
    ),
]
