"""Residual networks: ResNet v1 and its plain counterparts (He et al. 2015, "Deep Residual Learning"), the
pre-activation ResNets (He et al. 2016, "Identity Mappings in Deep Residual Networks"), and the CIFAR-10 networks
of §4.2 of the first paper.

Blocks are named after Table 1's layer groups: `conv2_1` is the first block of conv2_x. BatchNorm defaults are
torchvision's (γ, momentum 0.9 in Flax's sense, i.e. PyTorch's 0.1, ε 1e-5); there is no dropout.

Shortcuts (§3.3) where a block changes the shape: option B, a 1×1 projection with BatchNorm, for the ImageNet
networks (Table 1; torchvision's counts); option A, identity with subsampling and zero-padded extra channels (no
parameters), for the CIFAR networks.
"""

from __future__ import annotations

from typing import ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp

from inception_jax.models.classic import ClassicNetwork, max_pool
from inception_jax.models.layers import ConvBN, NetOptions, batch_norm, conv2d, conv_init

PROJECTION, ZERO_PADDING, NO_SHORTCUT = "projection", "zero_padding", "none"


def changes_shape(x, features: int, stride: int, opts: NetOptions) -> bool:
    """Whether a block with `features` output channels and `stride` cannot add its input as it is."""
    return stride != 1 or x.shape[-1] != opts.depth(features)


class Shortcut(nn.Module):
    """§3.3: the identity where the shape is kept; otherwise option A (subsample, zero-pad the new channels) or
    option B (1×1 projection, stride `stride`, with BatchNorm unless `pre_activation`: He 2016 projects the
    already normalized input)."""

    opts: NetOptions
    kind: str
    features: int
    stride: int
    pre_activation: bool = False

    @nn.compact
    def __call__(self, x, train: bool = False):
        o = self.opts
        if not changes_shape(x, self.features, self.stride, o):
            return x
        if self.kind == ZERO_PADDING:
            # A strided slice (indexing would make a gather when the batch size is symbolic, as in an export).
            x = jax.lax.slice(x, (0,) * 4, x.shape, (1, self.stride, self.stride, 1))
            return jnp.pad(x, [(0, 0)] * 3 + [(0, o.depth(self.features) - x.shape[-1])])
        if self.pre_activation:
            return conv_without_bias(o, self.features, 1, self.stride, name="projection")(x)
        return ConvBN(o, self.features, 1, self.stride, 0, activation=False, name="projection")(x, train)


def residual_sum(
    opts: NetOptions, kind: str, residual, x, features: int, stride: int, train: bool, pre_activation: bool = False
):
    """residual + shortcut(x) (Figure 2), or the residual alone in a plain network; `features` is the block's
    output width before `width_multiplier`."""
    if kind == NO_SHORTCUT:
        return residual
    return residual + Shortcut(opts, kind, features, stride, pre_activation, name="shortcut")(x, train)


class BasicBlock(nn.Module):
    """Figure 5 (left): 3×3 conv-BN-ReLU → 3×3 conv-BN, added to the shortcut, then ReLU (Figure 2).

    ResNet-18/34 and the CIFAR networks; `shortcut` = "projection", "zero_padding" or "none" (plain).
    """

    opts: NetOptions
    features: int
    stride: int = 1
    shortcut: str = PROJECTION

    @nn.compact
    def __call__(self, x, train: bool = False):
        o, f = self.opts, self.features
        h = ConvBN(o, f, 3, self.stride, 1, name="conv_3x3_a")(x, train)
        h = ConvBN(o, f, 3, 1, 1, activation=False, name="conv_3x3_b")(h, train)
        return o.act(residual_sum(o, self.shortcut, h, x, f, self.stride, train))


