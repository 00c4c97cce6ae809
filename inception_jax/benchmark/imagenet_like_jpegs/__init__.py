"""JPEGs at ImageNet's sizes, re-encoded from real photos, for timing the input pipeline on them.

`write_jpegs(photos, output, count, classes, seed)` writes `count` JPEGs (quality 90) into OUTPUT/train/class_<k>/,
each a random window of one of `photos` resized to a size drawn like ImageNet's train images (`image_size`):
mostly 500 × 375 or 500 × 333 landscapes and 375 × 500 portraits, some small images (long side 150–300) and a
tail of large ones (long side 800–2000); about 470 × 380 on average. The command is
`python -m inception_jax.benchmark.imagenet_like_jpegs` (its `--help`).
"""

from __future__ import annotations

import os

import numpy as np
from PIL import Image

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
