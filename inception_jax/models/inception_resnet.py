"""Inception-ResNet-v1 and -v2 (Szegedy et al. 2016, Figures 7 and 10–19).

Three networks:
  * `inception_resnet_v1`: Figures 10–14 with Reduction-A (k, l, m, n) = (192, 192, 256, 384).
  * `inception_resnet_v2`: the network the authors released (TF-slim; also in timm and Keras): the Inception-v3
    stem plus Mixed_5b, 10×Block35, Mixed_6a, 20×Block17, Mixed_7a, 9×Block8 + a linear Block8, Conv2d_7b_1x1.
  * `inception_resnet_v2_paper`: Figure 15 taken literally: the Figure 3 stem, 5/10/5 blocks and
    Reduction-A (256, 256, 384, 384). The figures' expansion widths 1154 (Fig. 17) and 2048 (Fig. 19) cannot be
    added to their 1152- and 2144-wide inputs; every residual expansion here matches its input width instead.

Residual blocks (`ResidualBlock`) follow sections 3.2–3.3 through `ScaledResidual`: linear 1×1 expansion,
residual scaled before the add, BatchNorm only on the conv layers. `residual_scales` gives the (A, B, C) scales;
1.0 turns scaling off. `bn_on_summations=True` adds the BatchNorm after each sum that the paper left out to save memory.
"""

from __future__ import annotations

from typing import ClassVar

from inception_jax.models.inception_v3 import STEM_LAYERS as V3_STEM_LAYERS
from inception_jax.models.inception_v4 import MAX_POOL_3x3_S2, ReductionA, Stem
from inception_jax.models.layers import Conv, ConvBN, MixedBlock, Pool, ResidualBlock, Tower
from inception_jax.models.network import Network

# Figure 14 (Inception-ResNet-v1 stem): the v3 stem with its last pool replaced by a 3×3/2 conv to 256.
V1_STEM_LAYERS = V3_STEM_LAYERS[:-1] + (Conv(256, 3, 2, "VALID", name="Conv2d_4b_3x3"),)


class InceptionResNetA(ResidualBlock):
    """Figures 10 (v1) and 16 (v2): the 35×35 Inception-ResNet-A block (slim's Block35).

    `widths` = (1×1, 3×3-tower reduce, 3×3, double-3×3 reduce, first 3×3, second 3×3).
    """

    @property
    def branches(self):
        a, b1, b2, c1, c2, c3 = self.widths
        return (
            [Conv(a, 1)],
            [Conv(b1, 1), Conv(b2, 3)],
            [Conv(c1, 1), Conv(c2, 3), Conv(c3, 3)],
        )


class InceptionResNetB(ResidualBlock):
    """Figures 11 (v1) and 17 (v2): the 17×17 Inception-ResNet-B block (slim's Block17).

    `widths` = (1×1, 7×7-tower reduce, 1×7, 7×1).
    """

    @property
    def branches(self):
        a, b1, b2, b3 = self.widths
        return (
            [Conv(a, 1)],
            [Conv(b1, 1), Conv(b2, (1, 7)), Conv(b3, (7, 1))],
        )


class InceptionResNetC(ResidualBlock):
    """Figures 13 (v1) and 19 (v2): the 8×8 Inception-ResNet-C block (slim's Block8).

    `widths` = (1×1, 3×3-tower reduce, 1×3, 3×1). `activation=False` gives the release's final linear Block8.
    """

    @property
    def branches(self):
        a, b1, b2, b3 = self.widths
        return (
            [Conv(a, 1)],
            [Conv(b1, 1), Conv(b2, (1, 3)), Conv(b3, (3, 1))],
        )


class ResidualReductionB(MixedBlock):
    """Figures 12 (v1) and 18 (v2): the 17×17 → 8×8 reduction of the Inception-ResNet networks (Mixed_7a).

    `widths` = (3×3/2 after 1×1 256, 3×3/2 after 1×1 256, last 3×3/2 of the double tower, its middle 3×3).
    """

    widths: tuple

    @property
    def branches(self):
        a, b, c, c_mid = self.widths
        return (
            [Conv(256, 1), Conv(a, 3, 2, "VALID")],
            [Conv(256, 1), Conv(b, 3, 2, "VALID")],
            [Conv(256, 1), Conv(c_mid, 3), Conv(c, 3, 2, "VALID")],
            [MAX_POOL_3x3_S2],
        )


class Mixed5b(MixedBlock):
    """The released Inception-ResNet-v2's 35×35 Inception block after the v3 stem (192 → 320 channels)."""

    branches = (
        [Conv(96, 1)],
        [Conv(48, 1), Conv(64, 5)],
        [Conv(64, 1), Conv(96, 3), Conv(96, 3)],
        [Pool("avg"), Conv(64, 1)],
    )


