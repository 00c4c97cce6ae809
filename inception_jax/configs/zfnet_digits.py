"""ZFNet (half width) on the embedded digits at 64×64 with its paper's SGD recipe: the network that
notebooks/deconvnet.ipynb visualizes. About 3 minutes on 2 CPU cores.

    python -m inception_jax.main --config=inception_jax:zfnet_digits --workdir=runs/zfnet_digits
"""

from inception_jax.configs import lineage
from inception_jax.configs.digits import digits_input


def get_config(arg=None):
    del arg
    config = lineage.get_config("model=zfnet")
    config.model.width_multiplier = 0.5
    config.input = digits_input(image_size=64)
    config.schedule.update(reference_batch_size=64, boundaries_epochs=(10.0,))
    config.total_epochs = 15.0
    config.log_every_steps = config.eval_every_steps = 22  # one digits epoch at batch 64
    config.checkpoint_every_steps = 110
    config.ema.decay = 0.99
    return config
