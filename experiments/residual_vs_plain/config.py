"""Residual vs plain Inception networks trained with one recipe (paper Figures 21–26).

Full scale, ImageNet (one run per network; compare with `python -m inception_jax.plot`):
    python -m inception_jax.main --config=experiments/residual_vs_plain/config.py:model=inception_v3 \\
        --workdir=runs/residual_vs_plain/inception_v3 --config.input.data_dir=$TFDS_DIR
    (likewise model=inception_resnet_v1, inception_v4, inception_resnet_v2)

Reduced scale, digits on a CPU (all four networks, several seeds, curves into this folder):
    python experiments/residual_vs_plain/run_reduced.py
"""

from inception_jax import configs
from inception_jax.configs import parse_arg
from inception_jax.configs.digits import digits_recipe

PAIRS = (("inception_v3", "inception_resnet_v1"), ("inception_v4", "inception_resnet_v2"))


def get_config(arg=None):
    args = parse_arg(arg, model="inception_v4", seed=0, reduced=False)
    if not args.reduced:
        config = configs.get_config(args.model)
    else:
        config = digits_recipe(args.model)
        config.total_epochs = 6.0  # the paper's claim is about speed of convergence: the early steps matter
    config.seed = args.seed
    return config
