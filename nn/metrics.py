"""Classification metrics from a confusion matrix, per class and averaged.

Shapes: K classes, N examples. cm[t, p] counts examples of true class t predicted as p.

Per class k (one-vs-rest):
    TP = cm[k, k]                FN = row k sum - TP          FP = column k sum - TP
    TN = N - TP - FN - FP
    precision   = TP / (TP + FP)        recall (sensitivity) = TP / (TP + FN)
    specificity = TN / (TN + FP)        F1 = 2 precision recall / (precision + recall)
    accuracy    = (TP + TN) / N

Zero divisions. A ratio whose denominator is 0 (e.g. the precision of a class that is never
predicted) is undefined; it is reported as 0.0, scikit-learn's ``zero_division=0`` convention,
without warnings and without NaN. F1 is 0.0 when precision + recall = 0.

Averages: macro = plain mean over classes; weighted = mean weighted by support (TP + FN);
micro = the ratio of the summed counts (for single-label data micro precision = micro recall =
micro F1 = overall accuracy).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_classes: int) -> np.ndarray:
    """(K, K) int64 counts, rows = true class, columns = predicted class."""
    labels, predictions = np.asarray(labels, np.int64), np.asarray(predictions, np.int64)
    if labels.shape != predictions.shape:
        raise ValueError(f"labels {labels.shape} and predictions {predictions.shape} differ")
    for what, a in (("label", labels), ("prediction", predictions)):
        if a.size and (a.min() < 0 or a.max() >= num_classes):
            raise ValueError(f"a {what} is outside 0..{num_classes - 1}")
    flat = np.bincount(labels * num_classes + predictions, minlength=num_classes * num_classes)
    return flat.reshape(num_classes, num_classes)


def safe_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den elementwise, 0.0 where den == 0 (see the module docstring)."""
    num, den = np.asarray(num, np.float64), np.asarray(den, np.float64)
    out = np.zeros(np.broadcast(num, den).shape, np.float64)
    np.divide(num, den, out=out, where=den != 0)
    return out


class ClassMetrics(NamedTuple):
    tp: np.ndarray  # (K,) int
    tn: np.ndarray  # (K,) int
    fp: np.ndarray  # (K,) int
    fn: np.ndarray  # (K,) int
    precision: np.ndarray  # (K,) float
    recall: np.ndarray  # (K,) float, a.k.a. sensitivity
    specificity: np.ndarray  # (K,) float
    f1: np.ndarray  # (K,) float
    accuracy: np.ndarray  # (K,) float, (TP + TN) / N
    support: np.ndarray  # (K,) int, TP + FN: examples of the class


def per_class(cm: np.ndarray) -> ClassMetrics:
    cm = np.asarray(cm, np.int64)
    n = int(cm.sum())
    tp = np.diag(cm).copy()
    fn = cm.sum(axis=1) - tp
    fp = cm.sum(axis=0) - tp
    tn = n - tp - fn - fp
    precision, recall = safe_ratio(tp, tp + fp), safe_ratio(tp, tp + fn)
    return ClassMetrics(
        tp=tp, tn=tn, fp=fp, fn=fn,
        precision=precision,
        recall=recall,
        specificity=safe_ratio(tn, tn + fp),
        f1=safe_ratio(2 * precision * recall, precision + recall),
        accuracy=safe_ratio(tp + tn, np.full_like(tp, n)),
        support=tp + fn,
    )  # fmt: skip


def averages(m: ClassMetrics) -> dict[str, dict[str, float]]:
    """Macro, weighted and micro averages of precision, recall, specificity and F1."""
    weights = m.support / max(int(m.support.sum()), 1)
    names = ("precision", "recall", "specificity", "f1")
    macro = {k: float(np.mean(getattr(m, k))) for k in names}
    weighted = {k: float(np.sum(weights * getattr(m, k))) for k in names}
    tp, fp, fn, tn = (int(a.sum()) for a in (m.tp, m.fp, m.fn, m.tn))
    p, r = float(safe_ratio(tp, tp + fp)), float(safe_ratio(tp, tp + fn))
    micro = {
        "precision": p,
        "recall": r,
        "specificity": float(safe_ratio(tn, tn + fp)),
        "f1": float(safe_ratio(2 * p * r, p + r)),
    }
    return {"macro": macro, "weighted": weighted, "micro": micro}


def overall_accuracy(cm: np.ndarray) -> float:
    return float(safe_ratio(np.trace(cm), np.sum(cm)))
