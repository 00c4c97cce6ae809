"""GoogLeNet, the Inception-v1 network (Szegedy et al. 2014, "Going Deeper with Convolutions"; Table 1, Figure 3).

Block names follow TF-slim's `inception_v1`, like the rest of the package: the paper's inception (3a) is
`Mixed_3b`, (3b) `Mixed_3c`, (4a)–(4e) `Mixed_4b`–`Mixed_4f`, (5a)–(5b) `Mixed_5b`–`Mixed_5c`.

Training uses the two side classifiers (§5): their losses are added with weight `AUX_LOSS_WEIGHT` = 0.3 and they
are removed at inference. They are the endpoints `AuxLogits` (on 4a) and `AuxLogits2` (on 4d).
"""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp

from inception_jax.models import ops
from inception_jax.models.classic import ClassicNetwork, ConvReLU, LocalResponseNorm, adaptive_avg_pool, max_pool
from inception_jax.models.layers import ConvBN, NetOptions, linear_init, wants_aux

AUX_LOSS_WEIGHT = 0.3

# Figure 3's LocalRespNorm layers, with the settings of Caffe's reference GoogLeNet (the paper gives none):
# size 5, α 1e-4 (divided by the size in Caffe), β 0.75, k 1.
GOOGLENET_LRN = LocalResponseNorm(size=5, k=1.0, alpha=1e-4 / 5, beta=0.75)

# torchvision's `googlenet` departs from the paper: conv-BN-ReLU layers (γ, ε 1e-3) and no LRN, a 3×3 conv in the
# "5×5" branch, a 2×2 pool before 5a, and side classifiers that pool adaptively to 4×4.
# `create_model("googlenet", **this)` builds it.
TORCHVISION_OPTIONS = {
    "batch_norm": True,
    "bn_use_scale": True,
    "lrn": False,
    "tower_kernel": 3,
    "pool4_window": 2,
    "aux_adaptive_pool": True,
}

# The authors' TF-slim `inception_v1`, BN-GoogLeNet: BatchNorm after every conv (no γ, ε 1e-3), no LRN, a 3×3 conv
# in the "5×5" branch, a 2×2 pool before 5a, TF's SAME padding, no side classifiers, keep probability 0.8.
# 6,617,624 parameters at 1000 classes.
SLIM_OPTIONS = {
    "batch_norm": True,
    "bn_use_scale": False,
    "lrn": False,
    "tower_kernel": 3,
    "pool4_window": 2,
    "same_padding": True,
    "aux_head": False,
    "dropout_rate": 0.2,
}

# Table 1, per inception module: (#1×1, #3×3 reduce, #3×3, #5×5 reduce, #5×5, pool proj).
MODULE_WIDTHS = {
    "Mixed_3b": (64, 96, 128, 16, 32, 32),
    "Mixed_3c": (128, 128, 192, 32, 96, 64),
    "Mixed_4b": (192, 96, 208, 16, 48, 64),
    "Mixed_4c": (160, 112, 224, 24, 64, 64),
    "Mixed_4d": (128, 128, 256, 24, 64, 64),
    "Mixed_4e": (112, 144, 288, 32, 64, 64),
    "Mixed_4f": (256, 160, 320, 32, 128, 128),
    "Mixed_5b": (256, 160, 320, 32, 128, 128),
    "Mixed_5c": (384, 192, 384, 48, 128, 128),
}


def conv_layer(batch_norm: bool) -> type[nn.Module]:
    """The paper's conv layer (conv with bias → ReLU), or torchvision's conv-BN-ReLU."""
    return ConvBN if batch_norm else ConvReLU


