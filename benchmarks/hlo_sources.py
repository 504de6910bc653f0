"""Which line of our code made each operation of a compiled XLA program.

A compiled program's text (``jax.stages.Compiled.as_text()``) names every operation XLA runs
(``ynn_fusion.12``, ``concatenate.19``, ...) and gives it ``metadata={... stack_frame_id=N}``: the
Python stack that traced it, in tables at the top of the text (FileNames, FunctionNames,
FileLocations, StackFrames). ``operations`` reads them back, so that a profile of the program can
say "this 0.2 ms went to Conv2D.backward's im2col" instead of "to pad_slice_fusion.15".
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent  # the repository: frames in it are "ours"
LAYER_METHOD = re.compile(r"^(?!Sequential\.)[A-Z]\w*\.(forward|backward)$")


class Operation(NamedTuple):
    opcode: str  # "fusion", "dot", "concatenate", ...
    product: bool  # a matrix product: a dot, or a library fusion around one (YNNPACK, oneDNN)
    part: str  # where in our code it came from, e.g. "Conv2D.backward > place_window"
    # a loop or a call whose body runs as operations of its own (XLA's small calls, such as
    # jax.random's key splits, run as one kernel instead)
    control_flow: bool


def table(text: str, name: str) -> list[str]:
    """The lines of one of the tables at the top of the program's text."""
    match = re.search(rf"^{name}\n(.*?)(?:\n\n|\n(?=[A-Z]\w*\n)|\Z)", text, re.M | re.S)
    return match.group(1).splitlines() if match else []


def frame_chains(text: str) -> dict[int, list[tuple[str, str]]]:
    """stack_frame_id -> [(file, function), ...], innermost first."""
    files = dict(re.findall(r'^(\d+) "(.*)"$', "\n".join(table(text, "FileNames")), re.M))
    funcs = dict(re.findall(r'^(\d+) "(.*)"$', "\n".join(table(text, "FunctionNames")), re.M))
    locs = dict(
        (i, (files.get(f, "?"), funcs.get(fn, "?")))
        for i, f, fn in re.findall(
            r"^(\d+) \{file_name_id=(\d+) function_name_id=(\d+)",
            "\n".join(table(text, "FileLocations")),
            re.M,
        )
    )
    frames = {
        int(i): (loc, int(parent))
        for i, loc, parent in re.findall(
            r"^(\d+) \{file_location_id=(\d+) parent_frame_id=(\d+)",
            "\n".join(table(text, "StackFrames")),
            re.M,
        )
    }
    chains: dict[int, list[tuple[str, str]]] = {}
    for start in frames:
        chain, frame = [], start
        while frame in frames and len(chain) < 64:  # 64: a guard against a cycle
            loc, parent = frames[frame]
            chain.append(locs.get(loc, ("?", "?")))
            frame = parent - 1  # the text prints the parent's id plus 1 (1: no parent)
        chains[start] = chain
    return chains


def part_of(chain: list[tuple[str, str]]) -> str:
    """Name the code that made an operation: the layer method (``Conv2D.backward``) and, when the
    operation comes from a helper inside it, that helper (``> im2col``); outside the layers, the
    innermost function of ours (``train.py: step``) or the library (``optax``)."""
    ours = [
        (Path(f).name, fn.split(".<locals>.")[-1])
        for f, fn in chain
        if f.startswith(str(ROOT)) and "site-packages" not in f
    ]
    ours = [(f, fn) for f, fn in ours if not fn.endswith(("<listcomp>", "<genexpr>"))]
    layer = next((i for i, (_, fn) in enumerate(ours) if LAYER_METHOD.match(fn)), None)
    if layer is not None:  # the helper called by the layer method, if any; nn/precision.py's
        method = ours[layer][1]  # matmul and operand are the product itself, not a helper
        helper = ours[layer - 1][1].split(".")[-1] if layer > 0 else None
        return method if helper in (None, "matmul", "operand") else f"{method} > {helper}"
    if any("optax" in f for f, _ in chain[:3]):  # optax's own frames come first
        return "optax (the optimizer update)"
    if ours:
        return f"{ours[0][0]}: {ours[0][1]}"
    return "other"


def module_name(text: str) -> str:
    """The program's name, as the profiler's events give it (``args.hlo_module``)."""
    return text.split(None, 2)[1].rstrip(",")


def operations(text: str) -> dict[str, Operation]:
    """Every operation of the program's computations, by the name the profiler shows."""
    chains = frame_chains(text)
    ops: dict[str, Operation] = {}
    for m in re.finditer(r"^\s+(?:ROOT )?%(\S+) = .*? ([\w-]+)\(.*$", text, re.M):
        name, opcode, line = m.group(1), m.group(2), m.group(0)
        frame = re.search(r"stack_frame_id=(\d+)", line)
        product = opcode == "dot" or (opcode == "fusion" and "kind=kCustom" in line)
        part = part_of(chains.get(int(frame.group(1)), [])) if frame else "other"
        if "threefry" in line or "random_bits" in line:  # jax.random's jitted helpers keep the
            part = "jax.random (keys, dropout bits)"  # stack of their first trace: name them
        control_flow = opcode in ("while", "conditional") or (
            opcode == "call" and "xla_cpu_small_call" not in line
        )
        ops[name] = Operation(opcode, product, part, control_flow)
    return ops
