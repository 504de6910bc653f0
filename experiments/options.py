"""The values a command line accepts: a parser whose errors are one line, and one type per
kind of value (argparse's ``type=``), each naming what it wants when a value is refused.
Every command (the experiments, experiments.compare, experiments.predict, the benchmarks)
parses with these."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import NoReturn

from data.augment import describe, parse_augment
from experiments.outcome import EXIT_USAGE

MAX_SEED = 2**32 - 1  # JAX keeps the low 32 bits of a seed (2**32 would repeat seed 0)


class CliParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (plus the pointer to --help), not a usage dump."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def number_in(text: str, ok: Callable[[float], bool], what: str) -> float:
    """float(text) when ``ok`` accepts it; otherwise an error saying it must be ``what``."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")  # accepted by no range
    if not ok(value):
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
    return value


def positive_float(text: str) -> float:
    return number_in(text, lambda v: 0 < v < float("inf"), "a positive finite number")


def non_negative_int(text: str) -> int:
    value = int(text) if text.lstrip("-").isdigit() else -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r}")
    return value


def seed_int(text: str) -> int:
    value = int(text) if text.strip().lstrip("+-").isdigit() else -1
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be an integer from 0 to {MAX_SEED}, got {text!r}")
    return value


def smoothing(text: str) -> float:
    return number_in(text, lambda v: 0 <= v < 1, "a number in [0, 1)")


def augment_spec(text: str) -> str:
    """A valid --augment value, in its canonical form (data.augment.describe), or "auto"."""
    if text == "auto":
        return text
    try:
        return describe(parse_augment(text))
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def coordinator_address(text: str) -> str:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(
            f"expected HOST:PORT with a port from 1 to 65535, got {text!r}"
        )
    return text
