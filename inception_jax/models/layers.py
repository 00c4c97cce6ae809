"""Building blocks shared by every network: conv-BN-ReLU, towers of layers, the residual wrapper, heads.

Blocks describe their branches as data (`Conv`, `Pool`, `Split` specs) so that each Inception block reads like
its figure in the paper; `Tower` turns one branch into modules and `mixed` concatenates the branches.
"""
from __future__ import annotations

import contextvars
import dataclasses
import functools
from typing import Any, Callable, NamedTuple, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

# Networks sow one dict of endpoints, aux logits included, as `intermediates/endpoints`
# (see `inception_jax.forward_with_endpoints`).
ENDPOINTS = "intermediates"

# slim's inception_utils: He-normal (truncated) for conv-BN layers, Glorot for linear projections and logits.
conv_init = nn.initializers.variance_scaling(2.0, "fan_in", "truncated_normal")
linear_init = nn.initializers.xavier_uniform()

# Replaces every network's ReLU while set, at trace time: `inception_jax.deconvnet` swaps in a ReLU whose
# backward pass rectifies the signal (Zeiler & Fergus's deconvnet). Unset, `relu` is `jax.nn.relu`.
RELU_OVERRIDE: contextvars.ContextVar[Callable | None] = contextvars.ContextVar("relu_override", default=None)


def relu(x):
    """The rectifier of every network (see `RELU_OVERRIDE`)."""
    override = RELU_OVERRIDE.get()
    return nn.relu(x) if override is None else override(x)


def conv_or_matmul(lhs, rhs, window_strides, padding, lhs_dilation=None, rhs_dilation=None, dimension_numbers=None,
                   feature_group_count=1, precision=None):
    """`lax.conv_general_dilated` for NHWC/HWIO, except that a 1×1, stride-1, unpadded, ungrouped convolution is
    computed as the matmul over channels it is (for a 1×1 kernel a padding string means no padding). XLA:CPU runs
    these ~1.3× faster as a dot in a train step (README, "Performance"); the parameters and results are the same."""
    undilated = all(d == 1 for d in (*(lhs_dilation or ()), *(rhs_dilation or ())))
    unpadded = isinstance(padding, str) or all(tuple(p) == (0, 0) for p in padding)
    if rhs.shape[:2] == (1, 1) and tuple(window_strides) == (1, 1) and feature_group_count == 1 and unpadded \
            and undilated:
        return jnp.einsum("...c,cd->...d", lhs, rhs[0, 0], precision=precision)
    return lax.conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation=lhs_dilation,
                                    rhs_dilation=rhs_dilation, dimension_numbers=dimension_numbers,
                                    feature_group_count=feature_group_count, precision=precision)


def conv2d(*args, **kwargs) -> nn.Conv:
    """`nn.Conv` (same parameters, same names) computing through `conv_or_matmul`: every network's conv layer."""
    return nn.Conv(*args, conv_general_dilated=conv_or_matmul, **kwargs)


@dataclasses.dataclass(frozen=True)
class NetOptions:
    """Network-wide options that every conv, BatchNorm and pool reads; built once by each network."""

    width_multiplier: float = 1.0
    min_depth: int = 16
    bn_momentum: float = 0.9997
    bn_epsilon: float = 1e-3
    bn_use_scale: bool = False
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32
    # TF/slim average pools exclude padding; timm's Inception-v3 (a torchvision legacy) includes it.
    avg_pool_count_include_pad: bool = False
    # BatchNorm after each residual sum: the paper left it out to save GPU memory (section 3.2).
    bn_on_summations: bool = False

    def depth(self, features: int) -> int:
        """slim's `depth_multiplier`/`min_depth` rule: scale a layer's width but never below `min_depth`."""
        return max(int(features * self.width_multiplier), self.min_depth)


class Conv(NamedTuple):
    """One conv-BN-ReLU layer of a tower."""

    features: int
    kernel: int | tuple[int, int] = 1
    stride: int = 1
    padding: str = "SAME"
    name: str | None = None


class Pool(NamedTuple):
    """One pooling layer of a tower: 'avg' or 'max'."""

    kind: str
    window: int = 3
    stride: int = 1
    padding: str = "SAME"
    name: str | None = None