class Bottleneck(nn.Module):
    """Figure 5 (right): 1×1 conv-BN-ReLU reduce → 3×3 conv-BN-ReLU → 1×1 conv-BN expand (×4), added to the
    shortcut, then ReLU. ResNet-50/101/152.

    The paper strides the first 1×1 conv ("v1"); `stride_on_3x3` strides the 3×3 instead, as torchvision and
    most released ResNet-50+ weights do ("v1.5"). The parameters are the same; v1.5 costs more.
    """

    opts: NetOptions
    features: int
    stride: int = 1
    shortcut: str = PROJECTION
    stride_on_3x3: bool = False

    @nn.compact
    def __call__(self, x, train: bool = False):
        o, f = self.opts, self.features
        stride_1x1, stride_3x3 = (1, self.stride) if self.stride_on_3x3 else (self.stride, 1)
        h = ConvBN(o, f, 1, stride_1x1, 0, name="conv_1x1_reduce")(x, train)
        h = ConvBN(o, f, 3, stride_3x3, 1, name="conv_3x3")(h, train)
        h = ConvBN(o, 4 * f, 1, 1, 0, activation=False, name="conv_1x1_expand")(h, train)
        return o.act(residual_sum(o, self.shortcut, h, x, 4 * f, self.stride, train))


def conv_without_bias(opts: NetOptions, features: int, kernel: int, stride: int, name: str) -> nn.Conv:
    """The bare conv of the pre-activation blocks (BatchNorm comes before it, so it needs no bias)."""
    return conv2d(
        opts.depth(features),
        (kernel, kernel),
        (stride, stride),
        padding=kernel // 2,
        use_bias=False,
        kernel_init=conv_init,
        dtype=opts.dtype,
        param_dtype=opts.param_dtype,
        name=name,
    )


class PreActivation(nn.Module):
    """BN → ReLU before a weight layer: the "full pre-activation" of He 2016 (Figure 4(e))."""

    opts: NetOptions

    @nn.compact
    def __call__(self, x, train: bool = False):
        o = self.opts
        return o.act(batch_norm(o, train)(x))


class PreActBlock(nn.Module):
    """He 2016, Figure 1(b)/4(e): each weight layer preceded by BN → ReLU, nothing after the sum.

    `kernels` = (3, 3) for the basic block, (1, 3, 1) for the bottleneck (whose last layer expands ×4). A block
    that changes the shape normalizes its input once for both paths and projects the normalized input (the
    paper's appendix); otherwise the shortcut is the untouched input. The network's first block gets the stem's
    already activated output (`preactivate_input=False`).
    """

    opts: NetOptions
    features: int
    kernels: tuple
    stride: int = 1
    stride_on_3x3: bool = False
    preactivate_input: bool = True

    @nn.compact
    def __call__(self, x, train: bool = False):
        o = self.opts
        expansion = 4 if len(self.kernels) == 3 else 1
        out = expansion * self.features
        normalized = PreActivation(o, name="preact")(x, train) if self.preactivate_input else x
        shortcut_input = normalized if changes_shape(x, out, self.stride, o) else x
        strided_layer = self.kernels.index(3) if self.stride_on_3x3 else 0
        h = normalized
        for index, kernel in enumerate(self.kernels):
            if index:
                h = PreActivation(o, name=f"preact_{index}")(h, train)
            features = out if index == len(self.kernels) - 1 else self.features
            h = conv_without_bias(
                o,
                features,
                kernel,
                self.stride if index == strided_layer else 1,
                name=f"conv_{index}_{kernel}x{kernel}",
            )(h)
        return residual_sum(o, PROJECTION, h, shortcut_input, out, self.stride, train, pre_activation=True)


