"""Trains and evaluates one experiment config; rerunning the same command resumes it.

    python -m inception_jax.main --config=inception_jax:NAME[:ARG] --workdir=DIR [--config.FIELD=VALUE ...]

    python -m inception_jax.main --workdir=runs/default           # the embedded default, offline
    python -m inception_jax.main --config=inception_jax:inception_v4 --workdir=runs/inception_v4 \
        --config.input.data_dir=$TFDS_DIR --config.input.batch_size=512
    python -m inception_jax.main --config=experiments/residual_scaling/config.py:scale=0.1 --workdir=runs/s01
    python -m inception_jax.main --config=inception_jax:paper --config.input.batch_size=1024 --dry_run \
        --dry_run_devices=64                                      # the plan on 64 devices; nothing trains

Without --config it trains the embedded default (reduced Inception-ResNet-v2 on scikit-learn's digits), offline.
Packaged configs (inception_jax/configs/) are named `inception_jax:NAME[:ARG]`; other config files by path.
The whole config is checked before anything compiles; a rerun whose config changes the run is refused unless
--allow_config_change, and a second run on a workdir in use is refused. On SIGTERM (preemption) it saves the
current step and exits with code 75; the same command resumes. A non-finite loss stops it with code 65, the last
good checkpoint kept. On a machine without an accelerator the tuned XLA:CPU flags are added unless --stock_xla.
The logic lives in `inception_jax.train.trainer`, importable from tests and notebooks.
"""

import logging
import sys

from absl import flags
from ml_collections import config_flags

from inception_jax import cli, configs
from inception_jax.train import mesh, preemption

config_flags.DEFINE_config_file(
    "config",
    configs.config_path("default"),
    "Experiment config: inception_jax:NAME[:ARG] or a get_config(arg) file's path.",
    lock_config=True,
)
flags.DEFINE_string("workdir", "runs/default", "Directory for checkpoints, metrics.jsonl and TensorBoard events.")
flags.DEFINE_bool("dry_run", False, "Print the run's plan (sizes, steps, schedule, batch, memory, FLOPs) and stop.")
flags.DEFINE_integer(
    "dry_run_devices",
    0,
    "With --dry_run: plan for this many devices, simulated on the CPU (0: this machine's).",
)
flags.DEFINE_bool(
    "allow_config_change",
    False,
    "Resume even though the config differs from the checkpoint's in fields that change the run (batch, seed, "
    "network, data, recipe); without it such a rerun is refused, naming each field.",
)
mesh.define_distributed_flags()
FLAGS = flags.FLAGS


def main(argv):
    del argv
    if FLAGS.dry_run:
        from inception_jax.train import plan  # noqa: PLC0415 (after flag parsing: keeps `--help` fast)

        if FLAGS.dry_run_devices:
            plan.use_simulated_cpu_devices(FLAGS.dry_run_devices)
        else:
            mesh.initialize_from_flags(FLAGS)
        print(plan.make_plan(FLAGS.config).summary())
        return
    from inception_jax.train import trainer  # noqa: PLC0415 (after flag parsing: keeps `--help` fast)

    mesh.initialize_from_flags(FLAGS)
    try:
        metrics = trainer.train_and_evaluate(FLAGS.config, FLAGS.workdir, allow_config_change=FLAGS.allow_config_change)
    except preemption.Preempted as stopped:
        logging.warning("%s", stopped)
        sys.exit(preemption.EXIT_CODE)
    except trainer.Diverged as diverged:
        logging.error("%s", diverged)
        sys.exit(trainer.DIVERGED_EXIT_CODE)
    logging.info("Final evaluation: %s", "  ".join(f"{k} {v:.4f}" for k, v in sorted(metrics.items())))


if __name__ == "__main__":
    cli.run(main)
