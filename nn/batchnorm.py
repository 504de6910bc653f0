"""Batch normalisation (Ioffe & Szegedy, 2015), with Keras's semantics.

Shapes: N batch, C channels; x is (N, C) or (N, H, W, C) (NHWC). Statistics are taken over every
axis but the channel axis, M = N (or N*H*W) values per channel.

Training (batch statistics), per channel:
    mu    = (1/M) sum x                                  (C,)
    var   = (1/M) sum (x - mu)^2                         (C,)  biased, as Keras and PyTorch
    rstd  = 1 / sqrt(var + eps)                          (C,)
    xhat  = (x - mu) * rstd                              like x
    y     = gamma * xhat + beta                          like x
and the running averages move towards this batch's statistics:
    mean <- momentum * mean + (1 - momentum) * mu
    var  <- momentum * var  + (1 - momentum) * var_batch          (the biased variance)
Evaluation uses the running averages instead of mu and var: y = gamma * (x - mean) /
sqrt(var + eps) + beta, an affine map of x.

Which framework. This is ``keras.layers.BatchNormalization``: momentum 0.99, epsilon 1e-3, the
biased batch variance in the running average, gamma initialised to 1 and beta to 0, running
mean 0 and variance 1. (PyTorch's BatchNorm2d differs: momentum 0.1 weighs the *new* value,
epsilon 1e-5, and its running variance is the unbiased M/(M-1) estimate.)

Which batch. The statistics are those of the whole batch of a training step, whatever the
hardware: the train step does not split a model with BatchNorm into micro-batches (nn/train.py),
and with several devices each device reduces its block and the sums are added over the mesh
axis ``axis_name`` (``lax.psum``), as Keras's ``synchronized=True`` and PyTorch's SyncBatchNorm do.
So the same seed gives the same model on one device or four. (Normalising each chunk with its own
statistics, "ghost batch norm", is a different model: its result would depend on the chunk size.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import jax.numpy as jnp
from jax import lax

from nn.layer import Array, Key, Params, Shape, State


class BatchStatsCache(NamedTuple):
    """Training mode: y came from this batch's own statistics."""

    xhat: Array  # like x, the normalised input (x - mu) * rstd
    rstd: Array  # (C,) 1 / sqrt(var + eps) of the batch


class RunningStatsCache(NamedTuple):
    """Evaluation mode: y came from the running statistics (an affine map of x)."""

    xhat: Array  # like x, (x - mean) * rstd with the running mean
    rstd: Array  # (C,) 1 / sqrt(running var + eps)


