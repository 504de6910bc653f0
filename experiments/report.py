"""The evaluation report, as text (in the layout of the Keras scripts this project started from)
and as a JSON-ready dict.

for digits: 0   1   2 ...
TP: [...]
...
    precision specificity F1_scores accuracy recall or sensitivity
0   0.888298  0.988333    0.860825  0.9730   0.835
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from nn.metrics import averages, confusion_matrix, overall_accuracy, per_class


def build_report(
    labels: np.ndarray, predictions: np.ndarray, class_names: Sequence[str]
) -> dict[str, Any]:
    """Everything the report prints, as plain lists and floats (for metrics.json)."""
    cm = confusion_matrix(labels, predictions, len(class_names))
    m = per_class(cm)
    return {
        "class_names": list(class_names),
        "confusion_matrix": cm.tolist(),
        "per_class": {k: getattr(m, k).tolist() for k in m._fields},
        "averages": averages(m),
        "accuracy": overall_accuracy(cm),
    }


def format_report(report: dict[str, Any]) -> str:
    names = report["class_names"]
    pc = report["per_class"]
    label = "digits" if all(n.isdigit() for n in names) else "classes"
    cell = max(3, *(len(n) for n in names)) + 1
    lines = [f"for {label}: " + "".join(f"{n:<{cell}}" for n in names).rstrip()]
    for key in ("tp", "tn", "fp", "fn"):
        lines.append(f"{key.upper()}: {pc[key]}")
    head = ["precision", "specificity", "F1_scores", "accuracy", "recall or sensitivity"]
    keys = ["precision", "specificity", "f1", "accuracy", "recall"]
    w = max(len(n) for n in names) + 2
    lines.append(" " * w + " ".join(head))
    for i, n in enumerate(names):
        vals = [f"{pc[k][i]:<{len(h)}.6f}" for k, h in zip(keys, head, strict=True)]
        lines.append(f"{n:<{w}}" + " ".join(vals).rstrip())
    lines.append("")
    lines.append(format_confusion_matrix(report["confusion_matrix"], names))
    lines.append("")
    lines.append(f"{'average':<10}{'precision':>11}{'recall':>9}{'specificity':>13}{'f1':>8}")
    for kind, vals in report["averages"].items():
        lines.append(
            f"{kind:<10}{vals['precision']:>11.4f}{vals['recall']:>9.4f}"
            f"{vals['specificity']:>13.4f}{vals['f1']:>8.4f}"
        )
    lines.append(f"overall accuracy: {report['accuracy']:.4f}")
    return "\n".join(lines)


def format_confusion_matrix(cm: list[list[int]], names: Sequence[str]) -> str:
    """Rows: true class; columns: predicted class."""
    short = [n[:7] for n in names]
    w = max(5, *(len(s) for s in short), len(str(max(max(r) for r in cm)))) + 1
    lw = max(len(n) for n in names) + 2
    lines = [
        "confusion matrix (rows: true, columns: predicted)",
        " " * lw + "".join(f"{s:>{w}}" for s in short),
    ]
    for n, row in zip(names, cm, strict=True):
        lines.append(f"{n:<{lw}}" + "".join(f"{v:>{w}}" for v in row))
    return "\n".join(lines)
