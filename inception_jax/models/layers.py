"""Building blocks shared by every network: conv-BN-ReLU, towers of layers, the residual wrapper, heads.

Blocks describe their branches as data (`Conv`, `Pool`, `Split` specs) so that each Inception block reads like
its figure in the paper; `Tower` turns one branch into modules and `mixed` concatenates the branches.
"""

from __future__ import annotations

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


@jax.custom_vjp
def deconvnet_relu(x):
    """ReLU forward; backward rectifies the incoming signal instead of masking it (Zeiler & Fergus's deconvnet)."""
    return jnp.maximum(x, 0)


deconvnet_relu.defvjp(lambda x: (jnp.maximum(x, 0), None), lambda _, g: (jnp.maximum(g, 0),))

# The rectifiers a network's `activation` option names. "deconvnet" differs from "relu" in its gradient only:
# `inception_jax.deconvnet` projects activations back to pixels with it.
ACTIVATIONS: dict[str, Callable] = {"relu": nn.relu, "deconvnet": deconvnet_relu}


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
    computed as the matmul over channels it is (for a 1×1 kernel a padding string means no padding). XLA:CPU runs
    these ~1.3× faster as a dot in a train step (docs/performance.md); the parameters and results are the same."""
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


def conv2d(*args, **kwargs) -> nn.Conv:
    """`nn.Conv` (same parameters, same names) computing through `conv_or_matmul`: every network's conv layer."""
    return nn.Conv(*args, conv_general_dilated=conv_or_matmul, **kwargs)


class LayerOptions(nn.Module):
    """The options every conv, BatchNorm, pool and rectifier of a network reads, declared once: each network has
    them as its own fields (`Network` subclasses this) and hands them to its layers as one frozen `NetOptions`.

    Attributes:
      width_multiplier, min_depth: slim's depth_multiplier and min_depth, applied to every conv layer.
      bn_momentum, bn_epsilon: BatchNorm's moving-average decay and epsilon (slim: 0.9997, 1e-3).
      bn_use_scale: BatchNorm γ. The authors' releases have none; True matches timm's parameter counts.
      dtype, param_dtype: compute and parameter dtypes (bf16 compute with fp32 parameters works).
      avg_pool_count_include_pad: TF/slim average pools exclude padding; timm's Inception-v3 includes it.
      activation: the rectifier, a name of `ACTIVATIONS` ("relu"; "deconvnet" for `inception_jax.deconvnet`).
      bn_fast_variance: BatchNorm's batch variance as E[x²] - E[x]² in one pass (flax's default) instead of
        E[(x - E[x])²]. In float32 the one pass makes training gradients differ from float64 ones by ~1% at
        initialisation, the two passes by ~1e-5, at the same speed (experiments/float32_gradients).
    """

    width_multiplier: float = 1.0
    min_depth: int = 16
    bn_momentum: float = 0.9997
    bn_epsilon: float = 1e-3
    bn_use_scale: bool = False
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32
    avg_pool_count_include_pad: bool = False
    activation: str = "relu"
    bn_fast_variance: bool = False


class _NetOptionsRules:
    """What layers derive from the options."""

    def depth(self, features: int) -> int:
        """slim's `depth_multiplier`/`min_depth` rule: scale a layer's width but never below `min_depth`."""
        return max(int(features * self.width_multiplier), self.min_depth)

    def act(self, x):
        """The network's rectifier."""
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation={self.activation!r}; choose one of {', '.join(ACTIVATIONS)}.")
        return ACTIVATIONS[self.activation](x)


# `LayerOptions`' fields as a frozen, hashable value that modules can hold as a field.
NetOptions = dataclasses.make_dataclass(
    "NetOptions",
    [
        (field.name, field.type, dataclasses.field(default=field.default))
        for field in dataclasses.fields(LayerOptions)
        if field.init and field.name not in ("parent", "name")
    ],
    bases=(_NetOptionsRules,),
    frozen=True,
)
NetOptions.__module__ = __name__
NetOptions.__doc__ = "The options of `LayerOptions`, as the value every layer reads (`Network.opts`)."


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
    same gradient computed faster on XLA:CPU (docs/performance.md)."""
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


def batch_norm(o: NetOptions, train: bool, name: str = "bn") -> nn.BatchNorm:
    """The networks' one BatchNorm: batch statistics in training, the moving averages otherwise."""
    return nn.BatchNorm(
        use_running_average=not train,
        momentum=o.bn_momentum,
        epsilon=o.bn_epsilon,
        use_scale=o.bn_use_scale,
        use_fast_variance=o.bn_fast_variance,
        dtype=o.dtype,
        param_dtype=o.param_dtype,
        name=name,
    )


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
        x = conv2d(
            o.depth(self.features),
            _pair(self.kernel),
            _pair(self.stride),
            padding=self.padding,
            use_bias=False,
            kernel_init=conv_init,
            dtype=o.dtype,
            param_dtype=o.param_dtype,
            name="conv",
        )(x)
        x = batch_norm(o, train)(x)
        return o.act(x) if self.activation else x


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
        [Tower(opts, tuple(layers), name=f"Branch_{i}")(x, train) for i, layers in enumerate(branches)], axis=-1
    )


class ScaledResidual(nn.Module):
    """x + scale · Conv1×1(branches): the linear filter expansion and residual scaling of sections 3.2–3.3.

    The 1×1 expansion has a bias and no BatchNorm, and no BatchNorm follows the sum (section 3.2) unless
    `bn_on_summations` adds it back. `scale=1.0` turns scaling off; `activation=False` leaves the sum
    linear (the last Block8 of the release).
    """

    opts: NetOptions
    scale: float
    bn_on_summations: bool = False  # the BatchNorm after the sum the paper left out to save memory (section 3.2)
    activation: bool = True

    @nn.compact
    def __call__(self, x, branches, train: bool = False):
        o = self.opts
        up = conv2d(
            x.shape[-1],
            (1, 1),
            use_bias=True,
            kernel_init=linear_init,
            dtype=o.dtype,
            param_dtype=o.param_dtype,
            name="Conv2d_1x1",
        )(branches)
        x = x + up if self.scale == 1.0 else x + self.scale * up
        if self.bn_on_summations:
            x = batch_norm(o, train)(x)
        return o.act(x) if self.activation else x


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
        return nn.Dense(
            self.num_classes,
            kernel_init=linear_init,
            dtype=self.opts.dtype,
            param_dtype=self.opts.param_dtype,
            name="Logits",
        )(x)


def wants_aux(module: nn.Module, train: bool) -> bool:
    """The aux head runs at init (to create its parameters), in training, or when endpoints are requested."""
    return train or module.is_initializing() or module.is_mutable_collection(ENDPOINTS)


def check_input_size(images, min_size: int, model_name: str) -> None:
    """Raises a ValueError that states the minimum when an input is too small for the network's stem."""
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(
            f"{model_name} expects NHWC RGB images of shape [batch, height, width, 3]; got shape {tuple(images.shape)}."
        )
    height, width = images.shape[1:3]
    if height < min_size or width < min_size:
        raise ValueError(
            f"{model_name} needs inputs of at least {min_size}×{min_size} pixels (its stem and "
            f"reductions leave no pixels below that); got {height}×{width}. Resize or pad the images "
            f"to at least {min_size}×{min_size}."
        )
