"""nn/saliency.py: the saliency map from the hand-written backward equals jax.vjp of the forward
pass (the oracle) on real MNIST digits for every recipe's network, and for a trained checkpoint
through the Predictor (pixels in [0, 1], gradient x input, the mean over its test-time views);
the map of a prediction averaged over views is the vjp of the log of that mean, for every view
set, on the default and the BatchNorm networks; a term shared by every logit changes
no log-probability map (though it changes the logit maps); and a confident class's upstream
gradient keeps its digits in float32.

A digit's blank background makes ties: equal activations in a max-pooling window, where the
network is not differentiable and any split of the gradient among the tied inputs is a valid
subgradient (nn/pool.py gives it all to the first; jax.vjp of jnp.maximum splits it evenly).
So each digit gets noise far below a grey level, which leaves it the same digit and the
gradient defined."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from data.views import TEST_VIEWS, carry_back
from experiments.registry import EXPERIMENTS
from nn import Conv2D, Dense, Flatten, MaxPool2D, ReLU, Sequential
from nn.saliency import class_saliency, score_upstream, views_saliency
from tests.gradcheck import to64

CLASSES = np.array([-1, 3, -1, 8, 0, -1], np.int32)  # -1: the predicted class


@pytest.fixture(scope="module")
def digits(shared_data_dir) -> np.ndarray:
    """Six real MNIST test digits (6, 28, 28, 1) in [0, 1], with noise of at most a tenth of a
    grey level (1/255) that breaks the background's ties."""
    from data import load_dataset

    x = load_dataset("mnist", shared_data_dir, download=False).x_test[:6]
    noise = np.random.default_rng(0).uniform(0, 0.1 / 255, x.shape)
    return np.abs(x - noise).astype(np.float32)


def oracle(model, params, state, x, classes):
    """(logits, d sum_n log p[n, classes[n]] / dx) by jax.vjp of the forward pass."""

    def log_probs(xx):
        return jax.nn.log_softmax(model.forward(params, state, xx, train=False)[0], axis=-1)

    out, vjp = jax.vjp(log_probs, x)
    chosen = jnp.where(classes < 0, jnp.argmax(out, axis=-1).astype(classes.dtype), classes)
    (dx,) = vjp(jax.nn.one_hot(chosen, out.shape[-1], dtype=out.dtype))
    return out, dx


def with_running_statistics(state, rng: np.random.Generator):
    """BatchNorm's running mean and variance drawn away from their initial 0 and 1, so that
    evaluation mode is not the identity."""

    def draw(layer_state: dict) -> dict:
        if not layer_state:
            return layer_state
        c = layer_state["mean"].shape
        return {
            "mean": jnp.asarray(rng.normal(0, 0.5, c), jnp.float32),
            "var": jnp.asarray(rng.uniform(0.5, 2.0, c), jnp.float32),
        }

    return tuple(draw(s) for s in state)


@pytest.mark.parametrize("recipe", sorted(EXPERIMENTS))
def test_saliency_matches_vjp_of_the_forward_on_real_digits_for_every_recipe(recipe, digits):
    model = EXPERIMENTS[recipe].build_model(10)
    params, state, _ = model.init(jax.random.key(1), (28, 28, 1))
    state = with_running_statistics(state, np.random.default_rng(2))
    params, state = to64((params, state))
    x = jnp.asarray((digits - 0.1307) / 0.3081, jnp.float64)  # standardised, as in training

    @jax.jit
    def both(params, state, x, classes):
        return class_saliency(model, params, state, x, classes), oracle(
            model, params, state, x, classes
        )

    (logits, dx), (log_probs, dx_ref) = both(params, state, x, jnp.asarray(CLASSES))
    np.testing.assert_allclose(jax.nn.log_softmax(logits), log_probs, rtol=1e-10, atol=1e-10)
    scale = float(jnp.max(jnp.abs(dx_ref)))
    assert scale > 0  # a map, not zeros
    np.testing.assert_allclose(dx, dx_ref, rtol=1e-7, atol=1e-9 * scale)


@pytest.mark.parametrize("views", sorted(TEST_VIEWS))
@pytest.mark.parametrize("recipe", ["cnn", "best"])
def test_the_map_of_a_mean_over_views_is_the_vjp_of_the_log_of_that_mean(recipe, views, digits):
    """S(x) = log mean_v softmax(model(A_v x))[c]: our views' maps carried back by each view's
    transpose against jax.vjp through the views themselves."""
    model = EXPERIMENTS[recipe].build_model(10)
    params, state, _ = model.init(jax.random.key(1), (28, 28, 1))
    state = with_running_statistics(state, np.random.default_rng(2))
    params, state = to64((params, state))
    x = jnp.asarray(digits, jnp.float64)
    chosen_views = TEST_VIEWS[views]

    def log_mean(xx):
        each = [
            jax.nn.log_softmax(model.forward(params, state, v, train=False)[0], axis=-1)
            for v in (xx, *(view(xx) for view in chosen_views))
        ]
        return jax.scipy.special.logsumexp(jnp.stack(each), axis=0) - jnp.log(len(each))

    @jax.jit
    def both(x, classes):
        xs = [x, *(view(x) for view in chosen_views)]
        out, chosen, grads = views_saliency(model, params, state, xs, classes)
        dx = carry_back(chosen_views, grads)
        ref, vjp = jax.vjp(log_mean, x)
        (dx_ref,) = vjp(jax.nn.one_hot(chosen, 10, dtype=ref.dtype))
        return out, chosen, dx, ref, dx_ref

    out, chosen, dx, ref, dx_ref = both(x, jnp.asarray(CLASSES))
    np.testing.assert_allclose(out, ref, rtol=1e-10, atol=1e-10)
    predicted = np.asarray(ref).argmax(axis=1)
    np.testing.assert_array_equal(chosen, np.where(CLASSES < 0, predicted, CLASSES))
    scale = float(jnp.max(jnp.abs(dx_ref)))
    assert scale > 0  # a map, not zeros
    np.testing.assert_allclose(dx, dx_ref, rtol=1e-7, atol=1e-9 * scale)


