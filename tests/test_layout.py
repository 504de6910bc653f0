"""The shape of the code: nn/ stands on jax, optax and numpy alone; data/ imports no other package
of ours; no module imports a command-line module (a ``python -m`` entry point is a leaf, the recipes
it runs are plain modules in experiments/recipes/); and every source file is under 250 lines."""

import ast
import sys
from pathlib import Path

from tests.cli import ROOT

PACKAGES = ("nn", "data", "experiments", "benchmarks")
MAX_LINES = 250

# Owned by branches that split them as this one lands (the lead empties these at merge; an entry
# that no longer holds fails the tests below, so that none outlives its reason).
AWAITING_IMPORTS: set[tuple[str, str]] = set()  # (importer, command-line module) being moved
AWAITING_SPLIT: set[str] = set()  # files over MAX_LINES being split on other branches


def modules() -> dict[str, Path]:
    return {
        ".".join(p.relative_to(ROOT).with_suffix("").parts): p
        for package in PACKAGES
        for p in sorted((ROOT / package).rglob("*.py"))
    }


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at its top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return found


def is_entry_point(path: Path) -> bool:
    return any(
        isinstance(n, ast.If) and "__main__" in ast.unparse(n.test)
        for n in ast.parse(path.read_text()).body
    )


def test_nn_stands_on_jax_optax_and_numpy_alone():
    allowed = ("jax", "optax", "numpy", "nn")
    for name, path in modules().items():
        if name.startswith("nn."):
            for imported in imports(path):
                top = imported.split(".")[0]
                assert top in allowed or top in sys.stdlib_module_names, f"{name}: {imported}"


def test_data_imports_no_other_package_of_ours():
    for name, path in modules().items():
        if name.startswith("data."):
            ours = {i for i in imports(path) if i.split(".")[0] in PACKAGES}
            assert all(i.startswith("data") for i in ours), f"{name}: {ours}"


def test_no_module_imports_a_command_line_module():
    mods = modules()
    leaves = {n for n, p in mods.items() if is_entry_point(p)}
    assert {"experiments.predict", "experiments.cnn", "benchmarks.train"} <= leaves
    found = {(name, target) for name, path in mods.items() for target in imports(path) & leaves}
    assert found == AWAITING_IMPORTS


def test_every_source_file_is_under_250_lines():
    files = [p for d in (*PACKAGES, "tests") for p in sorted((ROOT / d).rglob("*.py"))]
    assert len(files) > 50
    long = {
        str(p.relative_to(ROOT)): n
        for p in files
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert set(long) == AWAITING_SPLIT, long
