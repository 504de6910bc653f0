"""The geometry of augmentation (data/augment.py): affine warps and elastic distortions of a
batch of images, by the inverse mapping and bilinear sampling.

Geometry: the inverse mapping. A warp cannot push input pixels forward (they would land between
output pixels and leave holes); instead every output pixel asks where it comes from. With
coordinates measured from the image centre, x = col - (W-1)/2 to the right and y = row - (H-1)/2
downwards, the forward map of input point p to output point q is

    q = R(a) S(s) Z(z) p + t          R(a) = [[cos a, sin a], [-sin a, cos a]]   rotation by a,
                                               counter-clockwise as displayed (y points down)
                                      S(s) = [[1, -tan s], [0, 1]]   shear: slant by s, the top
                                               of the image to the right for s > 0
                                      Z(z) = z I    zoom, t = (tx, ty) translation in pixels

so each output pixel q reads the input at

    p = Z(1/z) S(-s) R(-a) (q - t) + d(q)

(the inverses in reverse order: S(s)^-1 = S(-s) because tan(-s) = -tan s), plus the elastic
displacement d(q) (below). a = 90 degrees maps output (row i, col j) to input (j, W-1-i): exactly
np.rot90. p is rarely a pixel centre; bilinear interpolation reads it from its four neighbours:
with r0 = floor(p_row), c0 = floor(p_col), fr = p_row - r0, fc = p_col - c0,

    out = (1-fr)(1-fc) x[r0, c0]   + (1-fr) fc x[r0, c0+1]
        + fr (1-fc) x[r0+1, c0]    + fr fc x[r0+1, c0+1]

where a neighbour outside the image reads ``fill``. The four weights are >= 0 and sum to 1, so
every output lies between the smallest and largest of the input and ``fill``. At a pixel centre
(fr = fc = 0) the weights are (1, 0, 0, 0): the identity and integer shifts copy pixels exactly.
Coordinates within 1e-4 pixel of a centre are snapped to it, so that the float32 rounding of
cos 90 degrees (4e-8, not 0) does not blend right-angle rotations by a ten-millionth.

Elastic distortion (Simard, Steinkraus and Platt, 2003): draw a displacement per pixel and axis,
uniform in [-1, 1], smooth each field with a Gaussian of std ``elastic_sigma`` pixels and
multiply by ``elastic`` (their alpha; they used alpha 34, sigma 4 on MNIST). The Gaussian is
separable, so smoothing is G U G^T with G (H, H) holding g(i - k) = exp(-(i-k)^2 / 2 sigma^2) /
(sqrt(2 pi) sigma): outside the image the noise counts as 0.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

Array = jax.Array
SNAP = 1e-4  # pixels: coordinates this close to a pixel centre are read from that centre


def warp_affine(
    x: Array, *, angle: Array, shear: Array, zoom: Array, shift: Array, fill: float = 0.0
) -> Array:
    """x (N, H, W, C) rotated by angle (N,) radians, slanted by shear (N,) radians, zoomed by
    zoom (N,) and moved by shift (N, 2) = (tx, ty) pixels, about the image centre: the
    deterministic core of ``augment`` (whose elastic field adds to the same coordinates)."""
    matrix, offset = inverse_affine(angle=angle, shear=shear, zoom=zoom, shift=shift)
    rows, cols = source_coordinates(matrix, offset, x.shape[1], x.shape[2])
    return sample_bilinear(x, rows, cols, fill)


def inverse_affine(*, angle: Array, shear: Array, zoom: Array, shift: Array) -> tuple[Array, Array]:
    """Per image, the map from output to input point, p = M q + b (centred (x, y) coordinates):
    M = Z(1/z) S(-s) R(-a) and b = -M t (see the module docstring).
    angle, shear (N,) radians; zoom (N,); shift (N, 2) as (tx, ty) -> M (N, 2, 2), b (N, 2)."""
    cos, sin, tan = jnp.cos(angle), jnp.sin(angle), jnp.tan(shear)  # (N,)
    # R(-a) = [[cos, -sin], [sin, cos]];  S(-s) R(-a) = [[cos + tan sin, -sin + tan cos], R row 2]
    m = (
        jnp.stack(
            [
                jnp.stack([cos + tan * sin, -sin + tan * cos], axis=-1),
                jnp.stack([sin, cos], axis=-1),
            ],
            axis=-2,
        )
        / zoom[:, None, None]
    )  # (N, 2, 2)
    b = -jnp.einsum("nij,nj->ni", m, shift)  # (N, 2)
    return m, b


def source_coordinates(matrix: Array, offset: Array, h: int, w: int) -> tuple[Array, Array]:
    """For every output pixel, the input (row, col) it reads: M (N, 2, 2), b (N, 2) ->
    rows, cols (N, H, W), snapped to pixel centres within SNAP."""
    cy, cx = (h - 1) / 2, (w - 1) / 2
    ys, xs = jnp.meshgrid(
        jnp.arange(h, dtype=jnp.float32) - cy, jnp.arange(w, dtype=jnp.float32) - cx, indexing="ij"
    )  # (H, W) each
    q = jnp.stack([xs, ys])[None]  # (1, 2, H, W) as (x, y)
    p = jnp.einsum("nij,njhw->nihw", matrix, q) + offset[:, :, None, None]  # (N, 2, H, W)
    cols, rows = p[:, 0] + cx, p[:, 1] + cy
    snap = lambda v: jnp.where(jnp.abs(v - jnp.round(v)) < SNAP, jnp.round(v), v)  # noqa: E731
    return snap(rows), snap(cols)


def sample_bilinear(x: Array, rows: Array, cols: Array, fill: float) -> Array:
    """x (N, H, W, C) read at real (rows, cols) (N, H', W') -> (N, H', W', C); neighbours outside
    the image read ``fill``. Weights as derived in the module docstring."""
    h, w = x.shape[1:3]
    r0, c0 = jnp.floor(rows), jnp.floor(cols)
    fr, fc = (rows - r0)[..., None], (cols - c0)[..., None]  # (N, H', W', 1)
    r0, c0 = r0.astype(jnp.int32), c0.astype(jnp.int32)

    def corner(dr: int, dc: int) -> Array:  # x[r0 + dr, c0 + dc], or fill outside: (N, H', W', C)
        r, c = r0 + dr, c0 + dc
        inside = ((r >= 0) & (r < h) & (c >= 0) & (c < w))[..., None]
        read = jax.vmap(lambda img, i, j: img[i, j])(
            x, jnp.clip(r, 0, h - 1), jnp.clip(c, 0, w - 1)
        )
        return jnp.where(inside, read, jnp.asarray(fill, x.dtype))

    return (
        (1 - fr) * (1 - fc) * corner(0, 0)
        + (1 - fr) * fc * corner(0, 1)
        + fr * (1 - fc) * corner(1, 0)
        + fr * fc * corner(1, 1)
    )


def gaussian_matrix(size: int, sigma: Array, normalise_rows: bool) -> Array:
    """G (M, size, size) with G[m, i, k] = exp(-(i - k)^2 / 2 sigma_m^2) for sigma (M,): rows
    summing to 1 (a blur that keeps constant images constant) or scaled by 1/(sqrt(2 pi) sigma)."""
    i = jnp.arange(size, dtype=jnp.float32)
    d2 = ((i[:, None] - i[None, :]) ** 2)[None]  # (1, size, size)
    sigma = jnp.maximum(sigma, 1e-3)[:, None, None]  # (M, 1, 1); sigma -> 0: G -> identity
    g = jnp.exp(-d2 / (2 * sigma**2))  # (M, size, size)
    if normalise_rows:
        return g / g.sum(axis=-1, keepdims=True)
    return g / (math.sqrt(2 * math.pi) * sigma)


def elastic_field(noise: Array, alpha: float, sigma: float) -> tuple[Array, Array]:
    """Simard's displacement from noise (N, 2, H, W) uniform in [-1, 1]: alpha * G_H U G_W^T for
    each image and axis -> (rows, cols), each (N, H, W)."""
    h, w = noise.shape[2:]
    s = jnp.full((1,), sigma, jnp.float32)
    gh, gw = gaussian_matrix(h, s, False)[0], gaussian_matrix(w, s, False)[0]  # (H, H), (W, W)
    d = alpha * jnp.einsum("hk,nskl,wl->nshw", gh, noise, gw)  # (N, 2, H, W)
    return d[:, 0], d[:, 1]