class InceptionResNet(Network):
    """Skeleton shared by the three networks: stem, A blocks, Reduction-A, B blocks, Reduction-B, C blocks.

    Subclasses set the figure widths and block counts as class constants; `residual_scales` and `block_counts`
    can be overridden per instance (e.g. for the residual-scaling experiments).
    """

    residual_scales: tuple = (0.17, 0.10, 0.20)
    block_counts: tuple | None = None
    bn_on_summations: bool = False

    default_block_counts: ClassVar[tuple]
    widths_a: ClassVar[tuple]
    widths_b: ClassVar[tuple]
    widths_c: ClassVar[tuple]
    reduction_a: ClassVar[tuple]
    reduction_b: ClassVar[tuple]

    def stem(self, x, train: bool, endpoints: dict):
        raise NotImplementedError

    def head_layers(self, x, train: bool, endpoints: dict):
        """Layers between the last C block and the classifier head (none in the paper's networks)."""
        return x

    def body(self, x, train: bool, endpoints: dict):
        o, bn_sums = self.opts, self.bn_on_summations
        scale_a, scale_b, scale_c = self.residual_scales
        count_a, count_b, count_c = self.block_counts or self.default_block_counts
        x = self.stem(x, train, endpoints)
        for i in range(count_a):
            x = self.block(
                x, train, endpoints, InceptionResNetA, o, self.widths_a, scale_a, bn_sums, name=f"Block35_{i}"
            )
        x = self.block(x, train, endpoints, ReductionA, o, *self.reduction_a, name="Mixed_6a")
        for i in range(count_b):
            x = self.block(
                x, train, endpoints, InceptionResNetB, o, self.widths_b, scale_b, bn_sums, name=f"Block17_{i}"
            )
        endpoints["PreAuxLogits"] = x
        self.aux(x, train, endpoints)
        x = self.block(x, train, endpoints, ResidualReductionB, o, self.reduction_b, name="Mixed_7a")
        for i in range(count_c):
            x = self.block(
                x, train, endpoints, InceptionResNetC, o, self.widths_c, scale_c, bn_sums, name=f"Block8_{i}"
            )
        return self.head_layers(x, train, endpoints)


class InceptionResNetV1(InceptionResNet):
    """Inception-ResNet-v1: Figure 14 stem, 5×A (Fig. 10), Reduction-A, 10×B (Fig. 11), Reduction-B (Fig. 12),
    5×C (Fig. 13), pool, dropout, FC."""

    default_block_counts = (5, 10, 5)
    widths_a = (32, 32, 32, 32, 32, 32)
    widths_b = (128, 128, 128, 128)
    widths_c = (192, 192, 192, 192)
    reduction_a = (192, 192, 256, 384)
    reduction_b = (384, 256, 256, 256)

    def stem(self, x, train: bool, endpoints: dict):
        return Tower(self.opts, V1_STEM_LAYERS, name="Stem")(x, train, endpoints)


class InceptionResNetV2Paper(InceptionResNet):
    """Inception-ResNet-v2 per Figure 15: Figure 3 stem, 5×A (Fig. 16), Reduction-A, 10×B (Fig. 17),
    Reduction-B (Fig. 18), 5×C (Fig. 19), pool, dropout, FC."""

    default_block_counts = (5, 10, 5)
    widths_a = (32, 32, 32, 32, 48, 64)
    widths_b = (192, 128, 160, 192)
    widths_c = (192, 192, 224, 256)
    reduction_a = (256, 256, 384, 384)
    reduction_b = (384, 288, 320, 288)

    def stem(self, x, train: bool, endpoints: dict):
        return Stem(self.opts, name="Stem")(x, train, endpoints)


class InceptionResNetV2(InceptionResNetV2Paper):
    """Inception-ResNet-v2 as the authors released it (slim, timm and Keras carry this one).

    Differs from Figure 15: the v3 stem plus Mixed_5b, 10/20/9 blocks followed by one Block8 without activation
    (scale 1.0), and a 1×1 1536 conv (Conv2d_7b_1x1) before pooling.
    """

    default_block_counts = (10, 20, 9)

    def stem(self, x, train: bool, endpoints: dict):
        x = Tower(self.opts, V3_STEM_LAYERS, name="Stem")(x, train, endpoints)
        return self.block(x, train, endpoints, Mixed5b, self.opts, name="Mixed_5b")

    def head_layers(self, x, train: bool, endpoints: dict):
        x = self.block(
            x,
            train,
            endpoints,
            InceptionResNetC,
            self.opts,
            self.widths_c,
            1.0,
            self.bn_on_summations,
            activation=False,
            name="Block8",
        )
        return self.block(x, train, endpoints, ConvBN, self.opts, 1536, 1, name="Conv2d_7b_1x1")


VARIANTS = {
    "inception_resnet_v1": InceptionResNetV1,
    "inception_resnet_v2": InceptionResNetV2,
    "inception_resnet_v2_paper": InceptionResNetV2Paper,
}
