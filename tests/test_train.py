"""The train step: micro-batching and padding change nothing but speed, the jitted step is the
textbook step, and evaluation handles a partial last batch."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from data.augment import Augment, make_augment
from nn import BatchNorm, Conv2D, Dense, Dropout, Flatten, MaxPool2D, ReLU, Sequential
from nn.batches import to_device
from nn.epoch_sums import EpochSums
from nn.evaluate import evaluate, make_eval_step
from nn.micro_batch import MICRO_BATCH, chunk_size, default_micro_batch
from nn.train import init_state, make_train_step, train_step

MODEL = Sequential([Conv2D(4, 3), ReLU(), MaxPool2D(2), Flatten(), Dense(10)])  # no dropout


def tiny_data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    return to_device(
        rng.random((n, 8, 8, 1), dtype=np.float32), rng.integers(0, 10, n).astype(np.int32)
    )


def one_step(micro_batch, index, weight, data, optimizer=None, augment=None):
    optimizer = optimizer or optax.sgd(1.0)
    state = init_state(MODEL, optimizer, (8, 8, 1), seed=0)
    step = make_train_step(MODEL, optimizer, micro_batch=micro_batch, augment=augment)
    new, sums = step(state, EpochSums.zeros(), data, jnp.asarray(index), jnp.asarray(weight))
    return jax.device_get(new.params), jax.device_get(sums)


@pytest.mark.parametrize("augmented", [False, True])
def test_micro_batched_step_equals_whole_batch_step(augmented):
    """Also with augmentation: the batch is augmented once, whatever the chunks."""
    data = tiny_data()
    index, weight = np.arange(64, dtype=np.int32), np.ones(64, np.float32)
    aug = make_augment(Augment(shift=2, flip=0.5, elastic=8)) if augmented else None
    whole, s1 = one_step(None, index, weight, data, augment=aug)
    chunked, s2 = one_step(16, index, weight, data, augment=aug)  # 4 chunks
    for a, b in zip(
        jax.tree_util.tree_leaves(whole), jax.tree_util.tree_leaves(chunked), strict=True
    ):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(s1.loss, s2.loss, rtol=1e-5)
    assert s1.correct == s2.correct and s1.count == s2.count == 64


@pytest.mark.parametrize("chunks", [4, 5])  # an odd count leaves a chunk after the pairs
def test_chunks_at_once_change_no_number(monkeypatch, chunks):
    """Two chunks per loop iteration (nn/micro_batch.py CHUNKS_AT_ONCE) is a speed setting: the
    same dropout draws and the same sums in the same order, so the very same bits."""
    import nn.train

    model = Sequential([
        Conv2D(4, 3), ReLU(), MaxPool2D(2), Flatten(), Dense(16), ReLU(), Dropout(0.5), Dense(10)
    ])  # fmt: skip
    optimizer, data = optax.sgd(0.1, momentum=0.9), tiny_data()
    index, weight = jnp.arange(16 * chunks, dtype=jnp.int32), jnp.ones(16 * chunks, jnp.float32)

    def two_steps(at_once):
        monkeypatch.setattr(nn.train, "CHUNKS_AT_ONCE", at_once)
        state, sums = init_state(model, optimizer, (8, 8, 1), seed=3), EpochSums.zeros()
        step = make_train_step(model, optimizer, micro_batch=16)
        for _ in range(2):
            state, sums = step(state, sums, data, index, weight)
        return jax.device_get((state.params, sums))

    one, two = two_steps(1), two_steps(2)
    for a, b in zip(jax.tree_util.tree_leaves(one), jax.tree_util.tree_leaves(two), strict=True):
        np.testing.assert_array_equal(a, b)


def test_zero_weight_padding_updates_like_the_real_examples_alone():
    data = tiny_data()
    real, _ = one_step(None, np.arange(20, dtype=np.int32), np.ones(20, np.float32), data)
    index = np.resize(np.arange(20, dtype=np.int32), 32)
    weight = (np.arange(32) < 20).astype(np.float32)
    for micro in (None, 8):
        padded, sums = one_step(micro, index, weight, data)
        assert sums.count == 20
        for a, b in zip(
            jax.tree_util.tree_leaves(real), jax.tree_util.tree_leaves(padded), strict=True
        ):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


BN_MODEL = Sequential(
    [Conv2D(4, 3, use_bias=False), BatchNorm(momentum=0.5), ReLU(), MaxPool2D(2), Flatten(),
     Dense(10)]
)  # fmt: skip


def test_batchnorm_model_sees_the_whole_batch_whatever_the_micro_batch():
    """A model with batch statistics is never split into chunks: micro_batch=16 gives the
    whole-batch step exactly, parameters and running statistics alike, and that step equals the
    textbook train_step on the same 64 rows."""
    data = tiny_data()
    index, weight = jnp.arange(64, dtype=jnp.int32), jnp.ones(64, jnp.float32)
    optimizer = optax.sgd(0.5)  # (optax's Adam trips the tests' strict dtype promotion)
    results = []
    for micro in (None, 16):
        state = init_state(BN_MODEL, optimizer, (8, 8, 1), seed=0)
        step = make_train_step(BN_MODEL, optimizer, micro_batch=micro)
        new, _ = step(state, EpochSums.zeros(), data, index, weight)
        results.append(jax.device_get((new.params, new.model_state)))
    for a, b in zip(jax.tree.leaves(results[0]), jax.tree.leaves(results[1]), strict=True):
        np.testing.assert_array_equal(a, b)
    # The textbook step on the same rows (BN_MODEL draws nothing at random, so keys don't matter)
    state = init_state(BN_MODEL, optimizer, (8, 8, 1), seed=0)
    plain, loss = train_step(BN_MODEL, optimizer, state, data.x[:64], data.y[:64])
    assert np.isfinite(float(loss))
    for a, b in zip(
        jax.tree.leaves(results[0]),
        jax.tree.leaves(jax.device_get((plain.params, plain.model_state))),
        strict=True,
    ):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_chunk_size_divides_the_batch():
    assert chunk_size(32, 32) == 32 and chunk_size(128, 32) == 32 and chunk_size(512, None) == 512
    assert chunk_size(500, 32) == 25 and chunk_size(94, 32) == 94  # 94 = 2 x 47: no good divisor


def test_auto_micro_batch_chunks_on_cpu_only():
    assert default_micro_batch("cpu") == MICRO_BATCH
    assert default_micro_batch("gpu") is None and default_micro_batch("tpu") is None
    data = tiny_data()
    index, weight = np.arange(64, dtype=np.int32), np.ones(64, np.float32)
    auto, _ = one_step("auto", index, weight, data)
    explicit, _ = one_step(default_micro_batch(jax.devices()[0].platform), index, weight, data)
    for a, b in zip(
        jax.tree_util.tree_leaves(auto), jax.tree_util.tree_leaves(explicit), strict=True
    ):
        np.testing.assert_array_equal(a, b)  # "auto" is exactly the platform's default


def test_evaluate_with_a_partial_last_batch_matches_a_direct_computation():
    data = tiny_data(n=70)
    params, model_state, _ = MODEL.init(jax.random.key(1), (8, 8, 1))
    result = evaluate(make_eval_step(MODEL), params, model_state, data, batch_size=32)  # 32+32+6
    logits, _, _ = MODEL.forward(params, model_state, data.x)
    log_probs = jax.nn.log_softmax(logits)
    np.testing.assert_allclose(
        result.loss, -float(jnp.mean(log_probs[jnp.arange(70), data.y])), rtol=1e-5
    )
    np.testing.assert_array_equal(result.predictions, np.asarray(jnp.argmax(logits, axis=1)))
    assert result.probs.shape == (70, 10)


@pytest.mark.parametrize("micro_batch", [8, 5, 1])
def test_evaluation_in_chunks_equals_the_whole_batch_at_once(micro_batch):
    model = Sequential([Conv2D(4, 3), BatchNorm(), ReLU(), Flatten(), Dense(10)])
    data = tiny_data(n=70)
    params, model_state, _ = model.init(jax.random.key(3), (8, 8, 1))
    model_state = jax.tree_util.tree_map(lambda v: v + 0.5, model_state)  # running statistics

    def flip(x):
        return x[:, :, ::-1, :]

    whole = evaluate(make_eval_step(model, (flip,), None), params, model_state, data, 30)
    chunked = evaluate(make_eval_step(model, (flip,), micro_batch), params, model_state, data, 30)
    np.testing.assert_allclose(chunked.probs, whole.probs, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(chunked.loss, whole.loss, rtol=1e-6)
    np.testing.assert_array_equal(chunked.predictions, whole.predictions)


def test_test_time_augmentation_averages_the_probabilities_of_the_views():
    data = tiny_data(n=40)
    params, model_state, _ = MODEL.init(jax.random.key(2), (8, 8, 1))

    def flip(x):
        return x[:, :, ::-1, :]

    def probs(x):
        return jax.nn.softmax(MODEL.forward(params, model_state, x)[0])

    plain = evaluate(make_eval_step(MODEL), params, model_state, data, batch_size=16)
    same = evaluate(make_eval_step(MODEL, (lambda x: x,)), params, model_state, data, 16)
    tta = evaluate(make_eval_step(MODEL, (flip,)), params, model_state, data, batch_size=16)
    mean = (probs(data.x) + probs(flip(data.x))) / 2  # (40, 10)
    np.testing.assert_allclose(same.probs, plain.probs, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(same.loss, plain.loss, rtol=1e-5)
    np.testing.assert_allclose(tta.probs, np.asarray(mean), rtol=1e-5, atol=1e-7)
    nll = -np.log(np.asarray(mean)[np.arange(40), np.asarray(data.y)])
    np.testing.assert_allclose(tta.loss, nll.mean(), rtol=1e-5)
    np.testing.assert_array_equal(tta.predictions, np.asarray(mean).argmax(axis=1))


def test_jitted_step_is_the_textbook_step_with_dropout_on_one_device():
    """Without micro-batching, devices or augmentation, make_train_step's step hands the layers
    the same key as train_step: the same dropout masks, the same update."""
    model = Sequential([Flatten(), Dense(32), ReLU(), Dropout(0.5), Dense(10)])
    data = tiny_data()
    optimizer = optax.sgd(0.5)
    index, weight = jnp.arange(32, dtype=jnp.int32), jnp.ones(32, jnp.float32)
    state = init_state(model, optimizer, (8, 8, 1), seed=3)
    jitted, sums = make_train_step(model, optimizer, micro_batch=None)(
        state, EpochSums.zeros(), data, index, weight
    )
    state = init_state(model, optimizer, (8, 8, 1), seed=3)
    plain, loss = train_step(model, optimizer, state, data.x[:32], data.y[:32])
    np.testing.assert_allclose(float(sums.loss) / 32, float(loss), rtol=1e-6)
    for a, b in zip(jax.tree.leaves(jitted.params), jax.tree.leaves(plain.params), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
