"""What the FID command reads: a folder of images, an `.npz` array of images, or `.npz` statistics (mu, sigma).

`.npz` images are streamed, rows at a time, from the archive's `.npy` member (compressed or not), never loaded
whole: ADM's reference batches hold 10,000 to 50,000 images.
"""

from __future__ import annotations

import logging
import math
import os
import pathlib
import zipfile
from collections.abc import Iterator

import numpy as np
from PIL import Image

# pytorch-fid's list.
IMAGE_EXTENSIONS = (".bmp", ".jpg", ".jpeg", ".pgm", ".png", ".ppm", ".tif", ".tiff", ".webp")


def read_images(folder: str | os.PathLike, skip_undecodable: bool = False) -> Iterator[np.ndarray]:
    """Yields the [H, W, 3] uint8 RGB pixels (PIL's `convert("RGB")`; 16-bit greyscale by its high byte) of each
    image file directly in `folder`, in sorted order; other files are left out by their extension.

    A file that does not decode (truncated, empty, not an image) raises naming it, or with `skip_undecodable` is
    skipped and counted in a warning at the end.
    """
    paths = sorted(path for path in pathlib.Path(folder).iterdir() if path.suffix.lower() in IMAGE_EXTENSIONS)
    if not paths:
        raise FileNotFoundError(f"{folder} holds no image files ({', '.join(IMAGE_EXTENSIONS)}).")
    skipped = []
    for path in paths:
        try:
            with Image.open(path) as image:
                pixels = _rgb(image)
        except (OSError, ValueError) as error:  # PIL: UnidentifiedImageError (an OSError), "image file is truncated"
            if not skip_undecodable:
                raise ValueError(
                    f"{path} does not decode as an image ({error}). Remove or replace it, or pass --skip_undecodable "
                    "to leave such files out (counted)."
                ) from error
            skipped.append(path.name)
            continue
        yield pixels
    if skipped:
        logging.warning(
            "Skipped %d of %d files in %s that do not decode: %s",
            len(skipped),
            len(paths),
            folder,
            ", ".join(skipped[:20]) + (", ..." if len(skipped) > 20 else ""),
        )


def _rgb(image: Image.Image) -> np.ndarray:
    """PIL's RGB, except for 16-bit greyscale, which PIL's `convert` clips at 255 (white): its high byte, as
    TensorFlow's decoder (the training and `predict` path) reads it."""
    if image.mode.startswith("I;16"):
        high_byte = (np.asarray(image).astype(np.uint16) >> 8).astype(np.uint8)
        return np.repeat(high_byte[..., None], 3, axis=-1)
    return np.asarray(image.convert("RGB"))


ADM_IMAGES = "arr_0"  # guided-diffusion's sample and reference batches: images in arr_0 (labels, if any, in arr_1)
STREAM_ROWS = 256


def stream_npz_array(path: str | os.PathLike, key: str, rows: int = STREAM_ROWS) -> Iterator[np.ndarray]:
    """Yields the array `key` of the `.npz` at `path` in chunks of `rows` rows along its first axis."""
    with zipfile.ZipFile(path) as archive, archive.open(f"{key}.npy") as member:
        version = np.lib.format.read_magic(member)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran_order, dtype = read_header(member)
        if fortran_order or dtype.hasobject:
            raise ValueError(f"{path}: {key} is a Fortran-ordered or object array; save it with np.savez as C order.")
        row_bytes = math.prod(shape[1:]) * dtype.itemsize
        for start in range(0, shape[0], rows):
            count = min(rows, shape[0] - start)
            yield np.frombuffer(member.read(count * row_bytes), dtype).reshape(count, *shape[1:])


def read_input(path: str | os.PathLike, skip_undecodable: bool = False):
    """`("statistics", (mu, sigma))` for an `.npz` with `mu` and `sigma` (ADM's reference batches hold them beside
    their images); `("images", images)` for a folder or an `.npz` holding one [N, H, W, 3] uint8 array or ADM's
    `arr_0` (images: an iterable of arrays, read lazily)."""
    path = os.fspath(path)
    if os.path.isdir(path):
        return "images", read_images(path, skip_undecodable)
    if not path.endswith(".npz") or not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: give a folder of images, or an .npz of images or of statistics (mu, sigma).")
    with np.load(path) as arrays:
        if {"mu", "sigma"} <= set(arrays.files):
            return "statistics", (arrays["mu"], arrays["sigma"])
        names = arrays.files
    if len(names) != 1 and ADM_IMAGES not in names:
        raise ValueError(
            f"{path} holds {', '.join(names)}: an .npz input is either statistics (mu, sigma), one array of "
            f"[N, H, W, 3] uint8 images, or ADM's batch with the images in {ADM_IMAGES}."
        )
    return "images", stream_npz_array(path, ADM_IMAGES if ADM_IMAGES in names else names[0])
