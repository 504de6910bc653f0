"""2-D convolution (cross-correlation, as in every framework) as im2col + one matmul.

Shape letters, declared once:
    N batch, H x W input size, C input channels, F filters,
    KH x KW kernel, SH x SW stride, Hp x Wp padded input, H' x W' output.

    Hp = H + pad_top + pad_bottom,    H' = 1 + (Hp - KH) // SH     (same for W)

``padding="valid"`` adds nothing; ``padding="same"`` pads so that H' = ceil(H / SH), splitting
the padding with the extra row at the bottom (TensorFlow/Keras and ``lax`` "SAME").

Forward. The im2col matrix gathers, for every output pixel, the KH*KW*C input values under the
kernel. It is built from KH*KW strided slices of the padded input, one per kernel offset
(i, j), concatenated on the channel axis in (i, j, c) order, which is exactly the row order of
the HWIO kernel reshaped to (KH*KW*C, F):

    patches[n, h, w, (i*KW + j)*C + c] = xp[n, h*SH + i, w*SW + j, c]     (N, H', W', KH*KW*C)
    y = patches @ w.reshape(KH*KW*C, F) + b                               (N, H', W', F)

With ``precision="bf16"`` the input is rounded to bfloat16 before im2col (half the bytes to move)
and every product takes bfloat16 operands with float32 accumulation (nn/precision.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, NamedTuple

import jax.numpy as jnp
from jax import lax

from nn.layer import Array, Key, Params, Shape, State, check_positive, glorot_uniform, pair
from nn.precision import Precision, check_precision, matmul, operand


class ConvCache(NamedTuple):
    # (N, H, W, C) the input. Backward rebuilds the patches from it: inside one jitted train
    # step XLA deduplicates that with the forward's identical im2col, and the cache stays
    # KH*KW times smaller than caching the patches themselves.
    x: Array


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """(before, after) padding so that the output has ceil(size / stride) positions."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def window_slice(
    x: Array, i: int, j: int, out_hw: tuple[int, int], strides: tuple[int, int]
) -> Array:
    """x[:, i + SH*h, j + SW*w, :] for h < H', w < W': the inputs seen by kernel offset (i, j)."""
    (ho, wo), (sh, sw) = out_hw, strides
    n, _, _, c = x.shape
    return lax.slice(
        x, (0, i, j, 0), (n, i + sh * (ho - 1) + 1, j + sw * (wo - 1) + 1, c), (1, sh, sw, 1)
    )


def place_window(
    v: Array, i: int, j: int, in_hw: tuple[int, int], strides: tuple[int, int]
) -> Array:
    """Adjoint of ``window_slice``: put v (N, H', W', C) back at rows i + SH*h, cols j + SW*w
    of a zero (N, H, W, C) array. Written as ``lax.pad`` with interior padding (SH-1 zeros
    between rows), which XLA fuses with the surrounding sums instead of emitting a scatter."""
    (h, w), (sh, sw) = in_hw, strides
    _, ho, wo, _ = v.shape
    rows = (i, h - i - sh * (ho - 1) - 1, sh - 1)
    cols = (j, w - j - sw * (wo - 1) - 1, sw - 1)
    return lax.pad(v, jnp.zeros((), v.dtype), ((0, 0, 0), rows, cols, (0, 0, 0)))