@dataclass(frozen=True)
class BatchNorm:
    momentum: float = 0.99  # weight of the old running average in each update (Keras)
    epsilon: float = 1e-3  # added to the variance before the square root (Keras)
    axis_name: str | None = None  # mesh axis to sum the statistics over (set by the train step)

    def __post_init__(self) -> None:
        if not 0.0 <= self.momentum < 1.0:
            raise ValueError(f"BatchNorm momentum must be in [0, 1), got {self.momentum!r}")
        if not self.epsilon > 0.0:
            raise ValueError(f"BatchNorm epsilon must be positive, got {self.epsilon!r}")

    def init(self, key: Array, in_shape: Shape) -> tuple[Params, State, Shape]:
        if len(in_shape) not in (1, 3):
            raise ValueError(f"BatchNorm expects (D,) or (H, W, C) inputs, got {in_shape}")
        c = in_shape[-1]
        params = {"gamma": jnp.ones((c,), jnp.float32), "beta": jnp.zeros((c,), jnp.float32)}
        state = {"mean": jnp.zeros((c,), jnp.float32), "var": jnp.ones((c,), jnp.float32)}
        return params, state, in_shape

    @staticmethod
    def per_channel(v: Array, like: Array) -> Array:
        """A (C,) vector shaped to broadcast against ``like``: (1, C) or (1, 1, 1, C)."""
        return v.reshape((1,) * (like.ndim - 1) + (-1,))

    def batch_mean(self, v: Array) -> Array:
        """Mean over every axis but the channel axis, over all devices when data-parallel: (C,)."""
        axes = tuple(range(v.ndim - 1))
        total, count = jnp.sum(v, axis=axes), jnp.asarray(v.size // v.shape[-1], v.dtype)
        if self.axis_name is not None:
            total, count = lax.psum((total, count), self.axis_name)
        return total / count

    def forward(
        self, params: Params, state: State, x: Array, *, key: Key = None, train: bool = False
    ) -> tuple[Array, BatchStatsCache | RunningStatsCache, State]:
        bc = lambda v: self.per_channel(v, x)  # noqa: E731  (C,) -> broadcastable against x
        gamma, beta = params["gamma"], params["beta"]  # (C,), (C,)
        if not train:
            rstd = lax.rsqrt(state["var"] + self.epsilon)  # (C,)
            xhat = (x - bc(state["mean"])) * bc(rstd)
            return bc(gamma) * xhat + bc(beta), RunningStatsCache(xhat=xhat, rstd=rstd), state
        mu = self.batch_mean(x)  # (C,)
        var = self.batch_mean(jnp.square(x - bc(mu)))  # (C,) two passes: no cancellation
        rstd = lax.rsqrt(var + self.epsilon)
        xhat = (x - bc(mu)) * bc(rstd)
        m = self.momentum
        new_state = {
            "mean": m * state["mean"] + (1.0 - m) * mu,
            "var": m * state["var"] + (1.0 - m) * var,
        }
        return bc(gamma) * xhat + bc(beta), BatchStatsCache(xhat=xhat, rstd=rstd), new_state

    def backward(
        self, params: Params, cache: BatchStatsCache | RunningStatsCache, dy: Array
    ) -> tuple[Params, Array]:
        """Backward pass. dy = dL/dy, like x. Sums and means run over the M values per channel.

        y = gamma * xhat + beta, so
            dbeta  = sum dy                                                   (C,)
            dgamma = sum dy * xhat                                            (C,)
            dxhat  = dy * gamma                                               like x
        Evaluation: xhat = (x - mean) * rstd with constants mean and rstd, so dx = dxhat * rstd.

        Training: xhat = (x - mu) * rstd where mu and var are functions of every x, so dx has
        three paths, through xhat directly, through var, and through mu:
            term 1 (direct):  dxhat * rstd
            term 2 (var):     dvar * 2 (x - mu) / M,  dvar = sum(dxhat * (x - mu)) * -rstd^3 / 2
            term 3 (mu):      dmu / M,                dmu  = -sum(dxhat) * rstd
                              (mu's path through var adds dvar * -2 sum(x - mu) / M = 0)
        With x - mu = xhat / rstd, term 2 is -rstd * xhat * mean(dxhat * xhat), term 3 is
        -rstd * mean(dxhat), and the three add up to the compact form the code uses:
            dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))     like x
        Per channel dx therefore sums to 0 (a shift of x changes no output) and, as epsilon ->
        0, is orthogonal to xhat (nor does a scaling); with epsilon > 0 the dot product is
        M * rstd * mean(dxhat * xhat) * epsilon / (var + epsilon).
        """
        axes = tuple(range(dy.ndim - 1))
        grads = {"gamma": jnp.sum(dy * cache.xhat, axis=axes), "beta": jnp.sum(dy, axis=axes)}
        bc = lambda v: self.per_channel(v, dy)  # noqa: E731  (C,) -> broadcastable against dy
        dxhat = dy * bc(params["gamma"])
        if isinstance(cache, RunningStatsCache):
            return grads, dxhat * bc(cache.rstd)
        mean_dxhat = self.batch_mean(dxhat)  # (C,) term 3
        mean_dxhat_xhat = self.batch_mean(dxhat * cache.xhat)  # (C,) term 2
        dx = bc(cache.rstd) * (dxhat - bc(mean_dxhat) - cache.xhat * bc(mean_dxhat_xhat))
        return grads, dx