class Split(NamedTuple):
    """Parallel layers that end a tower, concatenated (the 1×3 ‖ 3×1 fork of the 8×8 blocks)."""

    layers: tuple


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
            tap = padded[:, i:i + sh * (ho - 1) + 1:sh, j:j + sw * (wo - 1) + 1:sw]
            first = (tap == y) & ~taken
            taken = taken | first
            # Scatter back: tap (i, j) of output (r, c) is input (i + r·sh, j + c·sw).
            dx = dx + lax.pad(jnp.where(first, g, 0), jnp.zeros((), g.dtype),
                              ((0, 0, 0), (i, hp - i - sh * (ho - 1) - 1, sh - 1),
                               (j, wp - j - sw * (wo - 1) - 1, sw - 1), (0, 0, 0)))
    (top, _), (left, _) = pads
    return (dx[:, top:top + x.shape[1], left:left + x.shape[2]],)


_max_pool.defvjp(_max_pool_forward, _max_pool_backward)


def max_pool(x, window: tuple[int, int], strides: tuple[int, int], padding="VALID"):
    """`nn.max_pool` over NHWC `x` (`padding`: "SAME", "VALID" or ((top, bottom), (left, right))), with the
    same gradient computed faster on XLA:CPU (README, "Performance")."""
    window, strides = tuple(window), tuple(strides)
    if isinstance(padding, str):
        padding = lax.padtype_to_pads(x.shape[1:3], window, strides, padding)
    return _max_pool(x, window, strides, tuple(tuple(p) for p in padding))


def _pair(k):
    return (k, k) if isinstance(k, int) else tuple(k)


def _layer_name(spec, index: int) -> str:
    if spec.name:
        return spec.name
    kh, kw = _pair(spec.kernel if isinstance(spec, Conv) else spec.window)
    prefix = "Conv2d" if isinstance(spec, Conv) else {"avg": "AvgPool", "max": "MaxPool"}[spec.kind]
    return f"{prefix}_{'0' if spec.stride == 1 else '1'}{'abcdefghij'[index]}_{kh}x{kw}"


def pool(x, spec: Pool, opts: NetOptions):
    """Applies a `Pool` spec with TF's padding semantics unless `opts` asks for PyTorch's."""
    window, strides = _pair(spec.window), _pair(spec.stride)
    if spec.kind == "max":
        return max_pool(x, window, strides, padding=spec.padding)
    return nn.avg_pool(x, window, strides, padding=spec.padding, count_include_pad=opts.avg_pool_count_include_pad)


class ConvBN(nn.Module):
    """Conv (no bias) → BatchNorm → ReLU: the only conv layer type of the Inception networks."""

    opts: NetOptions
    features: int
    kernel: int | tuple[int, int] = 1
    stride: int = 1
    padding: str = "SAME"
    activation: bool = True

    @nn.compact
    def __call__(self, x, train: bool = False):
        o = self.opts
        x = conv2d(o.depth(self.features), _pair(self.kernel), _pair(self.stride), padding=self.padding,
                    use_bias=False, kernel_init=conv_init, dtype=o.dtype, param_dtype=o.param_dtype, name="conv")(x)
        x = nn.BatchNorm(use_running_average=not train, momentum=o.bn_momentum, epsilon=o.bn_epsilon,
                         use_scale=o.bn_use_scale, dtype=o.dtype, param_dtype=o.param_dtype, name="bn")(x)
        return relu(x) if self.activation else x


class Tower(nn.Module):
    """A chain of `Conv`/`Pool` layers, optionally ending in a `Split`; one branch of a block, or a stem.

    Given an `endpoints` dict (stems), every layer's output is recorded in it under the layer's name.
    """

    opts: NetOptions
    layers: tuple

    @nn.compact
    def __call__(self, x, train: bool = False, endpoints: dict | None = None):
        index = 0
        for spec in self.layers:
            if isinstance(spec, Split):
                outs = []
                for sub in spec.layers:
                    outs.append(self._layer(sub, index, x, train, endpoints))
                    index += 1
                return jnp.concatenate(outs, axis=-1)
            x = self._layer(spec, index, x, train, endpoints)
            index += 1
        return x

    def _layer(self, spec, index, x, train, endpoints):
        name = _layer_name(spec, index)
        if isinstance(spec, Conv):
            x = ConvBN(self.opts, spec.features, spec.kernel, spec.stride, spec.padding, name=name)(x, train)
        else:
            x = pool(x, spec, self.opts)
        if endpoints is not None:
            endpoints[name] = x
        return x


