"""Evaluates training runs or converted weights at 1, 12 or 144 crops, alone or as an ensemble.

    python -m inception_jax.evaluate --workdir=runs/default --crops=1,12,144 [--ema|--noema] [--step=N]
    python -m inception_jax.evaluate --weights=DIR [--weights=DIR2 --ensemble] --crops=144 \
        --config=inception_jax:inception_v4 --config.input.data_dir=$TFDS_DIR [--json=results.json]

Prints top-1/top-5 errors as the paper's tables do (Network | Crops | Top-1 Error | Top-5 Error). A workdir gives
its raw and EMA networks (like the trainer's evaluation) unless --ema/--noema picks one. The data settings come
from the first run's stored config, or from --config (with --config.FIELD=VALUE overrides), whose `input` is used;
to change a stored run's input (a moved data_dir, a smaller eval_batch_size), pass the experiment config that
trained it with overrides.

Each network's images are prepared as its saved spec says (`spec.json`: image size, crop, resize, mean/std), so
converted torchvision weights get ImageNet normalisation and timm's Inception-ResNet-v2 its 0.897 bicubic crop.
--image_size, --crop_fraction, --crop_mode, --interpolation, --mean and --std override that for every network,
as do the config's `input.eval_crop_fraction`, `eval_crop_mode`, `eval_interpolation`, `mean` and `std` when set.

1 crop is the trainer's evaluation exactly; 12 and 144 are defined in inception_jax/evaluation/crops.py. Progress
(images done / total, images/s) is logged every 10 s. The logic lives in `inception_jax.evaluation.evaluator`,
importable from tests and notebooks.
"""

import sys

from absl import app, flags
from ml_collections import config_flags

from inception_jax import cli
from inception_jax.train import mesh

config_flags.DEFINE_config_file(
    "config",
    None,
    "Experiment config whose `input` says what to evaluate on (default: the first workdir's stored config).",
    lock_config=True,
)
flags.DEFINE_multi_string("workdir", [], "Training run (python -m inception_jax.main --workdir); repeatable.")
flags.DEFINE_multi_string("weights", [], "Converted weights (python -m inception_jax.convert --output); repeatable.")
flags.DEFINE_integer("step", None, "Checkpoint step of the workdirs (default: the latest).")
flags.DEFINE_bool("ema", None, "--ema: only the EMA weights; --noema: only the raw ones; default: both.")
flags.DEFINE_list("crops", ["1"], "Crop counts to evaluate, from 1, 12 and 144 (e.g. 1,12,144).")
flags.DEFINE_bool("ensemble", False, "Also average the softmax of all networks (one ensemble each of raw and EMA).")
flags.DEFINE_integer("max_examples", None, "Evaluate only the first N images of the split (quick checks).")
flags.DEFINE_string("json", None, "Also write the results to this JSON file.")
cli.define_input_spec_flags()
mesh.define_distributed_flags()
FLAGS = flags.FLAGS


def main(argv):
    del argv
    if not FLAGS.workdir and not FLAGS.weights:
        raise app.UsageError("Nothing to evaluate: pass --workdir=RUN and/or --weights=DIR (each repeatable).")
    try:
        crops = [int(count) for count in FLAGS.crops]
    except ValueError:
        raise app.UsageError(f"--crops={','.join(FLAGS.crops)}: give crop counts such as 1,12,144.") from None
    import jax  # noqa: PLC0415 (after flag parsing: keeps `--help` fast)

    from inception_jax import artifacts  # noqa: PLC0415
    from inception_jax.evaluation import evaluator, report  # noqa: PLC0415

    mesh.initialize_from_flags(FLAGS)
    overrides = artifacts.input_overrides(FLAGS.config.input) if FLAGS.config is not None else {}
    overrides.update(cli.input_spec_overrides())
    try:
        input_config = evaluator.evaluation_input(
            FLAGS.workdir, FLAGS.step, FLAGS.config.input if FLAGS.config is not None else None
        )
        results = evaluator.evaluate(
            FLAGS.workdir,
            FLAGS.weights,
            crops,
            ema=FLAGS.ema,
            ensemble=FLAGS.ensemble,
            step=FLAGS.step,
            input_config=input_config,
            max_examples=FLAGS.max_examples,
            input_overrides=overrides,
        )
    except (ValueError, FileNotFoundError) as error:
        sys.exit(f"evaluate: {error}")
    if jax.process_index() == 0:
        print(report.input_summary(input_config, results))
        print(report.markdown_table(results))
        if FLAGS.json:
            report.write_json(FLAGS.json, results, input_config)


if __name__ == "__main__":
    cli.run(main)
