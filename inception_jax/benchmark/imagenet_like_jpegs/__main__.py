"""A folder of JPEGs at ImageNet's sizes, re-encoded from real photos, for timing the input pipeline on them.

    python -m inception_jax.benchmark.imagenet_like_jpegs --photos=a.jpg,b.png --output=/tmp/imagenet_like
    python -m inception_jax.benchmark --input_pipeline --batch=64 --pipeline_folder=/tmp/imagenet_like

It writes `--count` JPEGs (quality 90) into OUTPUT/train/class_<k>/, each a random window of one of `--photos`
resized to a size drawn like ImageNet's train images: mostly 500 × 375 or 500 × 333 landscapes and 375 × 500
portraits, some small images (long side 150–300) and a tail of large ones (long side 800–2000); about 470 × 380
on average. Decoding cost grows with the pixel count, so small PNGs (the embedded digits) overstate throughput.
"""

from __future__ import annotations

from absl import app, flags

from inception_jax import cli
from inception_jax.benchmark.imagenet_like_jpegs import write_jpegs

flags.DEFINE_list("photos", None, "Image files to cut the JPEGs from (any size, any format PIL reads).")
flags.DEFINE_string("output", None, "The folder dataset to write (OUTPUT/train/class_<k>/<n>.jpg).")
flags.DEFINE_integer("count", 512, "How many JPEGs.")
flags.DEFINE_integer("classes", 4, "Into how many class folders.")
flags.DEFINE_integer("seed", 0, "Sizes, windows and photos drawn from this seed.")
FLAGS = flags.FLAGS


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments {argv[1:]}; every input is a --flag=value.")
    cli.require("photos", "output")
    width, height = write_jpegs(FLAGS.photos, FLAGS.output, FLAGS.count, FLAGS.classes, FLAGS.seed)
    print(f"{FLAGS.count} JPEGs in {FLAGS.output}/train, {width:.0f} × {height:.0f} on average")


if __name__ == "__main__":
    cli.run(main)
