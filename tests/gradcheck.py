"""Oracles shared by the gradient tests: jax.vjp of the same forward, and central finite
differences in float64 along a random direction (cs231n / JAX check_vjp style)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def random_like(rng: np.random.Generator, tree):
    """A random tree (never all ones) with the structure, shapes and dtypes of ``tree``."""
    return jax.tree_util.tree_map(
        lambda a: jnp.asarray(rng.standard_normal(a.shape), a.dtype), tree
    )


def to64(tree):
    return jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float64), tree)


def assert_trees_close(actual, expected, *, rtol: float, atol: float, what: str) -> None:
    assert jax.tree_util.tree_structure(actual) == jax.tree_util.tree_structure(expected), what
    for a, e in zip(
        jax.tree_util.tree_leaves(actual), jax.tree_util.tree_leaves(expected), strict=True
    ):
        assert a.shape == e.shape, f"{what}: shape {a.shape} != {e.shape}"
        err = float(jnp.max(jnp.abs(a - e))) if a.size else 0.0
        np.testing.assert_allclose(
            a, e, rtol=rtol, atol=atol, err_msg=f"{what} (max |diff| {err:.3g})"
        )


def check_layer_against_vjp(layer, params, x, dy, *, state=None, key=None, train=False, tol=1e-5):
    """backward(forward) equals jax.vjp of forward for the upstream gradient dy. Both run in
    one jitted program (one compile per drawn shape; the product code runs jitted too)."""

    @jax.jit
    def both(params, state, x, dy, key):
        y, cache, _ = layer.forward(params, state, x, key=key, train=train)
        grads, dx = layer.backward(params, cache, dy)

        def forward(p, xx):
            return layer.forward(p, state, xx, key=key, train=train)[0]

        y_ref, vjp = jax.vjp(forward, params, x)
        return (y, grads, dx), (y_ref, *vjp(dy))

    state = {} if state is None else state
    (y, grads, dx), (y_ref, grads_ref, dx_ref) = both(params, state, x, dy, key)
    assert_trees_close(y, y_ref, rtol=tol, atol=tol, what="forward")
    assert_trees_close(grads, grads_ref, rtol=tol, atol=tol, what="param gradients")
    assert_trees_close(dx, dx_ref, rtol=tol, atol=tol, what="input gradient")


def check_layer_finite_differences(
    layer, params, x, dy, rng, *, state=None, key=None, train=False, eps=1e-6, tol=1e-6
):
    """<backward, v> equals (L(theta + eps v) - L(theta - eps v)) / 2 eps in float64, where
    L = sum(dy * forward) projects the output on the upstream gradient."""
    params, x, dy, state = to64(params), to64(x), to64(dy), to64({} if state is None else state)

    @jax.jit
    def fwd_bwd(p, xx):
        y, cache, _ = layer.forward(p, state, xx, key=key, train=train)
        return jnp.sum(dy * y), layer.backward(p, cache, dy)

    _, (grads, dx) = fwd_bwd(params, x)
    vp, vx = random_like(rng, params), random_like(rng, x)

    def loss(p, xx):
        return float(fwd_bwd(p, xx)[0])

    shift = lambda t, v, s: jax.tree_util.tree_map(lambda a, b: a + s * eps * b, t, v)  # noqa: E731
    numeric = (
        loss(shift(params, vp, 1), shift(x, vx, 1)) - loss(shift(params, vp, -1), shift(x, vx, -1))
    ) / (2 * eps)
    analytic = sum(
        float(jnp.vdot(g, v))
        for g, v in zip(
            jax.tree_util.tree_leaves((grads, dx)), jax.tree_util.tree_leaves((vp, vx)), strict=True
        )
    )
    scale = max(1.0, abs(numeric), abs(analytic))
    assert abs(numeric - analytic) <= tol * scale, f"numeric {numeric} vs analytic {analytic}"
