"""Kernels written for XLA:CPU: a pointwise convolution as a matmul, and a max-pool gradient without
select-and-scatter. Both give the results of the operations they replace, and every backend runs them: nothing
switches on the backend. Their speed-ups were measured on XLA:CPU only (docs/performance.md).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax import lax


def conv_or_matmul(
    lhs,
    rhs,
    window_strides,
    padding,
    lhs_dilation=None,
    rhs_dilation=None,
    dimension_numbers=None,
    feature_group_count=1,
    precision=None,
):
    """`lax.conv_general_dilated` for NHWC/HWIO, except that a 1×1, stride-1, unpadded, ungrouped convolution is
    computed as the matmul over channels it is (for a 1×1 kernel a padding string means no padding).

    Why: XLA:CPU runs these ~1.3× faster as a dot in a train step (docs/performance.md). Every network's conv
    layer (`layers.conv2d`) computes through it on every backend; the parameters and results are the same.
    """
    undilated = all(d == 1 for d in (*(lhs_dilation or ()), *(rhs_dilation or ())))
    unpadded = isinstance(padding, str) or all(tuple(p) == (0, 0) for p in padding)
    if (
        rhs.shape[:2] == (1, 1)
        and tuple(window_strides) == (1, 1)
        and feature_group_count == 1
        and unpadded
        and undilated
    ):
        return jnp.einsum("...c,cd->...d", lhs, rhs[0, 0], precision=precision)
    return lax.conv_general_dilated(
        lhs,
        rhs,
        window_strides,
        padding,
        lhs_dilation=lhs_dilation,
        rhs_dilation=rhs_dilation,
        dimension_numbers=dimension_numbers,
        feature_group_count=feature_group_count,
        precision=precision,
    )


@functools.partial(jax.custom_vjp, nondiff_argnums=(1, 2, 3))
def _max_pool(x, window: tuple, strides: tuple, pads: tuple):
    return lax.reduce_window(x, -jnp.inf, lax.max, (1, *window, 1), (1, *strides, 1), ((0, 0), *pads, (0, 0)))


def _max_pool_forward(x, window, strides, pads):
    y = _max_pool(x, window, strides, pads)
    return y, (x, y)


def _max_pool_backward(window, strides, pads, residuals, g):
    """JAX's max-pool gradient (each window's gradient to its first maximum, in row-major order) as one strided
    slice and pad per window tap, instead of XLA's select-and-scatter, which XLA:CPU runs slowly."""
    x, y = residuals
    padded = jnp.pad(x, ((0, 0), *pads, (0, 0)), constant_values=-jnp.inf)
    (kh, kw), (sh, sw), (ho, wo), (hp, wp) = window, strides, y.shape[1:3], padded.shape[1:3]
    taken = jnp.zeros(y.shape, bool)
    dx = jnp.zeros_like(padded)
    for i in range(kh):
        for j in range(kw):
            tap = padded[:, i : i + sh * (ho - 1) + 1 : sh, j : j + sw * (wo - 1) + 1 : sw]
            first = (tap == y) & ~taken
            taken = taken | first
            # Scatter back: tap (i, j) of output (r, c) is input (i + r·sh, j + c·sw).
            dx = dx + lax.pad(
                jnp.where(first, g, 0),
                jnp.zeros((), g.dtype),
                (
                    (0, 0, 0),
                    (i, hp - i - sh * (ho - 1) - 1, sh - 1),
                    (j, wp - j - sw * (wo - 1) - 1, sw - 1),
                    (0, 0, 0),
                ),
            )
    (top, _), (left, _) = pads
    return (dx[:, top : top + x.shape[1], left : left + x.shape[2]],)


_max_pool.defvjp(_max_pool_forward, _max_pool_backward)


def max_pool(x, window: tuple[int, int], strides: tuple[int, int], padding="VALID"):
    """`nn.max_pool` over NHWC `x` (`padding`: "SAME", "VALID" or ((top, bottom), (left, right))), with the
    same gradient.

    Why: XLA lowers the max-pool gradient to select-and-scatter, which XLA:CPU runs slowly; the strided taps
    of `_max_pool_backward` make a train step 1.04–1.06× faster there (docs/performance.md). Every max pool
    of every network goes through it, on every backend.
    """
    window, strides = tuple(window), tuple(strides)
    if isinstance(padding, str):
        padding = lax.padtype_to_pads(x.shape[1:3], window, strides, padding)
    return _max_pool(x, window, strides, tuple(tuple(p) for p in padding))
