"""Every bad input across the commands: one clear line on stderr, a non-zero exit, no traceback,
and no file half-written."""

import gzip
import shutil

import numpy as np
import pytest

from nn.checkpoint import save_checkpoint
from tests.cli import assert_one_line_error, run_module

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def world(shared_data_dir, tmp_path_factory):
    """Files the bad inputs point at: a truncated and a foreign data file, checkpoints that are
    damaged or of another model, a non-image, a blank image, a folder that is a file."""
    root = tmp_path_factory.mktemp("bad")
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
    save_checkpoint(
        root / "other-model.npz",
        {"params": ({"w": np.zeros((3, 3))},)},
        {
            "experiment": "cnn",
            "config": {},
            "in_shape": [28, 28, 1],
            "class_names": [str(i) for i in range(10)],
            "epoch": 1,
            "mean": 0.0,
            "std": 1.0,
        },
    )
    (root / "text.png").write_text("not an image")
    from PIL import Image

    Image.new("L", (50, 50), 255).save(root / "blank.png")
    digit = Image.new("L", (50, 50), 255)
    digit.paste(0, (20, 5, 30, 45))  # a dark bar, a "1"
    digit.save(root / "digit.png")
    (root / "a-file").write_text("")
    (root / "empty").mkdir()
    return root


D = "{data}"  # replaced by the real data root
W = "{world}"  # replaced by the fixture folder

CASES = [  # (id, module, args, what the one line must say)
    ("unknown dataset", "experiments.cnn", ["--dataset", "cifar10"], ["invalid choice"]),
    ("zero epochs", "experiments.cnn", ["--epochs", "0"], ["--epochs", "positive integer"]),
    ("word epochs", "experiments.cnn", ["--epochs", "ten"], ["--epochs", "'ten'"]),
    ("negative batch", "experiments.cnn", ["--batch-size", "-3"], ["--batch-size"]),
    ("nan learning rate", "experiments.cnn", ["--lr", "nan"], ["--lr", "positive finite"]),
    ("negative validation", "experiments.mlp", ["--validation", "-5"], ["--validation"]),
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


@pytest.mark.parametrize(
    ("module", "args", "needles"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input_gets_one_clear_line(module, args, needles, world, shared_data_dir, tmp_path):
    fill = {D: str(shared_data_dir), W: str(world)}
    args = [a.replace(D, fill[D]).replace(W, fill[W]) for a in args]
    out = tmp_path / "out"
    if module != "experiments.predict":
        if module != "experiments.compare":
            args.append("--offline")  # never the network, even when the data is missing
        if "--out" not in args and not {"--resume", "--eval-only"} & set(args):
            args += ["--out", str(out)]
    before = sorted(p.name for p in world.rglob("*"))
    proc = run_module(
        module,
        *args,
        cwd=tmp_path,
        env={"XDG_CACHE_HOME": str(tmp_path / "cache"), "HANDJAX_DATA_DIR": ""},
    )
    assert_one_line_error(proc, *needles)
    assert not out.exists()  # no half-written run folder
    assert sorted(p.name for p in world.rglob("*")) == before  # inputs left as they were


def test_predict_without_any_checkpoint_says_how_to_get_one(world, tmp_path):
    proc = run_module("experiments.predict", world / "digit.png", cwd=tmp_path)
    assert_one_line_error(proc, "no checkpoint found", "python -m experiments.cnn")
