"""Building blocks shared by every network: conv-BN-ReLU, towers of layers, the residual wrapper, heads.

Blocks describe their branches as data (`Conv`, `Pool`, `Split` specs) so that each Inception block reads like
its figure in the paper; `Tower` turns one branch into modules and `mixed` concatenates the branches. A block
class subclasses `MixedBlock` (or `ResidualBlock`) and lists its `branches`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, ClassVar, NamedTuple, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

# The XLA:CPU kernels live in `ops`; `layers.conv_or_matmul` and `layers.max_pool` stay importable, and `pool`
# looks `max_pool` up here (experiments/float32_gradients patches `layers.max_pool`).
from inception_jax.models.ops import conv_or_matmul, max_pool

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

    `MixedBlock` and `ResidualBlock` call it from their compact `__call__`, so the towers are the block's children.
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


class MixedBlock(nn.Module):
    """An Inception block: parallel branches on one input, concatenated on channels (the figures' "Filter concat").

    A subclass is one of the papers' figures: its docstring names the figure, and `branches` lists the branches
    as `Conv`/`Pool`/`Split` specs, as a class attribute or, where they depend on the block's fields, a property.
    Each branch runs as a `Tower` named `Branch_i`.
    """

    opts: NetOptions

    branches: ClassVar[Sequence[Sequence]]

    @nn.compact
    def __call__(self, x, train: bool = False):
        return mixed(self.opts, x, train, self.branches)


class ResidualBlock(MixedBlock):
    """An Inception-ResNet block: its concatenated branches added back to the input by `ScaledResidual`.

    `widths` are the figure's filter counts, which the subclass's `branches` lays out; `scale`,
    `bn_on_summations` and `activation` are `ScaledResidual`'s.
    """

    widths: tuple
    scale: float
    bn_on_summations: bool = False
    activation: bool = True

    @nn.compact
    def __call__(self, x, train: bool = False):
        branches = mixed(self.opts, x, train, self.branches)
        residual = ScaledResidual(self.opts, self.scale, self.bn_on_summations, self.activation, name="Residual")
        return residual(x, branches, train)


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
