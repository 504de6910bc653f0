"""The README's figures agree with each other: every figure in its opening (before the first
section) stands in its Results table."""

import re

from tests.cli import ROOT

FIGURE = re.compile(r"\d[\d,.]*(?:-[\d,.]*\d)?(?:%| s\b| min\b)")  # 99.20%, 57-62 s, 7.0-9.4 min


def sections() -> dict[str, str]:
    text = (ROOT / "README.md").read_text()
    head, *rest = re.split(r"^## ", text, flags=re.MULTILINE)
    return {"": head} | {part.split("\n", 1)[0]: part for part in rest}


def test_the_headline_figures_stand_in_the_results_table():
    parts = sections()
    headline = FIGURE.findall(parts[""])
    table = "\n".join(line for line in parts["Results"].splitlines() if line.startswith("|"))
    assert len(headline) >= 3, headline
    missing = [f for f in headline if f not in table]
    assert not missing, f"headline figures not in the Results table: {missing}"
