"""What the networks that led to Inception share: the plain conv layer, LRN, Caffe/PyTorch pooling, the heads.

AlexNet, ZFNet, VGG, Network-in-Network and the paper's GoogLeNet predate BatchNorm: their one conv layer is
`ConvReLU` (conv with bias → ReLU). ResNet and torchvision's GoogLeNet use `layers.ConvBN`.

These networks come from Caffe and PyTorch, so they pad explicitly (`padding=kernel // 2`) instead of with TF's
SAME, which pads strided layers asymmetrically and would shift every window against the released weights.

AlexNet, ZFNet and VGG override `Network.head` with fully connected layers (`FullyConnectedHeadNetwork`), and NIN
with a conv. `ClassicNetwork` refuses `aux_head=True` on networks that have no auxiliary classifier.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from inception_jax.models import ops
from inception_jax.models.layers import NetOptions, conv2d, conv_init, linear_init
from inception_jax.models.network import Network


class ConvReLU(nn.Module):
    """Conv with bias → ReLU: the conv layer of the networks before BatchNorm (AlexNet §3.1).

    Same leading arguments as `ConvBN` (opts, features, kernel, stride, padding), so a network can switch
    between the two. `groups` splits the channels into independent groups (AlexNet's two GPUs, §3.2).
    """

    opts: NetOptions
    features: int
    kernel: int = 1
    stride: int = 1
    padding: int | str = 0
    groups: int = 1

    @nn.compact
    def __call__(self, x, train: bool = False):
        o = self.opts
        x = conv2d(
            o.depth(self.features),
            (self.kernel, self.kernel),
            (self.stride, self.stride),
            padding=self.padding,
            feature_group_count=self.groups,
            kernel_init=conv_init,
            dtype=o.dtype,
            param_dtype=o.param_dtype,
            name="conv",
        )(x)
        return o.act(x)


@dataclasses.dataclass(frozen=True)
class LocalResponseNorm:
    """Local response normalization across channels (AlexNet §3.3): b = a / (k + α Σ a²)^β.

    The sum runs over the `size` channels centred on each channel, zero beyond the edges. The AlexNet paper's
    α multiplies the sum; Caffe's α is divided by `size` first, so Caffe's settings are given as α / size.
    """

    size: int
    k: float
    alpha: float
    beta: float

    def __call__(self, x):
        half = self.size // 2
        squares = jnp.pad(jnp.square(x), [(0, 0)] * (x.ndim - 1) + [(half, half)])
        window_sums = jax.lax.reduce_window(
            squares, 0.0, jax.lax.add, (1,) * (x.ndim - 1) + (self.size,), (1,) * x.ndim, "VALID"
        )
        return x / (self.k + self.alpha * window_sums) ** self.beta


# AlexNet §3.3 (k, n, α, β) = (2, 5, 1e-4, 0.75); VGG's A-LRN (Table 1) and ZFNet reuse it.
ALEXNET_LRN = LocalResponseNorm(size=5, k=2.0, alpha=1e-4, beta=0.75)


def max_pool(x, window: int, stride: int, padding: int = 0, ceil_mode: bool = False):
    """Max pooling as Caffe and PyTorch define it: symmetric `padding`, output size rounded down, or up with
    `ceil_mode` (Caffe's only mode; PyTorch's `ceil_mode=True`), the extra windows reaching past the bottom/right."""
    pads = []
    for size in x.shape[1:3]:
        extra = 0
        if ceil_mode:
            out = -(-(size + 2 * padding - window) // stride) + 1
            if (out - 1) * stride >= size + padding:  # PyTorch: the last window must start inside the input
                out -= 1
            extra = max((out - 1) * stride + window - size - 2 * padding, 0)
        pads.append((padding, padding + extra))
    return ops.max_pool(x, (window, window), (stride, stride), padding=pads)


def _adaptive_pool_matrix(size: int, grid: int, dtype) -> np.ndarray:
    """Row i averages input cells floor(i·size/grid) … ceil((i+1)·size/grid) − 1, as PyTorch's adaptive pool."""
    matrix = np.zeros((grid, size), np.float32)
    for i in range(grid):
        start, end = (i * size) // grid, -(-((i + 1) * size) // grid)
        matrix[i, start:end] = 1.0 / (end - start)
    return matrix.astype(dtype)


def adaptive_avg_pool(x, grid: int):
    """PyTorch's `AdaptiveAvgPool2d(grid)`: averages NHWC `x` down (or up) to a grid×grid map.

    Fully connected heads pool to the grid they were built for (AlexNet 6×6, VGG 7×7, GoogLeNet's side heads
    4×4), so their parameters do not depend on the input size; at the paper's input size it is the identity.
    """
    height, width = x.shape[1:3]
    if (height, width) == (grid, grid):
        return x
    return jnp.einsum(
        "ih,nhwc,jw->nijc", _adaptive_pool_matrix(height, grid, x.dtype), x, _adaptive_pool_matrix(width, grid, x.dtype)
    )


class ClassicNetwork(Network):
    """`Network` for the networks before Inception-v2: no auxiliary classifier unless one declares it (GoogLeNet).

    Endpoints: `PrePool` is the body's last feature map, `PreLogits` what the classifier reads (the pooled
    features, or the last hidden layer of a fully connected head), `Logits` the logits.
    """

    aux_names: ClassVar[tuple[str, ...]] = ()


class FullyConnectedHeadNetwork(ClassicNetwork):
    """AlexNet's classifier (§4.2, Figure 2), kept by ZFNet and VGG: the last feature map pooled to a fixed
    `grid` and flattened → fc6 4096 → ReLU → dropout → fc7 4096 → ReLU → dropout → Logits.

    `dropout_rate` (0.5 in all three papers) applies after fc6 and fc7. `PreLogits` is fc7's output. The hidden
    widths follow `width_multiplier` like the convs.
    """

    dropout_rate: float = 0.5

    grid: ClassVar[int]

    def head(self, x, train: bool, endpoints: dict):
        x = adaptive_avg_pool(x, self.grid)
        x = endpoints["fc6"] = self.hidden_layer(x.reshape(x.shape[0], -1), "fc6")
        x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
        x = endpoints["fc7"] = endpoints["PreLogits"] = self.hidden_layer(x, "fc7")
        if not self.num_classes:
            return x
        x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
        x = endpoints["Logits"] = self.logits_layer()(x)
        return x

    def hidden_layer(self, x, name: str):
        o = self.opts
        return o.act(
            nn.Dense(o.depth(4096), kernel_init=linear_init, dtype=o.dtype, param_dtype=o.param_dtype, name=name)(x)
        )
