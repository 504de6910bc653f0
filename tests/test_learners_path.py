"""The learner's path: the README draws, for the one-file example and for the main command, the
calls from the command to Conv2D.backward, and they are the calls made (3 from the example, 6
from experiments.cnn, at most); the example trains end to end."""

import re

import pytest

from tests.cli import ROOT, run_module

pytestmark = pytest.mark.slow


def drawn(module: str) -> list[str]:
    """The path the README draws for ``python -m module``: a line ``python -m module:  a -> b``."""
    text = (ROOT / "README.md").read_text()
    line = re.search(rf"^python -m {re.escape(module)}: +(.+)$", text, re.MULTILINE)
    assert line, f"the README draws no path for {module}"
    return line.group(1).split(" -> ")


def taken(proc) -> list[str]:
    assert proc.returncode == 0, proc.stderr[-3000:]
    return re.search(r"^PATH (.+)$", proc.stdout, re.MULTILINE).group(1).split(" -> ")


def test_the_example_trains_and_reaches_conv_backward_in_three_calls(shared_data_dir):
    proc = run_module(
        "tests.call_path", "experiments.from_scratch", "--subset", "6000",
        "--data-dir", shared_data_dir,
    )  # fmt: skip
    path = taken(proc)
    assert path == drawn("experiments.from_scratch") and path[-1] == "Conv2D.backward"
    assert len(path) - 1 <= 3
    assert float(re.search(r"test accuracy: (\S+)", proc.stdout).group(1)) > 0.9


def test_the_main_command_reaches_conv_backward_in_six_calls(shared_data_dir, tmp_path):
    proc = run_module(
        "tests.call_path", "--stop", "experiments.cnn", "--subset", "256", "--epochs", "1",
        "--data-dir", shared_data_dir, "--offline", "--out", tmp_path / "run",
    )  # fmt: skip
    path = taken(proc)
    assert path == drawn("experiments.cnn") and path[0] == "main"
    assert len(path) - 1 <= 6
