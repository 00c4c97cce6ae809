"""Inception-v4 (Figures 3–9) on ImageNet with the paper's recipe (TFDS `imagenet2012`, files in `manual_dir`).

    python -m inception_jax.main --config=experiments/configs/inception_v4.py --workdir=runs/inception_v4 \
        --config.input.data_dir=$TFDS_DIR --config.input.manual_dir=$IMAGENET_TARS

Global batch 1024 (override with --config.input.batch_size); see inception_jax/train/recipe.py for every field.
"""
from inception_jax.train.recipe import paper_recipe


def get_config(arg=None):
    del arg
    config = paper_recipe("inception_v4")
    return config