def test_a_checkpoints_maps_are_the_vjp_of_its_log_probability_per_pixel(mnist_checkpoint, digits):
    """The Predictor's maps (float32, as the page and --explain get them) are per pixel in
    [0, 1]: the chain rule through the standardisation and the test-time views the run averaged
    over (the default CNN's one-pixel shifts on MNIST) is part of them."""
    from experiments.predictor import Predictor

    predictor = Predictor(mnist_checkpoint)
    assert predictor.views == TEST_VIEWS["shifts"]  # the recipe's, read from the checkpoint
    pixels = digits[..., 0]  # (6, 28, 28)
    seen = predictor.explain(pixels, CLASSES)
    params, state = predictor.weights
    mean, std = predictor.mean, predictor.std

    def log_probs(p):
        x = (p[..., None] - mean) / std  # the views act on the model's input
        each = [
            jax.nn.log_softmax(predictor.model.forward(params, state, v)[0], -1)
            for v in (x, *(view(x) for view in predictor.views))
        ]
        return jax.scipy.special.logsumexp(jnp.stack(each), axis=0) - jnp.log(len(each))

    out, vjp = jax.vjp(log_probs, jnp.asarray(pixels, jnp.float32))
    predicted = np.asarray(out).argmax(axis=1)
    np.testing.assert_array_equal(seen.classes, np.where(CLASSES < 0, predicted, CLASSES))
    np.testing.assert_allclose(seen.probs, np.exp(out), atol=1e-6)
    np.testing.assert_allclose(predictor(pixels), np.exp(out), atol=1e-6)
    (expected,) = vjp(jax.nn.one_hot(seen.classes, 10, dtype=jnp.float32))
    for got, want in [(seen.gradient, expected), (seen.strokes, expected * pixels)]:
        scale = float(jnp.max(jnp.abs(want)))
        np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4 * scale)


TINY = Sequential([Conv2D(4, 3), ReLU(), MaxPool2D(2), Flatten(), Dense(16), ReLU(), Dense(5)])


@jax.jit
def tiny_maps(params, x, classes):
    """The log-probability and logit maps of TINY."""
    return tuple(
        class_saliency(TINY, params, ({},) * 7, x, classes, score=score)[1]
        for score in ("log_prob", "logit")
    )


@given(st.integers(0, 2**32 - 1), st.floats(0.1, 10.0))
def test_a_term_added_to_every_logit_changes_no_log_probability_map(seed, size):
    """Adding the same vector u to every column of the last kernel adds u . h(x) to every
    logit: no probability changes, so no log-probability map may; the logit maps do change."""
    rng = np.random.default_rng(seed)
    params, _, _ = TINY.init(jax.random.key(seed % 2**31), (10, 10, 1))
    params = to64(params)
    x = jnp.asarray(rng.uniform(0, 1, (3, 10, 10, 1)))
    classes = jnp.asarray(rng.integers(-1, 5, 3), jnp.int32)
    u = jnp.asarray(size * rng.standard_normal(16))
    last = params[-1] | {"w": params[-1]["w"] + u[:, None]}  # (16, 5): u added to every column
    shifted = (*params[:-1], last)

    log_prob, logit = tiny_maps(params, x, classes)
    log_prob_shifted, logit_shifted = tiny_maps(shifted, x, classes)
    change = float(jnp.max(jnp.abs(logit_shifted - logit)))
    assume(change > 1e-6 * float(jnp.max(jnp.abs(logit))))  # the term depends on x here
    scale = float(jnp.max(jnp.abs(log_prob)))
    np.testing.assert_allclose(log_prob_shifted, log_prob, rtol=1e-9, atol=1e-10 * scale)


def test_a_confident_class_keeps_its_upstream_gradient_in_float32():
    """With p[c] = 1 - 4e-9, 1 - p[c] is 0 in float32; the sum of the rivals is not."""
    logits = jnp.asarray([[0.0, 20.0, 1.0, -3.0]], jnp.float32)
    up = score_upstream(logits, jnp.asarray([1]))
    p = jax.nn.softmax(jnp.asarray(logits, jnp.float64))[0]
    expected = -p.at[1].set(-(p[0] + p[2] + p[3]))  # 1 - p[c] at c, -p[j] elsewhere
    assert float(1.0 - jax.nn.softmax(logits)[0, 1]) == 0.0  # the naive form loses it
    np.testing.assert_allclose(up[0], expected, rtol=1e-5)
    assert abs(float(jnp.sum(up, dtype=jnp.float64))) < 1e-12  # sums to 0 over the classes
