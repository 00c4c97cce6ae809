"""A tiny but complete training run on the embedded digits, for end-to-end trainer tests.

`TINY` overrides the embedded default config (inception_jax/configs/default.py); the same overrides serve
in-process runs (`tiny_config`) and command-line runs (`tiny_flags`), so both test one configuration.
"""

import os

from inception_jax import configs

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TINY = {
    "model.width_multiplier": 0.1,
    "model.min_depth": 4,
    "model.block_counts": (1, 1, 1),
    "input.batch_size": 16,
    "total_steps": 6,
    "total_epochs": 0.0,  # the default config counts epochs: exactly one of the two is set
    "log_every_steps": 2,
    "eval_every_steps": 6,
    "checkpoint_every_steps": 2,
    "schedule.reference_batch_size": 16,
}


def tiny_config(data_dir: str, **overrides):
    config = configs.get_config("default")
    config.update_from_flattened_dict({**TINY, "input.data_dir": data_dir, **overrides})
    return config


def tiny_flags(data_dir: str, workdir: str, **overrides) -> list[str]:
    values = {**TINY, "input.data_dir": data_dir, **overrides}
    return ["--config=inception_jax:default", f"--workdir={workdir}"] + [f"--config.{k}={v}" for k, v in values.items()]
