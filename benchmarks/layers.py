"""Forward + backward time per layer at the default CNN's shapes:

ours      the hand-written backward after the hand-written forward (what training runs)
autodiff  jax.vjp of our forward (the same forward, XLA-derived backward)
lax       jax.vjp of the lax primitive (lax.conv_general_dilated, lax.reduce_window, a dot)

python -m benchmarks.layers [--batch-sizes 32 128 512] [--json PATH]
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from benchmarks.timing import block, machine, median_seconds, write_json
from nn import Conv2D, Dense, MaxPool2D
from nn.layer import pair

# (name, layer, input shape without batch): the default experiments.cnn model's heavy layers
CASES = [
    ("conv1 3x3 1->32 same", Conv2D(32, 3, padding="same"), (28, 28, 1)),
    ("pool1 2x2", MaxPool2D(2), (28, 28, 32)),
    ("conv2 3x3 32->64 same", Conv2D(64, 3, padding="same"), (14, 14, 32)),
    ("pool2 2x2", MaxPool2D(2), (14, 14, 64)),
    ("dense 3136->128", Dense(128), (3136,)),
]


def lax_forward(layer: object):  # noqa: ANN201  (returns a function of (params, x))
    if isinstance(layer, Conv2D):
        return lambda p, x: lax.conv_general_dilated(
            x, p["w"], pair(layer.strides), layer.padding.upper(),
            dimension_numbers=("NHWC", "HWIO", "NHWC")) + p["b"]  # fmt: skip
    if isinstance(layer, MaxPool2D):
        (ph, pw), (sh, sw) = pair(layer.pool_size), layer.stride_pair
        return lambda p, x: lax.reduce_window(
            x, -jnp.inf, lax.max, (1, ph, pw, 1), (1, sh, sw, 1), "VALID"
        )
    return lambda p, x: x @ p["w"] + p["b"]


def variants(layer: object) -> dict:
    def ours(p, x, dy):  # noqa: ANN001, ANN202
        _, cache, _ = layer.forward(p, {}, x)
        return layer.backward(p, cache, dy)

    def autodiff(p, x, dy):  # noqa: ANN001, ANN202
        _, vjp = jax.vjp(lambda q, z: layer.forward(q, {}, z)[0], p, x)
        return vjp(dy)

    def lax_vjp(p, x, dy):  # noqa: ANN001, ANN202
        _, vjp = jax.vjp(lax_forward(layer), p, x)
        return vjp(dy)

    return {"ours": jax.jit(ours), "autodiff": jax.jit(autodiff), "lax": jax.jit(lax_vjp)}


def step_variants(batch: int) -> dict:
    """Jitted Adam training steps of the Keras convnet whose gradients come from our backward,
    from jax.grad of our forward, and from jax.grad of a lax forward (whole batches, no
    micro-batching, so that only the gradient computation differs)."""
    import optax

    from benchmarks.peers import keras_convnet
    from nn import softmax_cross_entropy
    from nn.train import forward_backward

    model = keras_convnet()
    opt = optax.adam(1e-3)
    stateless = tuple({} for _ in model.layers)  # the Keras convnet has no BatchNorm

    def ours(p, x, y, key):  # noqa: ANN001, ANN202
        return forward_backward(model, p, stateless, x, y, key=key)[0]

    def autodiff(p, x, y, key):  # noqa: ANN001, ANN202
        return jax.grad(lambda q: softmax_cross_entropy(
            model.forward(q, stateless, x, key=key, train=True)[0], y)[0])(p)  # fmt: skip

    def lax_grad(p, x, y, key):  # noqa: ANN001, ANN202
        def loss(q):  # noqa: ANN001, ANN202
            h = x
            for i in (0, 3):
                h = lax_forward(model.layers[i])(q[i], h)
                h = lax_forward(model.layers[i + 2])(q[i + 2], jnp.maximum(h, 0))
            h = h.reshape(h.shape[0], -1)
            h = h * jax.random.bernoulli(key, 0.5, h.shape) / 0.5
            return softmax_cross_entropy(h @ q[8]["w"] + q[8]["b"], y)[0]

        return jax.grad(loss)(p)

    def make(grad_fn):  # noqa: ANN001, ANN202
        @jax.jit
        def step(p, s, x, y, key):  # noqa: ANN001, ANN202
            u, s = opt.update(grad_fn(p, x, y, key), s, p)
            return optax.apply_updates(p, u), s

        return step

    params, _, _ = model.init(jax.random.key(0), (28, 28, 1))
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.random((batch, 28, 28, 1)), jnp.float32)
    y = jnp.asarray(rng.integers(0, 10, batch), jnp.int32)
    state = (params, opt.init(params))
    timed = {}
    for name, g in (("ours", ours), ("autodiff", autodiff), ("lax", lax_grad)):
        step = make(g)
        timed[name] = lambda step=step: block(step(*state, x, y, jax.random.key(1)))
    return timed


def main(argv: Sequence[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.layers",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 128, 512])
    ap.add_argument("--windows", type=int, default=5, help="timed windows per measurement")
    ap.add_argument("--min-window", type=float, default=0.2, help="seconds per timed window")
    ap.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = ap.parse_args(argv)

    rng = np.random.default_rng(0)
    rows = []
    print(
        f"{'layer':<24}{'batch':>6}{'ours ms':>10}{'autodiff ms':>13}{'lax ms':>9}"
        f"{'ours/autodiff':>15}{'ours/lax':>10}"
    )
    for name, layer, shape in CASES:
        params, _, out_shape = layer.init(jax.random.key(0), shape)
        for bs in args.batch_sizes:
            x = jnp.asarray(rng.standard_normal((bs, *shape)), jnp.float32)
            dy = jnp.asarray(rng.standard_normal((bs, *out_shape)), jnp.float32)
            t = {
                k: median_seconds(
                    lambda f=f, p=params, x=x, dy=dy: block(f(p, x, dy)),
                    windows=args.windows,
                    min_window=args.min_window,
                )
                for k, f in variants(layer).items()
            }
            rows.append({"layer": name, "batch": bs, **{f"{k}_ms": v * 1e3 for k, v in t.items()}})
            print(
                f"{name:<24}{bs:>6}{t['ours'] * 1e3:>10.3f}{t['autodiff'] * 1e3:>13.3f}"
                f"{t['lax'] * 1e3:>9.3f}{t['ours'] / t['autodiff']:>15.2f}"
                f"{t['ours'] / t['lax']:>10.2f}"
            )
    print("\nwhole training step, Keras mnist_convnet (images per second; higher is better)")
    print(f"{'batch':>6}{'ours':>10}{'autodiff':>10}{'lax':>10}{'ours/autodiff':>15}")
    steps = []
    for bs in args.batch_sizes:
        t = {
            k: median_seconds(f, windows=args.windows, min_window=args.min_window)
            for k, f in step_variants(bs).items()
        }
        rate = {k: bs / v for k, v in t.items()}
        steps.append({"batch": bs, **{f"{k}_img_per_s": v for k, v in rate.items()}})
        print(
            f"{bs:>6}{rate['ours']:>10,.0f}{rate['autodiff']:>10,.0f}{rate['lax']:>10,.0f}"
            f"{rate['ours'] / rate['autodiff']:>15.2f}"
        )
    result = {"benchmark": "layers", "machine": machine(), "rows": rows, "train_step": steps}
    write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
