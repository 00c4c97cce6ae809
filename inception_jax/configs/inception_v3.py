"""Inception-v3 as released (slim, timm, Keras; Mixed_5b–7c, aux head on Mixed_6e) on ImageNet.

Trained with the paper's recipe (paper.py).

    python -m inception_jax.main --config=inception_jax:inception_v3 --workdir=runs/inception_v3 \
        --config.input.data_dir=$TFDS_DIR --config.input.manual_dir=$IMAGENET_TARS
"""

from inception_jax.configs import paper


def get_config(arg=None):
    del arg
    config = paper.get_config()
    config.model_name = "inception_v3"
    return config
