"""BN-Inception ("Inception-v2"; Ioffe & Szegedy 2015, Figure 5), the BN-Inception row of the paper's Table 2.

Widths follow the authors' TF-slim release (`inception_v2`), which resolves the BN paper's table: there 4c and
4d list pool projections of 128, which would make them 608 wide instead of the stated 576; the release uses 96.
Everything is SAME-padded, so any input of at least 32×32 (the total stride) works.
"""

from __future__ import annotations

import flax.linen as nn

from inception_jax.models.layers import Conv, ConvBN, MixedBlock, NetOptions, Pool, Tower, conv2d, conv_init
from inception_jax.models.network import Network


class BNInceptionModule(MixedBlock):
    """Figure 5 row "inception": the GoogLeNet module with its 5×5 replaced by two 3×3 convs.

    `widths` = (#1×1, #3×3 reduce, #3×3, double #3×3 reduce, double #3×3, pool projection).
    """

    widths: tuple
    pool: str = "avg"

    @property
    def branches(self):
        a, b1, b2, c1, c2, proj = self.widths
        return (
            [Conv(a, 1)],
            [Conv(b1, 1), Conv(b2, 3)],
            [Conv(c1, 1), Conv(c2, 3), Conv(c2, 3)],
            [Pool(self.pool), Conv(proj, 1)],
        )


class BNInceptionReduction(MixedBlock):
    """Figure 5 rows "inception (3c/4e), stride 2": no 1×1 branch, strided 3×3s, and max pool pass-through."""

    widths: tuple

    @property
    def branches(self):
        b1, b2, c1, c2 = self.widths
        return (
            [Conv(b1, 1), Conv(b2, 3, 2)],
            [Conv(c1, 1), Conv(c2, 3), Conv(c2, 3, 2)],
            [Pool("max", 3, 2)],
        )


class SeparableStemConv(nn.Module):
    """The release's Conv2d_1a_7x7, slim's `separable_conv2d`: depthwise 7×7/2 (multiplier 8), then pointwise
    1×1 with biases → ReLU. No BatchNorm: slim's arg scope attaches it to `conv2d` only."""

    opts: NetOptions
    features: int = 64

    @nn.compact
    def __call__(self, x, train: bool = False):
        o = self.opts
        multiplier = min(o.depth(self.features) // 3, 8)
        x = conv2d(
            x.shape[-1] * multiplier,
            (7, 7),
            (2, 2),
            padding="SAME",
            feature_group_count=x.shape[-1],
            use_bias=False,
            kernel_init=conv_init,
            dtype=o.dtype,
            param_dtype=o.param_dtype,
            name="depthwise",
        )(x)
        x = conv2d(
            o.depth(self.features),
            (1, 1),
            use_bias=True,
            kernel_init=conv_init,
            dtype=o.dtype,
            param_dtype=o.param_dtype,
            name="pointwise",
        )(x)
        return o.act(x)


class BNInception(Network):
    """BN-Inception: 7×7/2 conv, pools, 3×3 192, ten Inception modules (two of them reductions), pool, FC.

    `separable_stem=True` uses the release's depthwise-separable first conv (for its checkpoints); the paper's
    plain 7×7 conv is the default.
    """

    separable_stem: bool = False

    min_size = 32
    default_size = 224
    aux_names = ()  # neither the paper nor the authors' release has one

    def body(self, x, train: bool, endpoints: dict):
        o = self.opts
        if self.separable_stem:
            x = self.block(x, train, endpoints, SeparableStemConv, o, name="Conv2d_1a_7x7")
        else:
            x = self.block(x, train, endpoints, ConvBN, o, 64, 7, 2, name="Conv2d_1a_7x7")
        x = Tower(
            o,
            (
                Pool("max", 3, 2, name="MaxPool_2a_3x3"),
                Conv(64, 1, name="Conv2d_2b_1x1"),
                Conv(192, 3, name="Conv2d_2c_3x3"),
                Pool("max", 3, 2, name="MaxPool_3a_3x3"),
            ),
            name="Stem",
        )(x, train, endpoints)
        for name, widths, pool in (
            ("Mixed_3b", (64, 64, 64, 64, 96, 32), "avg"),
            ("Mixed_3c", (64, 64, 96, 64, 96, 64), "avg"),
            ("Mixed_4a", (128, 160, 64, 96), None),
            ("Mixed_4b", (224, 64, 96, 96, 128, 128), "avg"),
            ("Mixed_4c", (192, 96, 128, 96, 128, 128), "avg"),
            ("Mixed_4d", (160, 128, 160, 128, 160, 96), "avg"),
            ("Mixed_4e", (96, 128, 192, 160, 192, 96), "avg"),
            ("Mixed_5a", (128, 192, 192, 256), None),
            ("Mixed_5b", (352, 192, 320, 160, 224, 128), "avg"),
            ("Mixed_5c", (352, 192, 320, 192, 224, 128), "max"),
        ):
            if pool is None:
                x = self.block(x, train, endpoints, BNInceptionReduction, o, widths, name=name)
            else:
                x = self.block(x, train, endpoints, BNInceptionModule, o, widths, pool, name=name)
        return x


VARIANTS = {"bn_inception": BNInception}
