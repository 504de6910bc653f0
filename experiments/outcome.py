"""How a command ends: one line for an expected failure, a traceback for a bug, and the exit code.

A command ends with one of these exit codes:
    0        it did its work;
    2        a bad command-line value (UsageError): one line on stderr;
    1        an expected failure (DataError, CheckpointError, TrainingDiverged, FileError for
             the user's files and folders, ClusterError): one line on stderr;
    128+N    stopped by signal N (143 for SIGTERM, 130 for Ctrl-C) after saving what it could;
    70       anything else: a bug in handjax, which keeps its traceback, followed by a line
             saying so.
"""

from __future__ import annotations

import signal
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from data import DataError
from experiments.cluster import ClusterError
from experiments.epoch import TrainingDiverged
from nn.checkpoint import CheckpointError

EXIT_USAGE = 2  # a bad command-line value
EXIT_FAILURE = 1  # data, checkpoint, the user's files, divergence, the cluster
EXIT_BUG = 70  # an unexpected exception: a bug (sysexits' EX_SOFTWARE)
Cleanup = Callable[[bool], str | None]  # cleanup(interrupted) -> a note for the message, or None


class UsageError(Exception):
    """A bad command-line value."""


class FileError(Exception):
    """A file or folder of the user's could not be read or written (permissions, a full disk,
    a folder in use by another run)."""


class Stopped(Exception):
    """The run stopped on a signal after saving what it could; the message says how to go on."""

    def __init__(self, signum: int, message: str) -> None:
        super().__init__(message)
        self.signum = signum


EXPECTED_ERRORS = (
    UsageError,
    FileError,
    DataError,
    CheckpointError,
    TrainingDiverged,
    ClusterError,
)


class Ending:
    """How the command ended: its exit code, set when ``ending`` catches a failure."""

    code: int = 0


@contextmanager
def ending(cleanup: Cleanup = lambda interrupted: None) -> Iterator[Ending]:
    """``with ending(cleanup) as end:`` runs its body and sets ``end.code`` (see the module
    docstring). On any failure ``cleanup(interrupted)`` first removes whatever the run had
    started to write; it may return a note for the message, e.g. how to resume a run whose
    checkpoint it kept."""
    end = Ending()
    try:
        yield end
    except Stopped as e:
        cleanup(True)
        print(e, file=sys.stderr)
        end.code = 128 + e.signum
    except EXPECTED_ERRORS as e:
        end.code = EXIT_USAGE if isinstance(e, UsageError) else EXIT_FAILURE
        print(f"error: {with_note(str(e), cleanup(False))}", file=sys.stderr)
    except KeyboardInterrupt:
        end.code = 128 + signal.SIGINT
        print(f"error: {with_note('interrupted', cleanup(True))}", file=sys.stderr)
    except Exception:
        traceback.print_exc()
        bug = "the traceback above is a bug in handjax, not a problem with your command or files"
        print(f"error: {with_note(bug, cleanup(False))}; please report it", file=sys.stderr)
        end.code = EXIT_BUG


def guarded(body: Callable[[], None], cleanup: Cleanup = lambda interrupted: None) -> int:
    """Run ``body`` inside ``ending(cleanup)`` and return the exit code."""
    with ending(cleanup) as end:
        body()
    return end.code


def with_note(message: str, note: str | None) -> str:
    return f"{message}; {note}" if note else message