@dataclass(frozen=True)
class Conv2D:
    filters: int  # F, number of output channels
    kernel_size: int | tuple[int, int] = 3  # (KH, KW); an int means square
    strides: int | tuple[int, int] = 1  # (SH, SW); an int means equal
    padding: Literal["valid", "same"] = "valid"  # "valid": no padding; "same": H' = ceil(H/SH)
    use_bias: bool = True  # add a learned bias b of shape (F,)
    # of the products: "f32", or "bf16" operands (nn/precision.py); left out of repr, which names
    # the architecture in checkpoints, because it changes no parameter
    precision: Precision = field(default="f32", repr=False)

    def __post_init__(self) -> None:
        check_positive("Conv2D filters", self.filters)
        check_precision("Conv2D", self.precision)
        check_positive("Conv2D kernel_size", *pair(self.kernel_size))
        check_positive("Conv2D strides", *pair(self.strides))
        if self.padding not in ("valid", "same"):
            raise ValueError(f"Conv2D padding must be 'valid' or 'same', got {self.padding!r}")

    def pads(self, h: int, w: int) -> tuple[tuple[int, int], tuple[int, int]]:
        """((top, bottom), (left, right)) zero padding for an H x W input."""
        (kh, kw), (sh, sw) = pair(self.kernel_size), pair(self.strides)
        if self.padding == "valid":
            return (0, 0), (0, 0)
        return same_padding(h, kh, sh), same_padding(w, kw, sw)

    def output_hw(self, h: int, w: int) -> tuple[int, int]:
        """H' = 1 + (Hp - KH) // SH and W' likewise."""
        (kh, kw), (sh, sw) = pair(self.kernel_size), pair(self.strides)
        (pt, pb), (pl, pr) = self.pads(h, w)
        return 1 + (h + pt + pb - kh) // sh, 1 + (w + pl + pr - kw) // sw

    def init(self, key: Array, in_shape: Shape) -> tuple[Params, State, Shape]:
        if len(in_shape) != 3:
            raise ValueError(f"Conv2D expects (H, W, C) inputs, got {in_shape}")
        h, w, c = in_shape
        kh, kw = pair(self.kernel_size)
        ho, wo = self.output_hw(h, w)
        if ho <= 0 or wo <= 0:
            raise ValueError(f"Conv2D kernel {kh}x{kw} does not fit a {h}x{w} input")
        f = self.filters
        params = {"w": glorot_uniform(key, (kh, kw, c, f), kh * kw * c, kh * kw * f)}
        if self.use_bias:
            params["b"] = jnp.zeros((f,), jnp.float32)
        return params, {}, (ho, wo, f)

    def im2col(self, x: Array) -> Array:
        """(N, H, W, C) -> patches (N, H', W', KH*KW*C), column order (i, j, c)."""
        (kh, kw), strides = pair(self.kernel_size), pair(self.strides)
        (pt, pb), (pl, pr) = self.pads(x.shape[1], x.shape[2])
        out_hw = self.output_hw(x.shape[1], x.shape[2])
        xp = jnp.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)))  # (N, Hp, Wp, C)
        cols = [window_slice(xp, i, j, out_hw, strides) for i in range(kh) for j in range(kw)]
        return jnp.concatenate(cols, axis=-1) if len(cols) > 1 else cols[0]

    def forward(
        self, params: Params, state: State, x: Array, *, key: Key = None, train: bool = False
    ) -> tuple[Array, ConvCache, State]:
        kh, kw, c, f = params["w"].shape
        patches = self.im2col(operand(x, self.precision))  # (N, H', W', KH*KW*C)
        y = matmul(patches, params["w"].reshape(kh * kw * c, f), self.precision)  # (N, H', W', F)
        if self.use_bias:
            y = y + params["b"][None, None, None, :]
        return y, ConvCache(x=x), state

    def backward(self, params: Params, cache: ConvCache, dy: Array) -> tuple[Params, Array]:
        """Backward pass. dy = dL/dy (N, H', W', F).

        With P = patches (N*H'*W', KH*KW*C) and Wm = w reshaped (KH*KW*C, F), the forward is
        the dense layer y = P @ Wm + b applied to every output pixel, so
            dWm = P.T @ dy            -> dw = dWm.reshape(KH, KW, C, F)
            db  = sum of dy over N, H', W'                                   (F,)
            dP  = dy @ Wm.T                                     (N, H', W', KH*KW*C)
        and dx is the adjoint of im2col applied to dP (col2im): each input pixel receives the
        sum of the dP entries of every (output pixel, kernel offset) that read it,
            dxp[n, h*SH + i, w*SW + j, c] += dP[n, h, w, (i*KW + j)*C + c]   for all i, j
        i.e. the KH*KW column blocks of dP are placed back at their offsets and summed
        (``place_window``), then the zero padding is cropped off: dx = dxp[:, pt:pt+H, pl:pl+W].
        """
        x = cache.x
        n, h, w, c = x.shape
        kh, kw, _, f = params["w"].shape
        (pt, pb), (pl, pr) = self.pads(h, w)
        strides = pair(self.strides)

        p = self.precision
        patches = self.im2col(operand(x, p))  # (N, H', W', KH*KW*C)
        k = kh * kw * c
        dy2 = dy.reshape(-1, f)  # (N*H'*W', F)
        grads = {"w": matmul(patches.reshape(-1, k).T, operand(dy2, p), p).reshape(kh, kw, c, f)}
        if self.use_bias:
            grads["b"] = jnp.sum(dy2, axis=0)

        dpatches = matmul(operand(dy, p), params["w"].reshape(k, f).T, p)  # (N, H', W', KH*KW*C)
        padded_hw = (h + pt + pb, w + pl + pr)
        dxp = sum(
            place_window(
                dpatches[..., (i * kw + j) * c : (i * kw + j + 1) * c], i, j, padded_hw, strides
            )
            for i in range(kh)
            for j in range(kw)
        )  # (N, Hp, Wp, C)
        dx = dxp[:, pt : pt + h, pl : pl + w, :]  # (N, H, W, C)
        return grads, dx
