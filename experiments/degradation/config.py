"""Degradation (He et al. 2015, §4.2 and Figure 6): plain-20/56 vs ResNet-20/56, trained with one recipe.

Full scale, CIFAR-10 with the paper's recipe (one run per network; then `python -m inception_jax.plot`):
    python -m inception_jax.main --config=experiments/degradation/config.py:model=plain56 \\
        --workdir=runs/degradation/plain56
    (likewise model=plain20, resnet20, resnet56)

Reduced scale, digits on a CPU (the four networks × seeds, curves into this folder):
    python experiments/degradation/run_reduced.py
"""

from inception_jax.configs import lineage, parse_arg
from inception_jax.configs.digits import digits_input

NETWORKS = ("plain20", "plain56", "resnet20", "resnet56")


def get_config(arg=None):
    args = parse_arg(arg, model="plain56", seed=0, reduced=False, epochs=30.0)
    config = lineage.get_config(f"model={args.model},seed={args.seed}")
    if args.reduced:
        # The CIFAR recipe (SGD 0.1 at batch 128, ÷10 at ½ and ¾ of training, pad-and-crop) on 8×8 digits shown
        # at 16 px, full width: a 56-layer step costs a quarter of what it would at 32 px, and 16 px holds
        # every pixel of the source.
        config.input = digits_input(image_size=16, crop_padding=2, eval_crop_fraction=1.0)
        config.total_epochs = args.epochs
        config.schedule.boundaries_epochs = (args.epochs / 2, args.epochs * 3 / 4)
        config.log_every_steps = config.eval_every_steps = 22  # one digits epoch at batch 64
        config.checkpoint_every_steps = 220
        config.ema.decay = 0.99
    return config
