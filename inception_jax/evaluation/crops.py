"""Where the views of an evaluation image come from: the 1-, 12- and 144-crop protocols as TensorFlow ops.

The 144-crop protocol of GoogLeNet ("Going deeper with convolutions", Szegedy et al. 2015, ILSVRC 2014
classification setup), used for the multi-crop tables of the Inception-v3 and Inception-v4 papers, for a
network input of S×S:

  * 4 scales: the shorter side is resized to S·{256, 288, 320, 352}/224 (aspect ratio kept, with the resize
    kernel of the network's `InputSpec`);
  * 3 squares per scale: the left, center and right (top, center and bottom for portrait images) squares whose
    side is the shorter side;
  * 6 crops per square: the 4 corner and the center S×S crops, and the whole square resized to S×S;
  * 2 flips: each crop as is and mirrored left-right.

4 × 3 × 6 × 2 = 144 views. The papers do not spell out their 12 crops; here they are the 144-crop protocol
restricted to its first scale, S·256/224 = S/0.875 (the scale at which the 1-crop view takes its central 87.5%),
and to the center square: 1 × 1 × 6 × 2 = 12 views. The single crop is exactly the trainer's evaluation
preprocessing (`preprocessing.preprocess_for_eval`: the spec's crop and resize). Every view is normalised as the
spec says.

A square image has three identical squares, so its 144 views hold each of 48 views three times; the average
is still over 144 views, as in the protocol.
"""

from __future__ import annotations

import dataclasses
import itertools

import tensorflow as tf

from inception_jax.data import preprocessing
from inception_jax.spec import InputSpec

CROP_COUNTS = (1, 12, 144)
# Shorter sides of the 4 scales for a 224 network input (GoogLeNet); other inputs scale them by S/224.
SCALE_SIDES_AT_224 = (256, 288, 320, 352)
SQUARES = ("first", "center", "last")  # Left/center/right, or top/center/bottom for portrait images.
CROPS = ("top_left", "top_right", "bottom_left", "bottom_right", "center", "whole")


@dataclasses.dataclass(frozen=True)
class View:
    """One view of the multi-crop protocols: where it is taken from, and whether it is mirrored."""

    scale_side_at_224: int  # The image's shorter side before cropping, for a 224 network input.
    square: str  # One of SQUARES.
    crop: str  # One of CROPS.
    mirrored: bool


def view_layout(crops: int) -> tuple[View, ...]:
    """The views of the 12- or 144-crop protocol, in the order `image_views` stacks them.

    Mirrored views follow their unmirrored twin: view 2k+1 is view 2k flipped left-right.
    """
    if crops == 144:
        scales, squares = SCALE_SIDES_AT_224, SQUARES
    elif crops == 12:
        scales, squares = SCALE_SIDES_AT_224[:1], ("center",)
    else:
        raise ValueError(
            f"crops={crops} has no view layout; the multi-crop protocols are 12 and 144 "
            f"(1 crop is the trainer's evaluation preprocessing)."
        )
    return tuple(
        View(scale, square, crop, mirrored)
        for scale, square, crop, mirrored in itertools.product(scales, squares, CROPS, (False, True))
    )


def image_views(image: tf.Tensor, spec: InputSpec, crops: int) -> tf.Tensor:
    """All views of one uint8 [H, W, 3] image: float32 [crops, S, S, 3], S = `spec.image_size`, normalised."""
    if crops not in CROP_COUNTS:
        raise ValueError(f"crops={crops}; choose one of {CROP_COUNTS}.")
    if crops == 1:
        return preprocessing.preprocess_for_eval(image, spec)[None]
    image = tf.image.convert_image_dtype(image, tf.float32)
    size = spec.image_size
    # Each scale and square is cut once and shared by its views: a graph of 144 independent views takes
    # tf.data many seconds to trace.
    rescaled, squares, unmirrored = {}, {}, []
    for view in view_layout(crops)[0::2]:
        scale, square = view.scale_side_at_224, (view.scale_side_at_224, view.square)
        if scale not in rescaled:
            rescaled[scale] = preprocessing.resize_shorter_side(image, round(size * scale / 224), spec)
        if square not in squares:
            squares[square] = _square(rescaled[scale], view.square)
        unmirrored.append(_crop(squares[square], view.crop, spec))
    unmirrored = tf.stack(unmirrored)
    # Interleaved as the layout orders them: each view, then its mirror image.
    views = tf.reshape(tf.stack([unmirrored, tf.reverse(unmirrored, axis=[2])], axis=1), [crops, size, size, 3])
    return preprocessing.normalize(views, spec.mean, spec.std)


def _square(image: tf.Tensor, position: str) -> tf.Tensor:
    """The first, center or last square along the longer side of `image`, with the shorter side's length."""
    height, width = tf.unstack(tf.shape(image)[:2])
    side, slack = tf.minimum(height, width), tf.abs(height - width)
    offset = {"first": 0, "center": slack // 2, "last": slack}[position]
    landscape = width >= height
    begin = tf.stack([tf.where(landscape, 0, offset), tf.where(landscape, offset, 0), 0])
    return tf.slice(image, begin, tf.stack([side, side, 3]))


def _crop(square: tf.Tensor, crop: str, spec: InputSpec) -> tf.Tensor:
    """One of the 6 crops of a square: an S×S corner or center crop, or the whole square resized to S×S."""
    size = spec.image_size
    if crop == "whole":
        return preprocessing.resize(square, [size, size], spec)
    margin = tf.shape(square)[0] - size
    top = {"top_left": 0, "top_right": 0, "bottom_left": margin, "bottom_right": margin, "center": margin // 2}[crop]
    left = {"top_left": 0, "top_right": margin, "bottom_left": 0, "bottom_right": margin, "center": margin // 2}[crop]
    return tf.slice(square, tf.stack([top, left, 0]), [size, size, 3])