class ResNet(ClassicNetwork):
    """Table 1: conv1 7×7/2 64 → 3×3/2 max pool → conv2_x … conv5_x (64, 128, 256, 512 wide; the first block of
    conv3_x–conv5_x strides by 2) → global average pool → Logits.

    Each variant (the table at the end) names its depth, which sets `default_block_counts` and `bottleneck`;
    `shortcut` "none" gives the plain networks of Figure 3/Table 2. `block_counts` overrides the blocks per stage,
    as for Inception-ResNet. Any input of at least 32×32 (the total stride) works.
    """

    stride_on_3x3: bool = False
    block_counts: tuple | None = None
    dropout_rate: float = 0.0
    bn_momentum: float = 0.9
    bn_epsilon: float = 1e-5
    bn_use_scale: bool = True

    default_block_counts: ClassVar[tuple]
    bottleneck: ClassVar[bool] = False
    shortcut: ClassVar[str] = PROJECTION
    stage_widths: ClassVar[tuple] = (64, 128, 256, 512)
    min_size = 32
    default_size = 224

    def __init_subclass__(cls, depth: int | None = None, shortcut: str | None = None, **kwargs):
        """A variant gives its depth, and `shortcut` for a plain network, on its class line (the table at the end):
        `class ResNet50(ResNet, depth=50)` sets the blocks per stage and whether they are bottlenecks."""
        super().__init_subclass__(**kwargs)
        if depth is not None:
            cls.default_block_counts, cls.bottleneck = cls.blocks_of_depth(depth)
        if shortcut is not None:
            cls.shortcut = shortcut

    @staticmethod
    def blocks_of_depth(depth: int) -> tuple[tuple, bool]:
        """Table 1: the blocks per stage of the `depth`-layer network, and whether they are bottlenecks."""
        return IMAGENET_DEPTHS[depth]

    def body(self, x, train: bool, endpoints: dict):
        x = self.stem(x, train, endpoints)
        counts = self.block_counts or self.default_block_counts
        if len(counts) != len(self.stage_widths):
            raise ValueError(f"block_counts={counts} needs one count per stage ({len(self.stage_widths)}).")
        for stage, (count, width) in enumerate(zip(counts, self.stage_widths)):
            for index in range(count):
                stride = 2 if stage and not index else 1
                x = self.residual_block(
                    x, train, endpoints, width, stride, first=not (stage or index), name=f"conv{stage + 2}_{index + 1}"
                )
        return x

    def stem(self, x, train: bool, endpoints: dict):
        x = self.block(x, train, endpoints, ConvBN, self.opts, 64, 7, 2, 3, name="conv1")
        x = endpoints["pool1"] = max_pool(x, 3, 2, 1)
        return x

    def residual_block(self, x, train: bool, endpoints: dict, width: int, stride: int, first: bool, name: str):
        """Applies one block; `first` marks the network's first block (it follows the stem)."""
        if self.bottleneck:
            return self.block(
                x, train, endpoints, Bottleneck, self.opts, width, stride, self.shortcut, self.stride_on_3x3, name=name
            )
        return self.block(x, train, endpoints, BasicBlock, self.opts, width, stride, self.shortcut, name=name)


class PreActResNet(ResNet):
    """He 2016: ResNet with full pre-activation blocks (`PreActBlock`) and a final BN → ReLU before pooling.

    The stem is ResNet's (conv-BN-ReLU, max pool), as in the authors' ImageNet code.
    """

    def body(self, x, train: bool, endpoints: dict):
        x = super().body(x, train, endpoints)
        x = endpoints["final_bn_relu"] = PreActivation(self.opts, name="final_bn_relu")(x, train)
        return x

    def residual_block(self, x, train: bool, endpoints: dict, width: int, stride: int, first: bool, name: str):
        kernels = (1, 3, 1) if self.bottleneck else (3, 3)
        return self.block(
            x,
            train,
            endpoints,
            PreActBlock,
            self.opts,
            width,
            kernels,
            stride,
            self.stride_on_3x3,
            not first,
            name=name,
        )


class CifarResNet(ResNet):
    """§4.2: 3×3 conv 16 → three stages of n basic blocks on 32×32, 16×16 and 8×8 maps (16, 32, 64 filters) →
    global average pool → Logits: 6n + 2 weight layers. Shortcuts are option A (zero padding), so the parameters
    are the convs, BatchNorm and the classifier only.

    Made for CIFAR-10: create with `num_classes=10` (the registry's default stays 1000). 32×32 input; any input of
    at least 4×4 (the total stride) works.
    """

    shortcut = ZERO_PADDING
    stage_widths = (16, 32, 64)
    min_size = 4
    default_size = 32

    @staticmethod
    def blocks_of_depth(depth: int) -> tuple[tuple, bool]:
        """§4.2: 6n + 2 weight layers, n basic blocks per stage."""
        n = (depth - 2) // 6
        return (n, n, n), False

    def stem(self, x, train: bool, endpoints: dict):
        return self.block(x, train, endpoints, ConvBN, self.opts, 16, 3, 1, 1, name="conv1")


