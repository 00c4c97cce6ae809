"""AlexNet (Krizhevsky, Sutskever & Hinton 2012) and ZFNet (Zeiler & Fergus 2013), the ImageNet winners of 2012
and 2013: five conv layers, three max pools and a fully connected classifier (`FullyConnectedHeadNetwork`).

Layer names are the Caffe reference models' (`conv1`, `norm1`, `pool1`, …, `fc6`, `fc7`).
"""

from __future__ import annotations

from inception_jax.models.classic import ALEXNET_LRN, ConvReLU, FullyConnectedHeadNetwork, max_pool

# torchvision's `alexnet` is the one-tower network of Krizhevsky's "One weird trick" (2014), not the paper's:
# 64/192/384/256/256 filters, conv1 padded by 2, no LRN and no groups. `create_model("alexnet", **this)`.
TORCHVISION_OPTIONS = {"widths": (64, 192, 384, 256, 256), "groups": 1, "lrn": False, "conv1_padding": 2}


class AlexNet(FullyConnectedHeadNetwork):
    """Figure 2 and §3: 227×227 input, conv1 11×11/4 96 → LRN → 3×3/2 max pool ("overlapping pooling", §3.4)
    → conv2 5×5 256 → LRN → pool → conv3 3×3 384 → conv4 3×3 384 → conv5 3×3 256 → pool → fc6, fc7, Logits.

    `groups=2` is the paper's two-GPU split (§3.2): conv2, conv4 and conv5 connect only to the kernel maps on
    their own GPU, conv3 and the fully connected layers to both; `groups=1` is the one-tower network.
    LRN (§3.3; k=2, n=5, α=1e-4, β=0.75) follows the ReLU of conv1 and conv2, before their pools.
    Parameters at 1000 classes: 60,965,224 with groups=2, 62,378,344 with groups=1.

    The pools and convs leave 6×6×256 at 227 px, the grid the classifier is built for; other sizes are pooled to
    6×6 first (see `adaptive_avg_pool`). Any input of at least 67×67 works.
    """

    widths: tuple = (96, 256, 384, 384, 256)
    groups: int = 2
    lrn: bool = True
    conv1_padding: int = 0

    min_size = 67
    default_size = 227
    grid = 6

    def body(self, x, train: bool, endpoints: dict):
        o, (c1, c2, c3, c4, c5), groups = self.opts, self.widths, self.groups
        x = self.block(x, train, endpoints, ConvReLU, o, c1, 11, 4, self.conv1_padding, name="conv1")
        x = self.normalize_and_pool(x, endpoints, "1")
        x = self.block(x, train, endpoints, ConvReLU, o, c2, 5, 1, 2, groups, name="conv2")
        x = self.normalize_and_pool(x, endpoints, "2")
        x = self.block(x, train, endpoints, ConvReLU, o, c3, 3, 1, 1, name="conv3")
        x = self.block(x, train, endpoints, ConvReLU, o, c4, 3, 1, 1, groups, name="conv4")
        x = self.block(x, train, endpoints, ConvReLU, o, c5, 3, 1, 1, groups, name="conv5")
        x = endpoints["pool5"] = max_pool(x, 3, 2)
        return x

    def normalize_and_pool(self, x, endpoints: dict, index: str):
        if self.lrn:
            x = endpoints[f"norm{index}"] = ALEXNET_LRN(x)
        x = endpoints[f"pool{index}"] = max_pool(x, 3, 2)
        return x


class ZFNet(FullyConnectedHeadNetwork):
    """Zeiler & Fergus 2013, Figure 3: AlexNet with conv1 7×7/2 instead of 11×11/4 (§4.1, against the aliasing
    their visualizations showed) and conv2 5×5/2, dense connections throughout (§3: no two-GPU split), trained
    on 224×224 crops.

    Feature maps as in Figure 3: 110 → 55 → 26 → 13 → 13 → 13 → 6. Padding is not given in the paper; these
    sizes need conv1 padded by 1, conv2 unpadded, 3×3 convs padded by 1 and Caffe's round-up pooling. Each of
    the first two layers is "max pooled … and contrast normalized across feature maps": pool, then AlexNet's LRN
    (whose constants the paper does not restate). Parameters at 1000 classes: 62,357,608 (derived here; the
    paper gives none). Any input of at least 47×47 works.
    """

    min_size = 47
    default_size = 224
    grid = 6

    def body(self, x, train: bool, endpoints: dict):
        o = self.opts
        x = self.block(x, train, endpoints, ConvReLU, o, 96, 7, 2, 1, name="conv1")
        x = self.pool_and_normalize(x, endpoints, "1")
        x = self.block(x, train, endpoints, ConvReLU, o, 256, 5, 2, 0, name="conv2")
        x = self.pool_and_normalize(x, endpoints, "2")
        x = self.block(x, train, endpoints, ConvReLU, o, 384, 3, 1, 1, name="conv3")
        x = self.block(x, train, endpoints, ConvReLU, o, 384, 3, 1, 1, name="conv4")
        x = self.block(x, train, endpoints, ConvReLU, o, 256, 3, 1, 1, name="conv5")
        x = endpoints["pool5"] = max_pool(x, 3, 2, ceil_mode=True)
        return x

    @staticmethod
    def pool_and_normalize(x, endpoints: dict, index: str):
        x = endpoints[f"pool{index}"] = max_pool(x, 3, 2, ceil_mode=True)
        x = endpoints[f"norm{index}"] = ALEXNET_LRN(x)
        return x


VARIANTS = {"alexnet": AlexNet, "zfnet": ZFNet}
