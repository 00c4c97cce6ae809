"""A tiny but complete training run on the embedded digits, for end-to-end trainer tests.

`TINY` overrides the embedded default config (inception_jax/configs/default.py); the same overrides serve
in-process runs (`tiny_config`) and command-line runs (`tiny_flags`), so both test one configuration.
`QUICK`, added to them, swaps the network for one that compiles in seconds, for tests of processes, not networks.
"""

import os

from inception_jax import configs
from inception_jax.configs.digits import QUICK_NETWORK

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

# For tests of processes and the trainer's bookkeeping rather than of networks (resume after SIGKILL or SIGTERM,
# two processes, an FSDP run's resume, the installed wheel, logging, divergence): ResNet-20 cut to one block per
# stage, at 32 px. A fresh process compiles it in about 5 s; TINY's Inception-ResNet-v2 took about 50 (its
# initialiser 30, its train step 20). Its own widths (16 to 64 channels) keep arrays of 256 elements and more,
# which the FSDP tests shard; it has batch norm (statistics in every checkpoint) but no auxiliary classifier.
QUICK = dict(QUICK_NETWORK)


def tiny_config(data_dir: str, **overrides):
    config = configs.get_config("default")
    config.update_from_flattened_dict({**TINY, "input.data_dir": data_dir, **overrides})
    return config


def tiny_flags(data_dir: str, workdir: str, **overrides) -> list[str]:
    values = {**TINY, "input.data_dir": data_dir, **overrides}
    return ["--config=inception_jax:default", f"--workdir={workdir}"] + [f"--config.{k}={v}" for k, v in values.items()]


def final_state(workdir) -> dict:
    """The saved train state of a run's newest checkpoint directory, as arrays."""
    from inception_jax.train.checkpoint import TrainCheckpoints  # noqa: PLC0415  (orbax, for the tests that need it)

    checkpoints = TrainCheckpoints(str(workdir))
    step = max(int(d) for d in os.listdir(checkpoints.directory) if d.isdigit())
    try:
        return checkpoints.read_saved(step)
    finally:
        checkpoints.close()
