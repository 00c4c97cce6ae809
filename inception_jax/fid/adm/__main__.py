"""ADM's evaluator: Inception Score, FID, sFID, precision and recall of a sample batch against a reference batch.

    python -m inception_jax.fid.adm VIRTUAL_imagenet256_labeled.npz samples_50000x256x256x3.npz
    python -m inception_jax.fid.adm --save_stats=reference_stats.npz reference_batch.npz   # ADM's four arrays

Both are ADM's `.npz` batches (images in `arr_0`; a reference batch may hold `mu`, `sigma`, `mu_s`, `sigma_s`).
It prints what guided-diffusion's `evaluations/evaluator.py` prints, computed by ADM's protocols
(`inception_jax.fid.adm`). --weights needs the 2015 graph's classifier (the default, pytorch-fid's file, has it).
"""

from __future__ import annotations

import numpy as np
from absl import app, flags

from inception_jax import cli
from inception_jax.fid import adm, extract

flags.DEFINE_string(
    "weights", extract.DEFAULT_WEIGHTS, "The 2015 graph with its classifier: a named weight, file or directory."
)
flags.DEFINE_integer("batch_size", 64, "Images per batch (rounded up to a multiple of the devices).")
flags.DEFINE_string("save_stats", None, "Write one batch's mu, sigma, mu_s, sigma_s to this .npz (ADM's layout).")
FLAGS = flags.FLAGS


def main(argv: list[str]) -> None:
    if FLAGS.save_stats:
        if len(argv) != 2:
            raise app.UsageError("--save_stats writes the statistics of one batch: give one .npz.")
        np.savez(FLAGS.save_stats, **adm.batch_statistics(argv[1], FLAGS.weights, FLAGS.batch_size))
        print(f"Wrote mu, sigma, mu_s, sigma_s of {argv[1]} to {FLAGS.save_stats}")
        return
    if len(argv) != 3:
        raise app.UsageError("Give the reference batch and the sample batch: two .npz files.")
    metrics = adm.evaluate(argv[1], argv[2], FLAGS.weights, FLAGS.batch_size)
    print("Computing evaluations...")
    for name, value in metrics.items():
        print(f"{name}: {value}")


if __name__ == "__main__":
    cli.run(main)
