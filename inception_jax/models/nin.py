"""Network in Network (Lin, Chen & Yan 2013): mlpconv layers (§3.1, Figure 2) and global average pooling in place
of fully connected layers (§3.2); GoogLeNet's 1×1 reductions and average-pooled head come from here.

The paper reports CIFAR-10/100, SVHN and MNIST; `nin` is the ImageNet network the authors released with it
(Caffe Model Zoo "NIN-ImageNet"): four mlpconv layers, AlexNet-like first three (96 11×11/4, 256 5×5, 384 3×3,
each followed by two 1×1 layers and a 3×3/2 max pool with Caffe's round-up), dropout 0.5, and a fourth mlpconv
of 1024 3×3 → 1024 1×1 → one map per class, averaged globally into the logits. 7,595,176 parameters at 1000
classes (derived here). 224×224 input (6×6 class maps); any input of at least 39×39 works.
"""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp

from inception_jax.models.classic import ClassicNetwork, ConvReLU, max_pool
from inception_jax.models.layers import NetOptions, conv2d, conv_init


class MlpConv(nn.Module):
    """Figure 2 (§3.1): a k×k conv, then 1×1 convs — a small MLP slid over the input — all with ReLU.

    `widths` = (k×k conv, then each 1×1 conv).
    """

    opts: NetOptions
    widths: tuple
    kernel: int
    stride: int = 1
    padding: int = 0

    @nn.compact
    def __call__(self, x, train: bool = False):
        first, *mlp = self.widths
        x = ConvReLU(self.opts, first, self.kernel, self.stride, self.padding, name="conv")(x, train)
        for index, width in enumerate(mlp, start=1):
            x = ConvReLU(self.opts, width, 1, name=f"mlp_{index}")(x, train)
        return x


class NetworkInNetwork(ClassicNetwork):
    """The released ImageNet NIN: mlpconv1–3 each with a max pool, dropout, mlpconv4, class maps, global pool.

    The last layer of mlpconv4 is the classifier (`Logits`): a 1×1 conv with ReLU (as released) to one map per
    class (§3.2), named `ClassMaps` among the endpoints; `PreLogits` averages the 1024 maps before it, which is
    what `num_classes=0` returns. `dropout_rate` applies after the third pool.
    """

    dropout_rate: float = 0.5

    min_size = 39
    default_size = 224

    def body(self, x, train: bool, endpoints: dict):
        o = self.opts
        for index, (widths, kernel, stride, padding) in enumerate(
            [((96, 96, 96), 11, 4, 0), ((256, 256, 256), 5, 1, 2), ((384, 384, 384), 3, 1, 1)], start=1
        ):
            x = self.block(x, train, endpoints, MlpConv, o, widths, kernel, stride, padding, name=f"mlpconv{index}")
            x = endpoints[f"pool{index}"] = max_pool(x, 3, 2, ceil_mode=True)
        x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
        return self.block(x, train, endpoints, MlpConv, o, (1024, 1024), 3, 1, 1, name="mlpconv4")

    def head(self, x, train: bool, endpoints: dict):
        features = endpoints["PreLogits"] = jnp.mean(x, axis=(1, 2))
        if not self.num_classes:
            return features
        class_maps = conv2d(
            self.num_classes,
            (1, 1),
            kernel_init=conv_init,
            dtype=self.dtype,
            param_dtype=self.param_dtype,
            name="Logits",
        )(x)
        endpoints["ClassMaps"] = self.opts.act(class_maps)
        x = endpoints["Logits"] = jnp.mean(endpoints["ClassMaps"], axis=(1, 2))
        return x


VARIANTS = {"nin": NetworkInNetwork}
