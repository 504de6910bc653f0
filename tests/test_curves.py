"""An epoch's books (experiments/epoch.py) and the training curves: a point every
ceil(steps / points) steps and at the last step, each the loss and accuracy of the steps since
the previous point, the device read only at those points; an epoch stopped anywhere and
continued from its checkpointed sums and curve gives the same points, bit for bit; a NaN loss
stops the epoch naming epoch and step; the progress line has the Keras layout; the curves figure
draws the points against fractional epochs, with validation and test markers where they were
measured."""

import io
import itertools
import json

import jax
import numpy as np
import optax
import pytest

from experiments import plots
from experiments.epoch import Epoch, TrainingDiverged, resumed_from_json, to_json
from experiments.progress import ProgressBar, bar
from nn import Conv2D, Dense, Flatten, MaxPool2D, ReLU, Sequential
from nn.batches import to_device
from nn.train import init_state, make_train_step

MODEL = Sequential([Conv2D(4, 3), ReLU(), MaxPool2D(2), Flatten(), Dense(10)])  # no dropout
BATCH = 8
N = 200  # 25 steps of 8 an epoch
EPOCH = 1  # the second epoch: fractional epochs run from 1 to 2


def tiny_data(n):
    """Random 8x8 images labelled 1 when brighter than the mean, 0 otherwise: something to
    learn."""
    rng = np.random.default_rng(0)
    x = rng.random((n, 8, 8, 1), dtype=np.float32)
    y = (x.mean(axis=(1, 2, 3)) > 0.5).astype(np.int32)
    return to_device(x, y)


def fresh():
    optimizer = optax.sgd(0.1)
    return make_train_step(MODEL, optimizer), init_state(MODEL, optimizer, (8, 8, 1), seed=0)


def train_epoch(step, state, data, stop=lambda: False, **kwargs):
    """The batch loop of experiments/fit.py around ``step``, on ``data``."""
    books = Epoch(data.y.shape[0], **kwargs)
    sums = books.sums
    for rows in books.batches():
        state, sums = step(state, sums, data, *rows)
        books.after_step(sums)
        if not books.last and stop():
            break
    return state, books.end(sums)


def whole_epoch(curve_points, **kwargs):
    step, state = fresh()
    kwargs = dict(batch_size=BATCH, seed=3, epoch=EPOCH, curve_points=curve_points, **kwargs)
    return train_epoch(step, state, tiny_data(N), **kwargs)


def test_points_every_ceil_steps_over_points_and_at_the_last_step():
    _, result = whole_epoch(10)  # ceil(25 / 10) = 3
    steps = [p.step for p in result.curve.points]
    assert steps == [3, 6, 9, 12, 15, 18, 21, 24, 25]
    assert [p.epoch for p in result.curve.points] == [EPOCH + s / 25 for s in steps]
    _, result = whole_epoch(5)  # every 5 steps: the last point falls on a multiple, once
    assert [p.step for p in result.curve.points] == [5, 10, 15, 20, 25]
    _, result = whole_epoch(40)  # more points than steps: one a step
    assert [p.step for p in result.curve.points] == list(range(1, 26))


def test_a_point_is_the_mean_of_the_steps_since_the_previous_point():
    _, fine = whole_epoch(25)  # one point a step: each step's own loss and accuracy
    _, coarse = whole_epoch(10)
    per_step = fine.curve.points
    start = 0
    for p in coarse.curve.points:
        steps = per_step[start : p.step]  # every batch holds BATCH real examples
        np.testing.assert_allclose(p.loss, np.mean([s.loss for s in steps]), rtol=1e-5)
        np.testing.assert_allclose(p.accuracy, np.mean([s.accuracy for s in steps]), rtol=1e-6)
        start = p.step
    # the epoch's mean (the history row's loss) is the points' mean weighted by their steps
    widths = np.diff([0] + [p.step for p in coarse.curve.points])
    np.testing.assert_allclose(
        coarse.loss, np.average([p.loss for p in coarse.curve.points], weights=widths), rtol=1e-5
    )
    assert coarse.curve.points[0].loss > coarse.curve.points[-1].loss  # it learns something


def test_the_device_is_read_only_at_points_and_checks(monkeypatch):
    reads = []
    device_get = jax.device_get
    monkeypatch.setattr(jax, "device_get", lambda x: reads.append(1) or device_get(x))
    whole_epoch(10, check_every=10**6)
    # 8 points inside the loop, the final read (which gives the last point), and the zero sums
    # the first point is measured from: not one read a step (25)
    assert len(reads) == 10


