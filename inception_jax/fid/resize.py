"""The resize protocols of FID, and the network input each makes of uint8 pixels.

* "pytorch_fid" (pytorch-fid's `InceptionV3.forward`): pixels / 255, resized to 299 by bilinear interpolation
  without antialiasing, as `F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)`, then
  2x − 1. It runs on the device, jitted, before the network.
* "clean" (clean-fid, Parmar et al. 2022): each channel resized in float by PIL's bicubic filter (mode "F"),
  clipped to [0, 255], then (x − 128) / 128 as clean-fid's wrapper of the TorchScript. It runs on the host,
  image by image, since it is PIL's own filter.
* "tensorflow" (torch-fidelity, torchmetrics, and the 2015 graph's own resize in TTUR and ADM): pixels as floats
  in [0, 255], resized by TensorFlow 1's `resize_bilinear` (align_corners=False and no half-pixel centres: output
  pixel i samples input position i · in/out, in float32), then (x − 128) / 128. It runs on the device.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image

SIZE = 299
RESIZE_MODES = ("pytorch_fid", "clean", "tensorflow")


def check_mode(resize: str) -> None:
    if resize not in RESIZE_MODES:
        raise ValueError(f"resize={resize!r}; choose one of {', '.join(RESIZE_MODES)}.")


def clean_resize(image: np.ndarray) -> np.ndarray:
    """[H, W, 3] uint8 → [299, 299, 3] float32 in [0, 255]: clean-fid's "clean" resize."""
    channels = [
        np.asarray(Image.fromarray(image[..., c].astype(np.float32)).resize((SIZE, SIZE), Image.BICUBIC))
        for c in range(image.shape[-1])
    ]
    return np.stack(channels, axis=-1).clip(0, 255).astype(np.float32)


def pytorch_fid_resize(images: jax.Array) -> jax.Array:
    """[N, H, W, C] → [N, 299, 299, C]: bilinear, half-pixel centres (align_corners=False), no antialiasing."""
    if images.shape[1:3] == (SIZE, SIZE):
        return images
    return jax.image.resize(images, (images.shape[0], SIZE, SIZE, images.shape[-1]), "linear", antialias=False)


def _tensorflow1_taps(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per output pixel: the lower and upper input pixel and the weight of the upper, in TensorFlow 1's float32."""
    scale = np.float32(in_size) / np.float32(out_size)
    position = np.arange(out_size, dtype=np.float32) * scale
    lower = np.floor(position)
    upper = np.minimum(np.ceil(position), in_size - 1).astype(np.int32)
    return lower.astype(np.int32), upper, (position - lower).astype(np.float32)


def tensorflow_resize(images: jax.Array) -> jax.Array:
    """[N, H, W, C] floats → [N, 299, 299, C]: TensorFlow 1's `resize_bilinear` with align_corners=False."""
    images = jnp.asarray(images, jnp.float32)
    rows_low, rows_high, row_weight = _tensorflow1_taps(images.shape[1], SIZE)
    cols_low, cols_high, col_weight = _tensorflow1_taps(images.shape[2], SIZE)
    col_weight = col_weight[None, None, :, None]

    def across(rows: np.ndarray) -> jax.Array:  # interpolated along the width, in TensorFlow's order of terms
        picked = jnp.take(images, rows, axis=1)
        left, right = jnp.take(picked, cols_low, axis=2), jnp.take(picked, cols_high, axis=2)
        return left + (right - left) * col_weight

    top, bottom = across(rows_low), across(rows_high)
    return top + (bottom - top) * row_weight[None, :, None, None]


def host_prepare(image: np.ndarray, resize: str) -> np.ndarray:
    """The host's part of the protocol for one [H, W, 3] uint8 image."""
    return clean_resize(image) if resize == "clean" else image


def device_prepare(images: jax.Array, resize: str) -> jax.Array:
    """The device's part of the protocol for a batch that `host_prepare` made: the network input in [-1, 1]."""
    if resize == "clean":
        return (images.astype(jnp.float32) - 128) / 128
    if resize == "tensorflow":
        return (tensorflow_resize(images.astype(jnp.float32)) - 128) / 128
    return 2 * pytorch_fid_resize(images.astype(jnp.float32) / 255) - 1