def mixed(opts: NetOptions, x, train: bool, branches: Sequence[Sequence]) -> jnp.ndarray:
    """Runs each branch as a `Tower` named `Branch_i` and concatenates them on channels.

    Call it from inside a block's compact `__call__`: the towers become that block's children.
    """
    return jnp.concatenate(
        [Tower(opts, tuple(layers), name=f"Branch_{i}")(x, train) for i, layers in enumerate(branches)], axis=-1)


class ScaledResidual(nn.Module):
    """x + scale · Conv1×1(branches): the linear filter expansion and residual scaling of sections 3.2–3.3.

    The 1×1 expansion has a bias and no BatchNorm, and no BatchNorm follows the sum (section 3.2) unless
    `opts.bn_on_summations` adds it back. `scale=1.0` turns scaling off; `activation=False` leaves the sum
    linear (the last Block8 of the release).
    """

    opts: NetOptions
    scale: float
    activation: bool = True

    @nn.compact
    def __call__(self, x, branches, train: bool = False):
        o = self.opts
        up = conv2d(x.shape[-1], (1, 1), use_bias=True, kernel_init=linear_init, dtype=o.dtype,
                     param_dtype=o.param_dtype, name="Conv2d_1x1")(branches)
        x = x + up if self.scale == 1.0 else x + self.scale * up
        if o.bn_on_summations:
            x = nn.BatchNorm(use_running_average=not train, momentum=o.bn_momentum, epsilon=o.bn_epsilon,
                             use_scale=o.bn_use_scale, dtype=o.dtype, param_dtype=o.param_dtype, name="bn")(x)
        return relu(x) if self.activation else x


class AuxHead(nn.Module):
    """The auxiliary classifier of the authors' releases: avg 5×5/3 → 1×1 128 → 5×5 768 → logits.

    At 299 px the 5×5 conv sees exactly a 5×5 map, as in slim/timm. For small inputs the pool window is
    clipped and the 5×5 conv pads, so the parameters never depend on the input size.
    """

    opts: NetOptions
    num_classes: int

    @nn.compact
    def __call__(self, x, train: bool = False):
        h, w = x.shape[1:3]
        x = nn.avg_pool(x, (min(5, h), min(5, w)), (3, 3), padding="VALID")
        x = ConvBN(self.opts, 128, 1, name="Conv2d_1b_1x1")(x, train)
        padding = "VALID" if min(x.shape[1:3]) >= 5 else "SAME"
        x = ConvBN(self.opts, 768, 5, padding=padding, name="Conv2d_2a_5x5")(x, train)
        x = jnp.mean(x, axis=(1, 2))
        return nn.Dense(self.num_classes, kernel_init=linear_init, dtype=self.opts.dtype,
                        param_dtype=self.opts.param_dtype, name="Logits")(x)


def wants_aux(module: nn.Module, train: bool) -> bool:
    """The aux head runs at init (to create its parameters), in training, or when endpoints are requested."""
    return train or module.is_initializing() or module.is_mutable_collection(ENDPOINTS)


def check_input_size(images, min_size: int, model_name: str) -> None:
    """Raises a ValueError that states the minimum when an input is too small for the network's stem."""
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"{model_name} expects NHWC RGB images of shape [batch, height, width, 3]; "
                         f"got shape {tuple(images.shape)}.")
    height, width = images.shape[1:3]
    if height < min_size or width < min_size:
        raise ValueError(f"{model_name} needs inputs of at least {min_size}×{min_size} pixels (its stem and "
                         f"reductions leave no pixels below that); got {height}×{width}. Resize or pad the images "
                         f"to at least {min_size}×{min_size}.")