class InceptionModule(nn.Module):
    """Figure 2(b), "Inception module with dimension reductions": 1×1 ‖ 1×1 → 3×3 ‖ 1×1 → 5×5 ‖
    3×3/1 max pool → 1×1, concatenated. `widths` is a row of Table 1; `tower_kernel` the "5×5" conv's size."""

    opts: NetOptions
    widths: tuple
    batch_norm: bool = False
    tower_kernel: int = 5

    @nn.compact
    def __call__(self, x, train: bool = False):
        o, conv, k = self.opts, conv_layer(self.batch_norm), self.tower_kernel
        ones, reduce_3x3, threes, reduce_tower, tower, pool_projection = self.widths
        branch_0 = conv(o, ones, 1, name="Branch_0_1x1")(x, train)
        branch_1 = conv(o, reduce_3x3, 1, name="Branch_1_reduce_1x1")(x, train)
        branch_1 = conv(o, threes, 3, 1, 1, name="Branch_1_3x3")(branch_1, train)
        branch_2 = conv(o, reduce_tower, 1, name="Branch_2_reduce_1x1")(x, train)
        branch_2 = conv(o, tower, k, 1, k // 2, name=f"Branch_2_{k}x{k}")(branch_2, train)
        branch_3 = conv(o, pool_projection, 1, name="Branch_3_pool_proj")(max_pool(x, 3, 1, 1), train)
        return jnp.concatenate([branch_0, branch_1, branch_2, branch_3], axis=-1)


class AuxiliaryClassifier(nn.Module):
    """§5's side classifier: 5×5/3 average pool (4×4 at 224 px) → 1×1 conv 128 → FC 1024 → ReLU → dropout 0.7
    → Logits. Other input sizes are pooled to the 4×4 grid the FC layer is built for; `adaptive_pool` pools
    straight to it, as torchvision does."""

    opts: NetOptions
    num_classes: int
    batch_norm: bool = False
    adaptive_pool: bool = False

    @nn.compact
    def __call__(self, x, train: bool = False):
        o = self.opts
        if not self.adaptive_pool:
            height, width = x.shape[1:3]
            x = nn.avg_pool(x, (min(5, height), min(5, width)), (3, 3), padding="VALID")
        x = adaptive_avg_pool(x, 4)
        x = conv_layer(self.batch_norm)(o, 128, 1, name="Conv2d_1x1")(x, train)
        x = nn.Dense(o.depth(1024), kernel_init=linear_init, dtype=o.dtype, param_dtype=o.param_dtype, name="Fc_1024")(
            x.reshape(x.shape[0], -1)
        )
        x = nn.Dropout(0.7, deterministic=not train)(o.act(x))
        return nn.Dense(
            self.num_classes, kernel_init=linear_init, dtype=o.dtype, param_dtype=o.param_dtype, name="Logits"
        )(x)


class GoogLeNet(ClassicNetwork):
    """Table 1 / Figure 3: conv 7×7/2 → max pool → LRN → conv 1×1 64 → conv 3×3 192 → LRN → max pool →
    inception 3a, 3b → max pool → 4a–4e → max pool → 5a, 5b → average pool → dropout 0.4 → linear.

    Max pools are 3×3/2 with Caffe's round-up (Figure 3 gives 112 → 56 → 28 → 14 → 7 at 224 px). With
    `aux_head` (on by default, as in the paper) the side classifiers run in training and whenever endpoints are
    requested. 6,998,552 parameters at 1000 classes without the side classifiers (Table 1's column adds up to
    about 6.8M), 13,378,280 with them (derived here).

    Options that give torchvision's variant (`TORCHVISION_OPTIONS`): `batch_norm` (conv-BN-ReLU), `lrn`,
    `tower_kernel` (3 for torchvision's 3×3 where the paper has 5×5), `pool4_window` (2 in torchvision) and
    `aux_adaptive_pool`. slim's (`SLIM_OPTIONS`) adds `same_padding`: TF's SAME padding for the 7×7/2 conv and
    the stride-2 max pools, which pads after rather than before where the total padding is odd (Caffe pads the
    conv 3 on each side, and rounds the pools' output up). Any input of at least 31×31 works (15×15 with
    torchvision's options).
    """

    dropout_rate: float = 0.4
    aux_head: bool = True
    batch_norm: bool = False
    lrn: bool = True
    tower_kernel: int = 5
    pool4_window: int = 3
    aux_adaptive_pool: bool = False
    same_padding: bool = False

    aux_names = ("AuxLogits", "AuxLogits2")  # on 4a and 4d
    min_size = 31
    default_size = 224

    def body(self, x, train: bool, endpoints: dict):
        o, conv = self.opts, conv_layer(self.batch_norm)
        x = self.block(x, train, endpoints, conv, o, 64, 7, 2, "SAME" if self.same_padding else 3, name="Conv2d_1a_7x7")
        x = endpoints["MaxPool_2a_3x3"] = self.reduce(x, 3)
        x = self.normalize(x, endpoints, "LocalRespNorm_2a")
        x = self.block(x, train, endpoints, conv, o, 64, 1, name="Conv2d_2b_1x1")
        x = self.block(x, train, endpoints, conv, o, 192, 3, 1, 1, name="Conv2d_2c_3x3")
        x = self.normalize(x, endpoints, "LocalRespNorm_2c")
        x = endpoints["MaxPool_3a_3x3"] = self.reduce(x, 3)
        x = self.inception(x, train, endpoints, "Mixed_3b", "Mixed_3c")
        x = endpoints["MaxPool_4a_3x3"] = self.reduce(x, 3)
        x = self.inception(x, train, endpoints, "Mixed_4b")
        self.aux(x, train, endpoints, "AuxLogits")
        x = self.inception(x, train, endpoints, "Mixed_4c", "Mixed_4d", "Mixed_4e")
        self.aux(x, train, endpoints, "AuxLogits2")
        x = self.inception(x, train, endpoints, "Mixed_4f")
        k = self.pool4_window
        x = endpoints[f"MaxPool_5a_{k}x{k}"] = self.reduce(x, k)
        return self.inception(x, train, endpoints, "Mixed_5b", "Mixed_5c")

    def reduce(self, x, window: int):
        """The stride-2 max pools: Caffe's rounded-up output, or TF's SAME padding."""
        if self.same_padding:
            return ops.max_pool(x, (window, window), (2, 2), padding="SAME")
        return max_pool(x, window, 2, ceil_mode=True)

    def inception(self, x, train: bool, endpoints: dict, *names: str):
        for name in names:
            x = self.block(
                x,
                train,
                endpoints,
                InceptionModule,
                self.opts,
                MODULE_WIDTHS[name],
                self.batch_norm,
                self.tower_kernel,
                name=name,
            )
        return x

    def normalize(self, x, endpoints: dict, name: str):
        if self.lrn:
            x = endpoints[name] = GOOGLENET_LRN(x)
        return x

    def aux(self, x, train: bool, endpoints: dict, name: str = "AuxLogits") -> None:
        """Records the side classifier `name` on `x` when `aux_head` is on and its output can be used."""
        if self.aux_head and self.num_classes and wants_aux(self, train):
            endpoints[name] = AuxiliaryClassifier(
                self.opts, self.num_classes, self.batch_norm, self.aux_adaptive_pool, name=name
            )(x, train)


VARIANTS = {"googlenet": GoogLeNet}
