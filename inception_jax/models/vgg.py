"""VGG (Simonyan & Zisserman 2014, "Very Deep Convolutional Networks"), configurations A–E of Table 1.

Five stages of 3×3 conv layers (stride 1, padded by 1) with 64, 128, 256, 512 and 512 filters, each stage ended by
a 2×2/2 max pool, then AlexNet's classifier (`FullyConnectedHeadNetwork`; 7×7×512 at 224 px). Configuration C
puts a 1×1 conv last in stages 3–5. Layer names are the released Caffe models' (`conv3_2`, `pool3`, `fc6`).
"""

from __future__ import annotations

from typing import ClassVar

from inception_jax.models.classic import ALEXNET_LRN, ConvReLU, FullyConnectedHeadNetwork, max_pool

STAGE_WIDTHS = (64, 128, 256, 512, 512)

# Table 1, column by column: each stage's conv kernel sizes.
CONFIGURATIONS = {
    "A": ((3,), (3,), (3, 3), (3, 3), (3, 3)),
    "B": ((3, 3), (3, 3), (3, 3), (3, 3), (3, 3)),
    "C": ((3, 3), (3, 3), (3, 3, 1), (3, 3, 1), (3, 3, 1)),
    "D": ((3, 3), (3, 3), (3, 3, 3), (3, 3, 3), (3, 3, 3)),
    "E": ((3, 3), (3, 3), (3, 3, 3, 3), (3, 3, 3, 3), (3, 3, 3, 3)),
}


class VGG(FullyConnectedHeadNetwork):
    """Table 1: a configuration's conv stages, max pools, fc6 4096, fc7 4096 (dropout 0.5 after both), Logits.

    `lrn` is configuration A-LRN: AlexNet's LRN after the first conv layer (§2.1; §4.1 found it did not help).
    Any input of at least 32×32 (the total stride) works; the classifier sees a 7×7 grid (`adaptive_avg_pool`).
    """

    configuration: ClassVar[str]
    lrn: ClassVar[bool] = False

    min_size = 32
    default_size = 224
    grid = 7

    def body(self, x, train: bool, endpoints: dict):
        for stage, (width, kernels) in enumerate(zip(STAGE_WIDTHS, CONFIGURATIONS[self.configuration]), start=1):
            for index, kernel in enumerate(kernels, start=1):
                x = self.block(
                    x, train, endpoints, ConvReLU, self.opts, width, kernel, 1, kernel // 2, name=f"conv{stage}_{index}"
                )
                if self.lrn and (stage, index) == (1, 1):
                    x = endpoints["norm1"] = ALEXNET_LRN(x)
            x = endpoints[f"pool{stage}"] = max_pool(x, 2, 2)
        return x


class VGG11(VGG):
    """VGG-11, Table 1 configuration A."""

    configuration = "A"


class VGG11LRN(VGG):
    """VGG-11 with LRN, Table 1 configuration A-LRN."""

    configuration, lrn = "A", True


class VGG13(VGG):
    """VGG-13, Table 1 configuration B."""

    configuration = "B"


class VGG16C(VGG):
    """VGG-16 with 1×1 convs, Table 1 configuration C."""

    configuration = "C"


class VGG16(VGG):
    """VGG-16, Table 1 configuration D."""

    configuration = "D"


class VGG19(VGG):
    """VGG-19, Table 1 configuration E."""

    configuration = "E"


VARIANTS = {"vgg11": VGG11, "vgg11_lrn": VGG11LRN, "vgg13": VGG13, "vgg16_c": VGG16C, "vgg16": VGG16, "vgg19": VGG19}
