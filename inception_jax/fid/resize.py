"""The two resize protocols of FID, and the network input each makes of uint8 pixels.

* "pytorch_fid" (pytorch-fid's `InceptionV3.forward`): pixels / 255, resized to 299 by bilinear interpolation
  without antialiasing, as `F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)`, then
  2x − 1. It runs on the device, jitted, before the network.
* "clean" (clean-fid, Parmar et al. 2022): each channel resized in float by PIL's bicubic filter (mode "F"),
  clipped to [0, 255], then (x − 128) / 128 as clean-fid's wrapper of the TorchScript. It runs on the host,
  image by image, since it is PIL's own filter.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image

SIZE = 299
RESIZE_MODES = ("pytorch_fid", "clean")


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


def host_prepare(image: np.ndarray, resize: str) -> np.ndarray:
    """The host's part of the protocol for one [H, W, 3] uint8 image."""
    return clean_resize(image) if resize == "clean" else image


def device_prepare(images: jax.Array, resize: str) -> jax.Array:
    """The device's part of the protocol for a batch that `host_prepare` made: the network input in [-1, 1]."""
    if resize == "clean":
        return (images.astype(jnp.float32) - 128) / 128
    return 2 * pytorch_fid_resize(images.astype(jnp.float32) / 255) - 1