@pytest.mark.parametrize("stop_after", [1, 6, 7, 24])  # at a point (6), between points (7)
def test_an_epoch_stopped_and_continued_gives_the_same_points_bit_for_bit(stop_after):
    state_ref, ref = whole_epoch(10)

    step, state = fresh()
    data = tiny_data(N)
    calls = itertools.count(1)
    kwargs = dict(batch_size=BATCH, seed=3, epoch=EPOCH, curve_points=10)
    state, first = train_epoch(step, state, data, stop=lambda: next(calls) >= stop_after, **kwargs)
    assert not first.finished and first.steps == stop_after
    assert all(p.step <= stop_after for p in first.curve.points)
    # what the checkpoint's header keeps, through JSON as save_mid_epoch writes it
    saved = json.loads(json.dumps(to_json(first, seconds=1.5)))
    resumed = resumed_from_json(saved)
    assert resumed.step == first.steps and resumed.seconds == 1.5
    state, rest = train_epoch(step, state, data, resumed=resumed, **kwargs)
    assert rest.finished
    assert rest.curve.points == ref.curve.points  # exact float equality, every field
    assert (rest.loss, rest.accuracy) == (ref.loss, ref.accuracy)
    for a, b in zip(
        jax.tree_util.tree_leaves(state.params),
        jax.tree_util.tree_leaves(state_ref.params),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)


def test_a_nan_loss_stops_the_epoch_naming_epoch_and_step():
    step, state = fresh()
    data = tiny_data(N)
    data = data._replace(x=data.x.at[40].set(np.nan))  # the example at row 40 poisons its batch
    with pytest.raises(TrainingDiverged, match=r"epoch 3, step \d+"):
        train_epoch(step, state, data, batch_size=16, seed=0, epoch=2, check_every=2)


def test_progress_line_has_the_keras_layout():
    assert bar(1875, 1875) == "=" * 30
    assert bar(0, 10).startswith(">") and len(bar(5, 10)) == 30
    out = io.StringIO()
    ProgressBar(out, live=False).finish(1875, 33.2, {"loss": 0.47231, "accuracy": 0.83281})
    assert out.getvalue() == (
        "1875/1875 [==============================] - 33s 18ms/step"
        " - loss: 0.4723 - accuracy: 0.8328\n"
    )


def test_the_curves_figure_draws_points_validation_and_test_where_measured(monkeypatch, tmp_path):
    _, first = whole_epoch(10)
    points = [p._asdict() for p in first.curve.points]
    history = [
        {"epoch": 1, "loss": 1.0, "accuracy": 0.5, "val_loss": 0.9, "val_accuracy": 0.6},
        {
            "epoch": 2,
            "loss": first.loss,
            "accuracy": first.accuracy,
            "seconds": 1.0,
            "val_loss": 0.4,
            "val_accuracy": 0.9,
            "points": points,
        },
    ]  # fmt: skip  (the first row is from an earlier version: no points)
    figures = []
    save = plots.save
    monkeypatch.setattr(
        plots, "save", lambda plt, fig, path: figures.append(fig) or save(plt, fig, path)
    )
    plt = plots.pyplot()
    if plt is None:
        pytest.skip("matplotlib is not installed")
    path = plots.curves(plt, tmp_path / "curves.png", history, "(test)", test=(0.3, 0.95))
    assert path.read_bytes().startswith(b"\x89PNG") and not list(tmp_path.glob(".*.part"))
    (fig,) = figures
    loss_ax, acc_ax = fig.axes
    for ax, key in ((loss_ax, "loss"), (acc_ax, "accuracy")):
        training, validation, test = ax.get_lines()
        x = [1.0] + [p["epoch"] for p in points]  # the row without points: its epoch's end
        np.testing.assert_array_equal(training.get_xdata(), x)
        np.testing.assert_array_equal(
            training.get_ydata(), [history[0][key]] + [p[key] for p in points]
        )
        np.testing.assert_array_equal(validation.get_xdata(), [1, 2])
        np.testing.assert_array_equal(validation.get_ydata(), [h["val_" + key] for h in history])
        np.testing.assert_array_equal(test.get_xdata(), [2.0])
        np.testing.assert_array_equal(test.get_ydata(), [0.3 if key == "loss" else 0.95])
        assert training.get_linestyle() == "-" and validation.get_linestyle() == "None"