# Table 1 (ImageNet): blocks per stage, and whether they are bottlenecks.
IMAGENET_DEPTHS = {
    18: ((2, 2, 2, 2), False),
    34: ((3, 4, 6, 3), False),
    50: ((3, 4, 6, 3), True),
    101: ((3, 4, 23, 3), True),
    152: ((3, 8, 36, 3), True),
}

# The variants, one row each: the base and depth on the class line, like flax's
# `ResNet50 = partial(ResNet, stage_sizes=[3, 4, 6, 3], ...)`; classes, so that the registry reads their options.


class ResNet18(ResNet, depth=18):
    """ResNet-18 (Table 1: 2, 2, 2, 2 basic blocks)."""


class ResNet34(ResNet, depth=34):
    """ResNet-34 (Table 1: 3, 4, 6, 3 basic blocks)."""


class ResNet50(ResNet, depth=50):
    """ResNet-50 (Table 1: 3, 4, 6, 3 bottleneck blocks)."""


class ResNet101(ResNet, depth=101):
    """ResNet-101 (Table 1: 3, 4, 23, 3 bottleneck blocks)."""


class ResNet152(ResNet, depth=152):
    """ResNet-152 (Table 1: 3, 8, 36, 3 bottleneck blocks)."""


class PreActResNet18(PreActResNet, depth=18):
    """Pre-activation ResNet-18 (He 2016)."""


class PreActResNet34(PreActResNet, depth=34):
    """Pre-activation ResNet-34 (He 2016)."""


class PreActResNet50(PreActResNet, depth=50):
    """Pre-activation ResNet-50 (He 2016)."""


class PreActResNet101(PreActResNet, depth=101):
    """Pre-activation ResNet-101 (He 2016)."""


class PreActResNet152(PreActResNet, depth=152):
    """Pre-activation ResNet-152 (He 2016)."""


class Plain18(ResNet18, shortcut=NO_SHORTCUT):
    """Plain-18: ResNet-18 without shortcuts (§4.1)."""


class Plain34(ResNet34, shortcut=NO_SHORTCUT):
    """Plain-34: ResNet-34 without shortcuts (§4.1)."""


class CifarResNet20(CifarResNet, depth=20):
    """CIFAR-10 ResNet-20 (§4.2, n=3)."""


class CifarResNet32(CifarResNet, depth=32):
    """CIFAR-10 ResNet-32 (§4.2, n=5)."""


class CifarResNet44(CifarResNet, depth=44):
    """CIFAR-10 ResNet-44 (§4.2, n=7)."""


class CifarResNet56(CifarResNet, depth=56):
    """CIFAR-10 ResNet-56 (§4.2, n=9)."""


class CifarResNet110(CifarResNet, depth=110):
    """CIFAR-10 ResNet-110 (§4.2, n=18)."""


class CifarPlain20(CifarResNet20, shortcut=NO_SHORTCUT):
    """CIFAR-10 plain network of depth 20 (§4.2): ResNet-20 without shortcuts."""


class CifarPlain56(CifarResNet56, shortcut=NO_SHORTCUT):
    """CIFAR-10 plain network of depth 56 (§4.2): ResNet-56 without shortcuts."""


VARIANTS = {
    "resnet18": ResNet18,
    "resnet34": ResNet34,
    "resnet50": ResNet50,
    "resnet101": ResNet101,
    "resnet152": ResNet152,
    "preact_resnet18": PreActResNet18,
    "preact_resnet34": PreActResNet34,
    "preact_resnet50": PreActResNet50,
    "preact_resnet101": PreActResNet101,
    "preact_resnet152": PreActResNet152,
    "plain18": Plain18,
    "plain34": Plain34,
    "resnet20": CifarResNet20,
    "resnet32": CifarResNet32,
    "resnet44": CifarResNet44,
    "resnet56": CifarResNet56,
    "resnet110": CifarResNet110,
    "plain20": CifarPlain20,
    "plain56": CifarPlain56,
}
