"""Zeiler & Fergus's deconvnet (2013, §2.1): project single activations of a layer back to pixel space.

One activation (all others in its layer set to zero) is passed down through the network in reverse: max pooling
is undone with the forward pass's switches, each ReLU rectifies the reconstruction, and each convolution is
undone with its transposed filters. This is the network's backward pass with one change, the ReLU: its
gradient masks the signal by where the *input* was positive, the deconvnet rectifies the signal itself. So
`project` runs `jax.vjp` through the same network built with `activation="deconvnet"` (`layers.deconvnet_relu`,
a ReLU with that backward pass); the option is part of the module, so compiled functions never mix the two.
Biases drop out as in the paper. Contrast normalization is passed through by its own gradient, a local
positive rescaling (the paper's reverse path skips the layer).

    tops = top_activations(model, variables, images, "conv2", channels=[0, 1], k=9)
    projections = project(model, variables, images[tops.image], "conv2", tops)
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from inception_jax.endpoints import forward_with_endpoints


class TopActivations(NamedTuple):
    """The strongest activations of some channels of a layer, one per image: arrays of shape [channels, k]."""

    channel: np.ndarray
    image: np.ndarray  # index into the images searched
    row: np.ndarray
    column: np.ndarray
    value: np.ndarray


def layer_activations(model, variables, images, layer: str, batch_size: int = 128) -> np.ndarray:
    """The endpoint `layer` of every image, in eval mode, as one [N, H, W, C] array."""
    forward = jax.jit(lambda x: forward_with_endpoints(model, variables, x)[1][layer])
    return np.concatenate([np.asarray(forward(images[i : i + batch_size])) for i in range(0, len(images), batch_size)])


def top_activations(model, variables, images, layer: str, channels, k: int = 9) -> TopActivations:
    """For each channel, the `k` images whose strongest activation of it is largest, and where that is (§4's
    "top 9 activations", one per image as in the paper's figures)."""
    activations = layer_activations(model, variables, images, layer)
    n, _, width, _ = activations.shape
    picked = {name: [] for name in TopActivations._fields}
    for channel in channels:
        flat = activations[..., channel].reshape(n, -1)
        best_position = flat.argmax(axis=1)
        best_value = flat[np.arange(n), best_position]
        top = np.argsort(-best_value, kind="stable")[:k]
        picked["channel"].append(np.full(len(top), channel))
        picked["image"].append(top)
        picked["row"].append(best_position[top] // width)
        picked["column"].append(best_position[top] % width)
        picked["value"].append(best_value[top])
    return TopActivations(*(np.stack(picked[name]) for name in TopActivations._fields))


def project(model, variables, images, layer: str, tops: TopActivations) -> np.ndarray:
    """Deconvnet projections of the activations in `tops` (images[i] holds tops' flattened entry i's image, as
    `images[tops.image]` gives); returns an array of the shape of `images`, one projection per entry."""
    channel, row, column = (np.ravel(a) for a in (tops.channel, tops.row, tops.column))
    images = jnp.asarray(images).reshape(len(channel), *images.shape[-3:])
    entries = np.arange(len(channel))

    deconvnet = model.clone(activation="deconvnet")  # the same variables; the rectifier's backward differs

    def projections_of(x):
        activations, pullback = jax.vjp(lambda x: forward_with_endpoints(deconvnet, variables, x)[1][layer], x)
        picked = activations[entries, row, column, channel]
        return pullback(jnp.zeros_like(activations).at[entries, row, column, channel].set(picked))[0]

    return np.asarray(jax.jit(projections_of)(images))


def receptive_box(projection: np.ndarray, threshold: float = 1e-6) -> tuple[slice, slice]:
    """Rows and columns of the input a projection reaches: the image patch to show beside it (Figure 2)."""
    support = np.abs(projection).max(axis=-1) > threshold * max(np.abs(projection).max(), 1e-30)
    rows, columns = np.flatnonzero(support.any(axis=1)), np.flatnonzero(support.any(axis=0))
    if not len(rows):
        return slice(0, 0), slice(0, 0)
    return slice(rows[0], rows[-1] + 1), slice(columns[0], columns[-1] + 1)


def to_display(projection: np.ndarray, percentile: float = 99.5) -> np.ndarray:
    """Rescales a projection to [0, 1] around grey, its sign kept, for imshow; the `percentile` of |values|
    maps to black or white, so a few extreme pixels do not wash the rest out."""
    scale = np.percentile(np.abs(projection), percentile)
    return np.clip(0.5 + 0.5 * projection / scale, 0.0, 1.0) if scale > 0 else np.full_like(projection, 0.5)
