"""A folder of JPEGs at ImageNet's sizes, re-encoded from real photos, for timing the input pipeline on them.

    python -m inception_jax.benchmark.imagenet_like_jpegs --photos=a.jpg,b.png --output=/tmp/imagenet_like
    python -m inception_jax.benchmark --input_pipeline --batch=64 --pipeline_folder=/tmp/imagenet_like

It writes `--count` JPEGs (quality 90) into OUTPUT/train/class_<k>/, each a random window of one of `--photos`
resized to a size drawn like ImageNet's train images: mostly 500 × 375 or 500 × 333 landscapes and 375 × 500
portraits, some small images (long side 150–300) and a tail of large ones (long side 800–2000); about 470 × 380
on average. Decoding cost grows with the pixel count, so small PNGs (the embedded digits) overstate throughput.
"""

from __future__ import annotations

import os

import numpy as np
from absl import app, flags
from PIL import Image

from inception_jax import cli

flags.DEFINE_list("photos", None, "Image files to cut the JPEGs from (any size, any format PIL reads).")
flags.DEFINE_string("output", None, "The folder dataset to write (OUTPUT/train/class_<k>/<n>.jpg).")
flags.DEFINE_integer("count", 512, "How many JPEGs.")
flags.DEFINE_integer("classes", 4, "Into how many class folders.")
flags.DEFINE_integer("seed", 0, "Sizes, windows and photos drawn from this seed.")
FLAGS = flags.FLAGS

# (share, long side range, aspect ratios) of ImageNet-like sizes.
SIZE_MIXTURE = (
    (0.55, (500, 500), (4 / 3, 3 / 2)),  # landscapes: 500 × 375, 500 × 333
    (0.20, (500, 500), (3 / 4,)),  # portraits: 375 × 500
    (0.20, (150, 300), (4 / 3, 1.0, 3 / 4)),  # small
    (0.05, (800, 2000), (4 / 3, 3 / 2, 3 / 4)),  # large
)


def image_size(rng: np.random.Generator) -> tuple[int, int]:
    """A (width, height) drawn from `SIZE_MIXTURE`."""
    shares = np.array([share for share, _, _ in SIZE_MIXTURE])
    _, (low, high), aspects = SIZE_MIXTURE[rng.choice(len(SIZE_MIXTURE), p=shares / shares.sum())]
    long_side, aspect = int(rng.integers(low, high + 1)), float(rng.choice(aspects))
    return (long_side, round(long_side / aspect)) if aspect >= 1 else (round(long_side * aspect), long_side)


def write_jpegs(photos: list[str], output: str, count: int, classes: int, seed: int) -> tuple[float, float]:
    """Writes the JPEGs; returns their mean width and height."""
    sources = []
    for path in photos:
        with Image.open(path) as photo:
            sources.append(photo.convert("RGB"))
    rng = np.random.default_rng(seed)
    sizes = []
    for index in range(count):
        photo = sources[rng.integers(len(sources))]
        width, height = image_size(rng)
        scale = rng.uniform(0.5, 1.0)
        box = int(photo.width * scale), int(photo.height * scale)
        left, top = int(rng.integers(0, photo.width - box[0] + 1)), int(rng.integers(0, photo.height - box[1] + 1))
        window = photo.crop((left, top, left + box[0], top + box[1])).resize((width, height), Image.BILINEAR)
        folder = os.path.join(output, "train", f"class_{index % classes}")
        os.makedirs(folder, exist_ok=True)
        window.save(os.path.join(folder, f"{index:06d}.jpg"), "JPEG", quality=90)
        sizes.append((width, height))
    mean_width, mean_height = np.mean(sizes, axis=0)
    return float(mean_width), float(mean_height)


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments {argv[1:]}; every input is a --flag=value.")
    cli.require("photos", "output")
    width, height = write_jpegs(FLAGS.photos, FLAGS.output, FLAGS.count, FLAGS.classes, FLAGS.seed)
    print(f"{FLAGS.count} JPEGs in {FLAGS.output}/train, {width:.0f} × {height:.0f} on average")


if __name__ == "__main__":
    cli.run(main)
