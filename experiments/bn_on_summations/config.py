"""BatchNorm on the residual summations (paper section 3.2), which the authors left out to save GPU memory.

Full scale, ImageNet (with and without; add --config.model.remat=block to remove the memory reason):
    python -m inception_jax.main --config=experiments/bn_on_summations/config.py:bn=true \\
        --workdir=runs/bn_on_summations/bn --config.input.data_dir=$TFDS_DIR
    python -m inception_jax.main --config=experiments/bn_on_summations/config.py:bn=false \\
        --workdir=runs/bn_on_summations/no_bn --config.input.data_dir=$TFDS_DIR

Reduced scale: accuracy on digits, and the compiled train step's memory at full size (299 px):
    python experiments/bn_on_summations/run_reduced.py
"""

from inception_jax import configs
from inception_jax.configs import parse_arg
from inception_jax.configs.digits import digits_recipe


def get_config(arg=None):
    args = parse_arg(arg, bn=False, remat="none", seed=0, reduced=False)
    if not args.reduced:
        config = configs.get_config("inception_resnet_v2")
    else:
        config = digits_recipe("inception_resnet_v2", block_counts=(2, 4, 2))
        config.total_epochs = 6.0
    config.model.update(bn_on_summations=args.bn, remat=args.remat)
    config.seed = args.seed
    return config
