"""ZFNet (half width) on the embedded digits at 64×64 with its paper's SGD recipe: the network that
notebooks/deconvnet.ipynb visualizes. About 3 minutes on 2 CPU cores.

    python -m inception_jax.main --config=experiments/configs/zfnet_digits.py --workdir=runs/zfnet_digits
"""
import os

from inception_jax.train.recipe import digits_input
from inception_jax.train.sweep import load_config_file

lineage = load_config_file(os.path.join(os.path.dirname(os.path.abspath(__file__)), "lineage.py"))


def get_config(arg=None):
    del arg
    config = lineage.get_config("model=zfnet")
    config.model.width_multiplier = 0.5
    config.input = digits_input(image_size=64)
    config.schedule.update(reference_batch_size=64, boundaries_epochs=(10.0,))
    config.total_epochs = 15.0
    config.log_every_steps = config.eval_every_steps = 22  # one digits epoch at batch 64
    config.checkpoint_every_steps = 110
    config.optimizer.ema_decay = 0.99
    return config
