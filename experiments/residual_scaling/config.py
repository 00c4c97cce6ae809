"""Residual scaling (paper section 3.3): wide residual blocks unscaled (1.0) against scales 0.1–0.3.

The paper: with more than 1000 filters the unscaled residual variants "died" early in training (the last layer
before average pooling produced only zeros); scaling the residuals by 0.1–0.3 kept training stable. The trainer
logs that signal as `eval/died`, the fraction of exactly-zero activations before average pooling.

Full scale, ImageNet (Inception-ResNet-v2 as released: 1088- and 2080-filter residual streams):
    python -m inception_jax.main --config=experiments/residual_scaling/config.py:scale=1.0 \\
        --workdir=runs/residual_scaling/scale_1.0 --config.input.data_dir=$TFDS_DIR
    (likewise scale=0.3, 0.2, 0.1)

Reduced scale, digits on a CPU (width ×0.5, so the 8×8 residual stream is 1040 filters wide):
    python experiments/residual_scaling/run_reduced.py
"""

from inception_jax import configs
from inception_jax.configs import parse_arg
from inception_jax.configs.digits import digits_recipe


def get_config(arg=None):
    args = parse_arg(arg, scale=1.0, seed=0, reduced=False)
    if not args.reduced:
        config = configs.get_config("inception_resnet_v2")
    else:
        config = digits_recipe("inception_resnet_v2", width_multiplier=0.5, block_counts=(2, 4, 2))
        config.total_epochs = 6.0
    config.model.residual_scales = (args.scale,) * 3
    config.seed = args.seed
    return config
