"""Every bad input across the commands: one clear line on stderr, a non-zero exit, no traceback,
no training started, and no file half-written or replaced. And the other side of that rule: a
bug in our own code keeps its traceback."""

import fcntl
import gzip
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from nn.checkpoint import save_checkpoint
from tests.cli import ROOT, assert_one_line_error, command_env, run_module

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def world(shared_data_dir, tmp_path_factory):
    """Files the bad inputs point at: a truncated and a foreign data file, checkpoints that are
    damaged, of another model or with an incomplete header, a non-image, a blank image, a folder
    that is a file, run folders holding a finished and an unfinished run, one in use."""
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


D = "{data}"  # replaced by the real data root
W = "{world}"  # replaced by the fixture folder

SEEDS = "--seed", "from 0 to 4294967295"

CASES = [  # (id, module, args, what the one line must say[, environment])
    ("unknown dataset", "experiments.cnn", ["--dataset", "cifar10"], ["invalid choice"]),
    ("zero epochs", "experiments.cnn", ["--epochs", "0"], ["--epochs", "positive integer"]),
    ("word epochs", "experiments.cnn", ["--epochs", "ten"], ["--epochs", "'ten'"]),
    (
        "epochs beyond what a run can count",
        "experiments.cnn",
        ["--data-dir", D, "--epochs", "99999999999999999999"],
        ["--epochs 99999999999999999999", "more than a run can count", "at most 1,145,324"],
    ),
    ("negative batch", "experiments.cnn", ["--batch-size", "-3"], ["--batch-size"]),
    ("zero batch", "experiments.cnn", ["--batch-size", "0"], ["--batch-size", "positive"]),
    ("nan learning rate", "experiments.cnn", ["--lr", "nan"], ["--lr", "positive finite"]),
    ("zero learning rate", "experiments.cnn", ["--lr", "0"], ["--lr", "positive finite"]),
    ("underflowing learning rate", "experiments.cnn", ["--lr", "1e-400"], ["--lr", "1e-400"]),
    ("infinite learning rate", "experiments.cnn", ["--lr", "1e999"], ["--lr", "positive finite"]),
    ("unknown test-time views", "experiments.best", ["--tta", "rotate"], ["--tta", "'rotate'"]),
    ("negative seed", "experiments.cnn", ["--seed", "-1"], [*SEEDS, "'-1'"]),
    ("seed beyond 64 bits", "experiments.cnn", ["--seed", "99999999999999999999"], [*SEEDS]),
    ("seed beyond 32 bits", "experiments.mlp", ["--seed", "4294967296"], [*SEEDS]),
    ("word seed", "experiments.softmax", ["--seed", "one"], [*SEEDS, "'one'"]),
    ("negative validation", "experiments.mlp", ["--validation", "-5"], ["--validation"]),
    (
        "validation holds out every example",
        "experiments.mlp",
        ["--data-dir", D, "--validation", "60000"],
        ["--validation 60000 leaves no training examples", "60000"],
    ),
    (
        "validation leaves less than a batch",
        "experiments.cnn",
        ["--data-dir", D, "--validation", "59990"],
        ["--batch-size 32 is larger than the 10 training examples"],
    ),
    ("zero subset", "experiments.cnn", ["--subset", "0"], ["--subset", "positive integer"]),
    (
        "subset smaller than a batch",
        "experiments.cnn",
        ["--data-dir", D, "--subset", "5"],
        ["--batch-size 32 is larger than the 5 training examples"],
    ),
    ("zero devices", "experiments.cnn", ["--devices", "0"], ["--devices", "positive integer"]),
    (
        "more devices than there are",
        "experiments.cnn",
        ["--data-dir", D, "--devices", "4096"],
        ["--devices 4096", "device(s)"],
    ),
    (
        "process id without coordinator",
        "experiments.cnn",
        ["--process-id", "0"],
        ["--num-processes and --process-id need --coordinator"],
    ),
    (
        "process id out of range",
        "experiments.cnn",
        ["--coordinator", "127.0.0.1:29500", "--num-processes", "2", "--process-id", "2"],
        ["--process-id 2 must be between 0 and 1"],
    ),
    (
        "coordinator without a port",
        "experiments.cnn",
        ["--coordinator", "localhost", "--num-processes", "2", "--process-id", "0"],
        ["--coordinator", "HOST:PORT", "'localhost'"],
    ),
    (
        "negative process id from the environment",
        "experiments.cnn",
        [],
        ["$HANDJAX_PROCESS_ID", "'-1'"],
        {
            "HANDJAX_COORDINATOR": "127.0.0.1:29500",
            "HANDJAX_NUM_PROCESSES": "2",
            "HANDJAX_PROCESS_ID": "-1",
        },
    ),
    (
        "zero processes from the environment",
        "experiments.cnn",
        ["--coordinator", "127.0.0.1:29500", "--process-id", "0"],
        ["$HANDJAX_NUM_PROCESSES", "positive integer"],
        {"HANDJAX_NUM_PROCESSES": "0"},
    ),
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


TRAINS = {"loss turns NaN"}  # the one bad input found only by training


@pytest.mark.parametrize(
    ("case", "module", "args", "needles", "env"),
    [(*c[:4], c[4] if len(c) > 4 else {}) for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_bad_input_gets_one_clear_line(
    case, module, args, needles, env, world, shared_data_dir, tmp_path
):
    fill = {D: str(shared_data_dir), W: str(world)}
    args = [a.replace(D, fill[D]).replace(W, fill[W]) for a in args]
    needles = [n.replace(W, fill[W]) for n in needles]
    out = tmp_path / "out"
    if module != "experiments.predict":
        if module != "experiments.compare":
            args.append("--offline")  # never the network, even when the data is missing
        if "--out" not in args and not {"--resume", "--eval-only"} & set(args):
            args += ["--out", str(out)]
    before = {p: p.stat().st_mtime_ns for p in world.rglob("*") if p.is_file()}
    proc = run_module(
        module,
        *args,
        cwd=tmp_path,
        env={"XDG_CACHE_HOME": str(tmp_path / "cache"), "HANDJAX_DATA_DIR": ""} | env,
    )
    assert_one_line_error(proc, *needles)
    assert not out.exists()  # no half-written run folder
    after = {p: p.stat().st_mtime_ns for p in world.rglob("*") if p.is_file()}
    assert after == before  # inputs left as they were: none added, removed or rewritten
    if case not in TRAINS:
        assert "Epoch" not in proc.stdout  # refused before any training


def run_with_a_bug(bug: str, out, shared_data_dir) -> subprocess.CompletedProcess:
    """experiments.cnn's main with ``bug`` (Python source) run first, on 100 examples."""
    script = (
        textwrap.dedent(
            """
        import sys
        import experiments.common
        from experiments.cnn import DEFAULTS, build_model
        """
        )
        + textwrap.dedent(bug)
        + textwrap.dedent(
            """
        sys.exit(experiments.common.main("cnn", "", build_model, DEFAULTS, sys.argv[1:]))
        """
        )
    )
    args = ["--data-dir", str(shared_data_dir), "--subset", "100", "--epochs", "1", "--offline"]
    return subprocess.run(
        [sys.executable, "-c", script, *args, "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=command_env(),
    )


def test_a_bug_keeps_its_traceback_and_says_it_is_a_bug(shared_data_dir, tmp_path):
    """An exception of ours that is no expected failure (here a ValueError from building the
    model) is not shortened to one line: the traceback stays, then a line saying it is a bug;
    the run folder it had created is removed."""
    bug = """
        def build_model(num_classes):
            raise ValueError("a bug in build_model")
        """
    out = tmp_path / "out"
    proc = run_with_a_bug(bug, out, shared_data_dir)
    assert proc.returncode == 70, proc.stderr
    assert "Traceback" in proc.stderr and "ValueError: a bug in build_model" in proc.stderr
    assert "is a bug in handjax" in proc.stderr.strip().splitlines()[-1]
    assert not out.exists()


def test_a_failure_after_a_checkpoint_keeps_it_and_says_how_to_go_on(shared_data_dir, tmp_path):
    """A run that fails once it has a checkpoint (here an OSError, not ours to expect, while
    writing the figures) keeps its folder and checkpoint, and says how to continue."""
    bug = """
        def write_run_folder(*args):
            raise OSError("a bug while writing the run folder")

        experiments.common.write_run_folder = write_run_folder
        """
    out = tmp_path / "out"
    proc = run_with_a_bug(bug, out, shared_data_dir)
    assert proc.returncode == 70, proc.stderr
    assert "OSError: a bug while writing the run folder" in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert "is a bug in handjax" in last and f"continue with --resume {out}" in last
    assert (out / "checkpoint.npz").exists() and not (out / "metrics.json").exists()


def test_data_package_reads_no_environment_variable_of_ours():
    """$HANDJAX_DATA_DIR is read by the command line and passed down; data/ reads only the
    platform's own XDG_CACHE_HOME (where the per-user cache is)."""
    for path in (ROOT / "data").glob("*.py"):
        for line in path.read_text().splitlines():
            if "environ" in line or "getenv" in line:
                assert "XDG_CACHE_HOME" in line, f"{path.name}: {line.strip()}"


def test_predict_without_any_checkpoint_says_how_to_get_one(world, tmp_path):
    proc = run_module("experiments.predict", world / "digit.png", cwd=tmp_path)
    assert_one_line_error(proc, "no checkpoint found", "python -m experiments.cnn")
