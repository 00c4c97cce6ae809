"""Trains and evaluates one experiment config; rerunning the same command resumes it.

    python -m inception_jax.main --config=experiments/configs/NAME.py[:ARG] --workdir=DIR [--config.FIELD=VALUE ...]

Without --config it trains the embedded default (reduced Inception-ResNet-v2 on scikit-learn's digits), offline.
The logic lives in `inception_jax.train.trainer`, importable from tests and notebooks.
"""
import logging
import os

from absl import app, flags
from ml_collections import config_flags

from inception_jax.train import mesh

# The embedded default lives with the other configs, in the repository.
_DEFAULT_CONFIG = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "experiments",
                               "configs", "default.py")

config_flags.DEFINE_config_file("config", _DEFAULT_CONFIG, "Experiment config file (a get_config(arg) module).",
                                lock_config=True)
flags.DEFINE_string("workdir", "runs/default", "Directory for checkpoints, metrics.jsonl and TensorBoard events.")
mesh.define_distributed_flags()
FLAGS = flags.FLAGS


def main(argv):
    del argv
    logging.getLogger().setLevel(logging.INFO)
    logging.getLogger("absl").setLevel(logging.WARNING)  # Orbax logs each save's internals through absl.
    from inception_jax.train import trainer  # after flag parsing: keeps `--help` fast

    mesh.initialize_from_flags(FLAGS)
    metrics = trainer.train_and_evaluate(FLAGS.config, FLAGS.workdir)
    logging.info("Final evaluation: %s", "  ".join(f"{k} {v:.4f}" for k, v in sorted(metrics.items())))


if __name__ == "__main__":
    app.run(main)
