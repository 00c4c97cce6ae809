"""Inception-v4 (paper Figures 3–9) on ImageNet with the paper's recipe, which is paper.py unchanged.

    python -m inception_jax.main --config=inception_jax:inception_v4 --workdir=runs/inception_v4 \
        --config.input.data_dir=$TFDS_DIR --config.input.manual_dir=$IMAGENET_TARS
"""

from inception_jax.configs import paper


def get_config(arg=None):
    del arg
    config = paper.get_config()
    config.model_name = "inception_v4"
    return config
