"""Inception preprocessing as TensorFlow ops, for use inside `tf.data` or eagerly.

Training follows slim's `inception_preprocessing`: a distorted bounding-box crop (whole image as the box when
there is none), resize, random horizontal flip and colour distortion. Evaluation takes a central crop and resizes.
Both return float32 images in [-1, 1].

All randomness comes from TF *stateless* ops driven by an explicit `seed` (an int tensor of shape [2]), so an
example's augmentation is a pure function of its seed. Two deliberate departures from slim:
  * resizing is always bilinear (slim picks one of four methods at random);
  * colour distortion draws one of slim's four op orderings at random (`color_ordering="random"`), or always uses
    the first, brightness -> saturation -> hue -> contrast (`color_ordering="fixed"`, slim's fast mode).
"""
from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

# Strengths of slim's `distort_color`.
BRIGHTNESS_DELTA = 32.0 / 255.0
SATURATION_RANGE = (0.5, 1.5)
HUE_DELTA = 0.2
CONTRAST_RANGE = (0.5, 1.5)

COLOR_ORDERINGS = ("random", "fixed")
# Op orders of slim's `distort_color`; "fixed" always uses the first.
_DISTORTION_ORDERS = (
    ("brightness", "saturation", "hue", "contrast"),
    ("saturation", "brightness", "contrast", "hue"),
    ("contrast", "hue", "brightness", "saturation"),
    ("hue", "saturation", "contrast", "brightness"),
)


def decode_rgb(encoded: tf.Tensor) -> tf.Tensor:
    """Decodes JPEG/PNG/GIF/BMP/WebP bytes to a uint8 [H, W, 3] image (grey, RGBA and CMYK become RGB)."""
    image = tf.io.decode_image(encoded, channels=3, expand_animations=False)
    image.set_shape([None, None, 3])
    return image


def preprocess_for_train(
    image: tf.Tensor,
    seed: tf.Tensor,
    *,
    image_size: int,
    random_crop: bool = True,
    crop_padding: int = 0,
    crop_area_range: Sequence[float] = (0.05, 1.0),
    aspect_ratio_range: Sequence[float] = (3 / 4, 4 / 3),
    min_object_covered: float = 0.1,
    flip: bool = True,
    color_distortion: bool = True,
    color_ordering: str = "random",
    bbox: tf.Tensor | None = None,
) -> tf.Tensor:
    """Augments one uint8 [H, W, 3] image for training; returns float32 [image_size, image_size, 3] in [-1, 1].

    Args:
      image: uint8 RGB image.
      seed: int32/int64 tensor of shape [2]; the same seed always gives the same augmentation.
      image_size: side of the square output.
      random_crop: take a distorted bounding-box crop; if False the whole image is resized.
      crop_padding: if > 0, replaces the box crop: zero-pad each side by this many pixels and crop the original
        size at a random offset (He et al.'s CIFAR augmentation, 4 pixels).
      crop_area_range: range of the crop's area as a fraction of the image's.
      aspect_ratio_range: range of the crop's width / height.
      min_object_covered: fraction of `bbox` the crop must contain.
      flip: flip left-right with probability 1/2.
      color_distortion: randomly change brightness, saturation, hue and contrast.
      color_ordering: "random" (one of slim's four orders per image) or "fixed" (always the first).
      bbox: float32 [N, 4] boxes (ymin, xmin, ymax, xmax, relative); None means the whole image.
    """
    if color_ordering not in COLOR_ORDERINGS:
        raise ValueError(f"color_ordering={color_ordering!r}; choose one of {COLOR_ORDERINGS}.")
    crop_seed, flip_seed, color_seed = tf.unstack(tf.random.split(seed, 3))
    if crop_padding:
        image = _padded_random_crop(image, crop_seed, crop_padding)
    elif random_crop:
        image = _distorted_bounding_box_crop(
            image, crop_seed, bbox, crop_area_range, aspect_ratio_range, min_object_covered
        )
    image = _resize(image, image_size)
    if flip:
        image = tf.image.stateless_random_flip_left_right(image, flip_seed)
    if color_distortion:
        image = _distort_color(image, color_seed, color_ordering)
    return _to_signed_range(image)


def preprocess_for_eval(image: tf.Tensor, *, image_size: int, crop_fraction: float = 0.875) -> tf.Tensor:
    """Central-crops `crop_fraction` of a uint8 [H, W, 3] image and resizes; returns float32 in [-1, 1]."""
    if crop_fraction < 1.0:
        image = tf.image.central_crop(image, crop_fraction)
    return _to_signed_range(_resize(image, image_size))


def _distorted_bounding_box_crop(image, seed, bbox, area_range, aspect_ratio_range, min_object_covered):
    """Crops a random box covering `min_object_covered` of `bbox` with area and aspect ratio in range."""
    if bbox is None:
        bbox = tf.constant([[0.0, 0.0, 1.0, 1.0]])
    begin, size, _ = tf.image.stateless_sample_distorted_bounding_box(
        tf.shape(image),
        bounding_boxes=tf.reshape(bbox, [1, -1, 4]),
        seed=seed,
        min_object_covered=min_object_covered,
        aspect_ratio_range=list(aspect_ratio_range),
        area_range=list(area_range),
        max_attempts=100,
        use_image_if_no_bounding_boxes=True,
    )
    return tf.slice(image, begin, size)


def _padded_random_crop(image, seed, padding: int):
    """Zero-pads `padding` pixels on each side, then crops the unpadded size at a random offset."""
    padded = tf.pad(image, [[padding, padding], [padding, padding], [0, 0]])
    return tf.image.stateless_random_crop(padded, tf.shape(image), seed)


def _resize(image: tf.Tensor, image_size: int) -> tf.Tensor:
    """uint8 image of any size -> float32 [image_size, image_size, 3] in [0, 1]."""
    image = tf.image.convert_image_dtype(image, tf.float32)
    return tf.image.resize(image, [image_size, image_size], method="bilinear")


def _distort_color(image: tf.Tensor, seed: tf.Tensor, color_ordering: str) -> tf.Tensor:
    """slim's `distort_color` on a float image in [0, 1], with stateless ops; output clipped to [0, 1]."""
    order_seed, *op_seeds = tf.unstack(tf.random.split(seed, 5))
    distortions = {
        "brightness": lambda x: tf.image.stateless_random_brightness(x, BRIGHTNESS_DELTA, op_seeds[0]),
        "saturation": lambda x: tf.image.stateless_random_saturation(x, *SATURATION_RANGE, op_seeds[1]),
        "hue": lambda x: tf.image.stateless_random_hue(x, HUE_DELTA, op_seeds[2]),
        "contrast": lambda x: tf.image.stateless_random_contrast(x, *CONTRAST_RANGE, op_seeds[3]),
    }

    def apply_in_order(order):
        def apply():
            distorted = image
            for name in order:
                distorted = distortions[name](distorted)
            return distorted

        return apply

    if color_ordering == "fixed":
        image = apply_in_order(_DISTORTION_ORDERS[0])()
    else:
        order_index = tf.random.stateless_uniform([], order_seed, maxval=len(_DISTORTION_ORDERS), dtype=tf.int32)
        image = tf.switch_case(order_index, [apply_in_order(order) for order in _DISTORTION_ORDERS])
    return tf.clip_by_value(image, 0.0, 1.0)


def _to_signed_range(image: tf.Tensor) -> tf.Tensor:
    """[0, 1] -> [-1, 1], the range Inception networks are trained on."""
    return (image - 0.5) * 2.0
