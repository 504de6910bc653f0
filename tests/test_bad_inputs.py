"""Every bad input across the commands: one clear line on stderr, a non-zero exit, no traceback,
no training started, and no file half-written or replaced. And the other side of that rule: a
bug in our own code keeps its traceback."""

import subprocess
import sys
import textwrap

import pytest

from tests.bad_files import FILE_CASES, make_world
from tests.bad_options import OPTION_CASES, D, W
from tests.cli import ROOT, assert_one_line_error, command_env, run_module

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def world(shared_data_dir, tmp_path_factory):
    yield from make_world(tmp_path_factory.mktemp("bad"), shared_data_dir)


CASES = OPTION_CASES + FILE_CASES


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
        import experiments.finish
        from experiments.recipes.cnn import DEFAULTS, build_model
        """
        )
        + textwrap.dedent(bug)
        + textwrap.dedent(
            """
        sys.exit(experiments.common.main("cnn", "", build_model, DEFAULTS, sys.argv[1:]))
        """
        )
    )
    args = ["--data-dir", str(shared_data_dir), "--subset", "256", "--epochs", "1", "--offline"]
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

        experiments.finish.write_run_folder = write_run_folder
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
