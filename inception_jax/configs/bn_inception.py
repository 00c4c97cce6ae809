"""BN-Inception (Ioffe & Szegedy 2015) on ImageNet with the paper's recipe, at 224 px and without an aux head.

    python -m inception_jax.main --config=inception_jax:bn_inception --workdir=runs/bn_inception \
        --config.input.data_dir=$TFDS_DIR --config.input.manual_dir=$IMAGENET_TARS
"""

from inception_jax.configs import paper


def get_config(arg=None):
    del arg
    config = paper.get_config()
    config.model_name = "bn_inception"
    config.model.aux_head = False  # the BN-Inception release has none
    config.input.image_size = 224
    return config
