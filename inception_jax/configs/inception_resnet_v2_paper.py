"""Inception-ResNet-v2 as paper Figure 15 draws it on ImageNet with the paper's recipe (paper.py).

    python -m inception_jax.main --config=inception_jax:inception_resnet_v2_paper \
        --workdir=runs/inception_resnet_v2_paper \
        --config.input.data_dir=$TFDS_DIR --config.input.manual_dir=$IMAGENET_TARS
"""

from inception_jax.configs import paper


def get_config(arg=None):
    del arg
    config = paper.get_config()
    config.model_name = "inception_resnet_v2_paper"
    return config
