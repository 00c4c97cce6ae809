"""Inception-v4 (Szegedy et al. 2016, Figures 3–9), as in the paper and the authors' TF-slim release.

Blocks are named as in slim (`Mixed_5b` …), so endpoints and converted checkpoints line up with slim and timm.
The stem (Figure 3) and Reduction-A (Figure 7) are shared with the Inception-ResNet networks.
"""

from __future__ import annotations

import flax.linen as nn

from inception_jax.models.layers import Conv, MixedBlock, NetOptions, Pool, Split, Tower
from inception_jax.models.network import Network

MAX_POOL_3x3_S2 = Pool("max", 3, 2, "VALID")


class StemMixed3a(MixedBlock):
    """Figure 3, the stem's first filter concatenation: 3×3/2 max pool ‖ 3×3/2 conv 96 (147×147 → 73×73)."""

    branches = ([MAX_POOL_3x3_S2], [Conv(96, 3, 2, "VALID")])


class StemMixed4a(MixedBlock):
    """Figure 3, the stem's second filter concatenation: two towers ending in 3×3 convs 96 (73×73 → 71×71)."""

    branches = (
        [Conv(64, 1), Conv(96, 3, 1, "VALID")],
        [Conv(64, 1), Conv(64, (1, 7)), Conv(64, (7, 1)), Conv(96, 3, 1, "VALID")],
    )


class StemMixed5a(MixedBlock):
    """Figure 3, the stem's last filter concatenation: 3×3/2 conv 192 ‖ 3×3/2 max pool (71×71 → 35×35)."""

    branches = ([Conv(192, 3, 2, "VALID")], [MAX_POOL_3x3_S2])


class Stem(nn.Module):
    """Figure 3: the stem of Inception-v4 and the paper's Inception-ResNet-v2 (299×299×3 → 35×35×384)."""

    opts: NetOptions

    @nn.compact
    def __call__(self, x, train: bool = False, endpoints: dict | None = None):
        endpoints = {} if endpoints is None else endpoints
        x = Tower(
            self.opts,
            (
                Conv(32, 3, 2, "VALID", name="Conv2d_1a_3x3"),
                Conv(32, 3, 1, "VALID", name="Conv2d_2a_3x3"),
                Conv(64, 3, name="Conv2d_2b_3x3"),
            ),
            name="Tower",
        )(x, train, endpoints)
        for name, block in (("Mixed_3a", StemMixed3a), ("Mixed_4a", StemMixed4a), ("Mixed_5a", StemMixed5a)):
            x = endpoints[name] = block(self.opts, name=name)(x, train)
        return x


class InceptionA(MixedBlock):
    """Figure 4: Inception-A, the 35×35 block."""

    branches = (
        [Conv(96, 1)],
        [Conv(64, 1), Conv(96, 3)],
        [Conv(64, 1), Conv(96, 3), Conv(96, 3)],
        [Pool("avg"), Conv(96, 1)],
    )


class InceptionB(MixedBlock):
    """Figure 5: Inception-B, the 17×17 block."""

    branches = (
        [Conv(384, 1)],
        [Conv(192, 1), Conv(224, (1, 7)), Conv(256, (7, 1))],
        [Conv(192, 1), Conv(192, (7, 1)), Conv(224, (1, 7)), Conv(224, (7, 1)), Conv(256, (1, 7))],
        [Pool("avg"), Conv(128, 1)],
    )


class InceptionC(MixedBlock):
    """Figure 6: Inception-C, the 8×8 block (the release orders the 448/512 convs 3×1 then 1×3)."""

    branches = (
        [Conv(256, 1)],
        [Conv(384, 1), Split((Conv(256, (1, 3)), Conv(256, (3, 1))))],
        [Conv(384, 1), Conv(448, (3, 1)), Conv(512, (1, 3)), Split((Conv(256, (1, 3)), Conv(256, (3, 1))))],
        [Pool("avg"), Conv(256, 1)],
    )


class ReductionA(MixedBlock):
    """Figure 7: 35×35 → 17×17 reduction with filter banks k, l, m, n (Table 1 of the paper).

    Inception-v3's Mixed_6a is the same block with (k, l, m, n) = (64, 96, 96, 384).
    """

    k: int
    l: int  # noqa: E741 (the paper's name)
    m: int
    n: int

    @property
    def branches(self):
        return (
            [Conv(self.n, 3, 2, "VALID")],
            [Conv(self.k, 1), Conv(self.l, 3), Conv(self.m, 3, 2, "VALID")],
            [MAX_POOL_3x3_S2],
        )


class ReductionB(MixedBlock):
    """Figure 8: the 17×17 → 8×8 reduction of Inception-v4."""

    branches = (
        [Conv(192, 1), Conv(192, 3, 2, "VALID")],
        [Conv(256, 1), Conv(256, (1, 7)), Conv(320, (7, 1)), Conv(320, 3, 2, "VALID")],
        [MAX_POOL_3x3_S2],
    )


class InceptionV4(Network):
    """Figure 9: stem, 4×Inception-A, Reduction-A, 7×Inception-B, Reduction-B, 3×Inception-C, pool, dropout, FC.

    The optional auxiliary head sits on Mixed_6h, the last 17×17 block, as in the authors' release.
    """

    def body(self, x, train: bool, endpoints: dict):
        o = self.opts
        x = Stem(o, name="Stem")(x, train, endpoints)
        for letter in "bcde":
            x = self.block(x, train, endpoints, InceptionA, o, name=f"Mixed_5{letter}")
        x = self.block(x, train, endpoints, ReductionA, o, 192, 224, 256, 384, name="Mixed_6a")
        for letter in "bcdefgh":
            x = self.block(x, train, endpoints, InceptionB, o, name=f"Mixed_6{letter}")
        self.aux(x, train, endpoints)
        x = self.block(x, train, endpoints, ReductionB, o, name="Mixed_7a")
        for letter in "bcd":
            x = self.block(x, train, endpoints, InceptionC, o, name=f"Mixed_7{letter}")
        return x


VARIANTS = {"inception_v4": InceptionV4}
