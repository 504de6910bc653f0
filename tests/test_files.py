"""A file written whole or not at all (data/files.py), as a run's checkpoint is: a process
killed between writing the new checkpoint and renaming it into place leaves the previous one."""

import signal
import subprocess
import sys
import textwrap

import numpy as np

from nn.checkpoint import read_meta
from tests.cli import ROOT, command_env


def test_checkpoint_killed_while_written_leaves_the_last_good_one(tmp_path):
    """A process killed (SIGKILL) between writing the new checkpoint and renaming it into place
    leaves the previous checkpoint whole; only a temporary .part file remains."""
    path = tmp_path / "checkpoint.npz"
    script = textwrap.dedent(
        f"""
        import os, signal
        import numpy as np
        from pathlib import Path
        import data.files
        from experiments.rundir import write_checkpoint

        write_checkpoint(Path({str(path)!r}), {{"w": np.ones(3)}}, {{"epoch": 1}})
        data.files.os.replace = lambda src, dst: os.kill(os.getpid(), signal.SIGKILL)
        write_checkpoint(Path({str(path)!r}), {{"w": np.full(3, 2.0)}}, {{"epoch": 2}})
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=command_env(), capture_output=True
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert read_meta(path) == {"epoch": 1}
    assert np.array_equal(np.load(path)["['w']"], np.ones(3))
    assert [p.name.endswith(".part") for p in tmp_path.iterdir() if p != path] == [True]
