"""What the FID command reads: a folder of images, an `.npz` array of images, or `.npz` statistics (mu, sigma)."""

from __future__ import annotations

import os
import pathlib
from collections.abc import Iterator

import numpy as np
from PIL import Image

# pytorch-fid's list.
IMAGE_EXTENSIONS = (".bmp", ".jpg", ".jpeg", ".pgm", ".png", ".ppm", ".tif", ".tiff", ".webp")


def read_images(folder: str | os.PathLike) -> Iterator[np.ndarray]:
    """Yields the [H, W, 3] uint8 RGB pixels of each image file directly in `folder`, in sorted order."""
    paths = sorted(path for path in pathlib.Path(folder).iterdir() if path.suffix.lower() in IMAGE_EXTENSIONS)
    if not paths:
        raise FileNotFoundError(f"{folder} holds no image files ({', '.join(IMAGE_EXTENSIONS)}).")
    for path in paths:
        with Image.open(path) as image:
            yield np.asarray(image.convert("RGB"))


def read_input(path: str | os.PathLike):
    """`("statistics", (mu, sigma))` for an `.npz` with `mu` and `sigma`; `("images", images)` for a folder or an
    `.npz` holding one [N, H, W, 3] uint8 array (images: an iterable of arrays, read lazily from folders)."""
    path = os.fspath(path)
    if os.path.isdir(path):
        return "images", read_images(path)
    if not path.endswith(".npz") or not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: give a folder of images, or an .npz of images or of statistics (mu, sigma).")
    with np.load(path) as arrays:
        if {"mu", "sigma"} <= set(arrays.files):
            return "statistics", (arrays["mu"], arrays["sigma"])
        if len(arrays.files) != 1:
            raise ValueError(
                f"{path} holds {', '.join(arrays.files)}: an .npz input is either statistics (mu, sigma) or one "
                "array of [N, H, W, 3] uint8 images."
            )
        return "images", [arrays[arrays.files[0]]]
