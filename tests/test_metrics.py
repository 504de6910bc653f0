"""Metric formulas against known identities, over hypothesis-drawn labels and predictions, and
against a plain-loop reference implementation."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from experiments.report import build_report, format_report
from nn.metrics import averages, confusion_matrix, overall_accuracy, per_class, safe_ratio


@st.composite
def labelled(draw, min_size=1):
    k = draw(st.integers(2, 8))
    n = draw(st.integers(min_size, 60))
    labels = np.array(draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)))
    preds = np.array(draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)))
    return labels, preds, k


@given(labelled())
def test_counts_partition_every_example_per_class(case):
    y, p, k = case
    m = per_class(confusion_matrix(y, p, k))
    np.testing.assert_array_equal(m.tp + m.tn + m.fp + m.fn, len(y))
    np.testing.assert_array_equal(m.tp + m.fn, np.bincount(y, minlength=k))  # support
    np.testing.assert_array_equal(m.tp + m.fp, np.bincount(p, minlength=k))  # predicted as k
    assert int(m.tp.sum()) == int(np.sum(y == p))


@given(labelled())
def test_micro_precision_equals_micro_recall_equals_accuracy(case):
    y, p, k = case
    cm = confusion_matrix(y, p, k)
    micro = averages(per_class(cm))["micro"]
    acc = float(np.mean(y == p))
    assert micro["precision"] == pytest.approx(acc) and micro["recall"] == pytest.approx(acc)
    assert micro["f1"] == pytest.approx(acc) and overall_accuracy(cm) == pytest.approx(acc)


@given(labelled())
def test_f1_is_harmonic_mean_and_lies_between_precision_and_recall(case):
    y, p, k = case
    m = per_class(confusion_matrix(y, p, k))
    for prec, rec, f1 in zip(m.precision, m.recall, m.f1, strict=True):
        if prec + rec > 0:
            assert f1 == pytest.approx(2 / (1 / prec + 1 / rec) if prec * rec else 0.0)
            assert min(prec, rec) - 1e-12 <= f1 <= max(prec, rec) + 1e-12
        else:
            assert f1 == 0.0


@given(labelled(), st.randoms(use_true_random=False))
def test_table_is_invariant_to_permuting_samples(case, rnd):
    y, p, k = case
    order = np.array(rnd.sample(range(len(y)), len(y)))
    a, b = (
        build_report(y, p, list(map(str, range(k)))),
        build_report(y[order], p[order], list(map(str, range(k)))),
    )
    assert a == b


@given(labelled(), st.randoms(use_true_random=False))
def test_table_permutes_with_a_relabelling_of_classes(case, rnd):
    y, p, k = case
    perm = np.array(rnd.sample(range(k), k))  # class c becomes perm[c]
    m, mp = per_class(confusion_matrix(y, p, k)), per_class(confusion_matrix(perm[y], perm[p], k))
    for field in m._fields:
        np.testing.assert_allclose(getattr(mp, field)[perm], getattr(m, field))


@given(labelled())
def test_perfect_predictions_give_all_ones(case):
    y, _, k = case
    m = per_class(confusion_matrix(y, y, k))
    present = m.support > 0
    for field in ("precision", "recall", "f1", "accuracy"):
        np.testing.assert_array_equal(getattr(m, field)[present], 1.0)
    # Specificity is 1 wherever it is defined (some negatives exist: TN + FP > 0).
    np.testing.assert_array_equal(m.specificity[m.tn + m.fp > 0], 1.0)
    assert averages(m)["micro"]["f1"] == 1.0


def reference(y, p, k):
    """Plain loops, straight from the definitions."""
    rows = []
    for c in range(k):
        tp = tn = fp = fn = 0
        for t, q in zip(y, p, strict=True):
            if t == c and q == c:
                tp += 1
            elif t != c and q != c:
                tn += 1
            elif q == c:
                fp += 1
            else:
                fn += 1
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        spec = tn / (tn + fp) if tn + fp else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        rows.append((tp, tn, fp, fn, prec, rec, spec, f1, (tp + tn) / len(y)))
    return rows


@given(labelled())
def test_agrees_with_a_plain_loop_reference(case):
    y, p, k = case
    m = per_class(confusion_matrix(y, p, k))
    for c, row in enumerate(reference(y, p, k)):
        got = (
            m.tp[c],
            m.tn[c],
            m.fp[c],
            m.fn[c],
            m.precision[c],
            m.recall[c],
            m.specificity[c],
            m.f1[c],
            m.accuracy[c],
        )
        np.testing.assert_allclose(got, row, rtol=1e-12)


def test_precision_is_zero_without_warnings_when_a_class_is_never_predicted():
    y, p = np.array([0, 1, 2, 2]), np.array([0, 1, 1, 1])
    with np.errstate(all="raise"):
        m = per_class(confusion_matrix(y, p, 3))
        avg = averages(m)
    assert m.precision[2] == 0.0 and m.recall[2] == 0.0 and m.f1[2] == 0.0
    assert all(np.isfinite(v) for kind in avg.values() for v in kind.values())
    assert safe_ratio(0, 0) == 0.0


def test_matches_the_seed_readme_row():
    """The starting scripts' class-0 row (precision 0.888298, specificity 0.988333, F1
    0.860825, accuracy 0.9730, recall 0.835) follows from TP 835, FP 105, FN 165, TN 8895 out
    of 10,000."""
    cm = np.zeros((2, 2), np.int64)
    cm[0, 0], cm[1, 0], cm[0, 1], cm[1, 1] = 835, 105, 165, 8895
    m = per_class(cm)
    assert round(m.precision[0], 6) == 0.888298 and round(m.specificity[0], 6) == 0.988333
    assert round(m.f1[0], 6) == 0.860825 and m.accuracy[0] == 0.973 and m.recall[0] == 0.835


def test_report_layout_names_classes_and_is_json_ready():
    import json

    names = ["T-shirt/top", "Trouser", "Bag"]
    report = build_report(np.array([0, 1, 2, 2]), np.array([0, 1, 1, 2]), names)
    json.dumps(report)
    text = format_report(report)
    assert text.splitlines()[0].startswith("for classes: T-shirt/top")
    assert "precision specificity F1_scores accuracy recall or sensitivity" in text
    assert "TP: [1, 1, 1]" in text and "confusion matrix" in text
    digits = format_report(build_report(np.array([0, 1]), np.array([0, 1]), ["0", "1"]))
    assert digits.startswith("for digits: 0")


def test_confusion_matrix_rejects_out_of_range_and_mismatched_inputs():
    with pytest.raises(ValueError, match="outside"):
        confusion_matrix(np.array([0, 3]), np.array([0, 1]), 3)
    with pytest.raises(ValueError, match="differ"):
        confusion_matrix(np.array([0, 1]), np.array([0]), 3)


def test_without_matplotlib_plots_are_skipped_with_a_one_line_hint(monkeypatch, tmp_path, capsys):
    import builtins

    from experiments import plots

    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    written = plots.save_run_plots(
        tmp_path,
        [{"epoch": 1, "loss": 1.0, "accuracy": 0.5}],
        np.zeros((4, 28, 28, 1), np.float32),
        np.arange(4) % 2,
        np.full((4, 2), 0.5),
        ["a", "b"],
        np.eye(2, dtype=int),
    )
    assert written == [] and list(tmp_path.iterdir()) == []
    out = capsys.readouterr().out.strip()
    assert out == plots.INSTALL_HINT and "pip install" in out
