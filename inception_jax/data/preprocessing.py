"""Inception preprocessing as TensorFlow ops, for use inside `tf.data` or eagerly.

Training follows slim's `inception_preprocessing`: a distorted bounding-box crop (whole image as the box when
there is none), resize, random horizontal flip and colour distortion. Evaluation crops and resizes as the
network's `InputSpec` says (slim's central fraction, or timm's and torchvision's resize-then-centre-crop). Both
end with the spec's normalisation (`mean`, `std` on [0, 1] pixels; 0.5 and 0.5 give the Inception range [-1, 1]).

All randomness comes from TF *stateless* ops driven by an explicit `seed` (an int tensor of shape [2]), so an
example's augmentation is a pure function of its seed. Two deliberate departures from slim:
  * resizing is always bilinear (slim picks one of four methods at random);
  * colour distortion draws one of slim's four op orderings at random (`color_ordering="random"`), or always uses
    the first, brightness -> saturation -> hue -> contrast (`color_ordering="fixed"`, slim's fast mode).
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

from inception_jax.spec import INCEPTION_MEAN, INCEPTION_STD, InputSpec

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
    """Decodes JPEG/PNG/GIF/BMP/WebP bytes to a uint8 [H, W, 3] image (grey, RGBA and CMYK become RGB).

    JPEGs are decoded with libjpeg's accurate integer DCT, which gives the same pixels as PIL (what timm and
    torchvision read images with); TensorFlow's default fast DCT is up to 18 grey levels off.
    """
    image = tf.cond(
        tf.io.is_jpeg(encoded),
        lambda: tf.io.decode_jpeg(encoded, channels=3, dct_method="INTEGER_ACCURATE"),
        lambda: tf.io.decode_image(encoded, channels=3, expand_animations=False),
    )
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
    mean: Sequence[float] = INCEPTION_MEAN,
    std: Sequence[float] = INCEPTION_STD,
) -> tf.Tensor:
    """Augments one uint8 [H, W, 3] image for training; returns float32 [image_size, image_size, 3], normalised.

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
      mean, std: the final normalisation of [0, 1] pixels (the network's `InputSpec`); the default gives [-1, 1].
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
    return normalize(image, mean, std)


def preprocess_for_eval(image: tf.Tensor, spec: InputSpec) -> tf.Tensor:
    """A uint8 [H, W, 3] image as `spec` says the network sees it: float32 [size, size, 3], normalised."""
    image = tf.image.convert_image_dtype(image, tf.float32)
    size = spec.image_size
    if spec.crop_mode == "central_fraction":
        if spec.crop_fraction < 1.0:
            image = tf.image.central_crop(image, spec.crop_fraction)
        image = resize(image, [size, size], spec)
    else:
        image = center_crop(resize_shorter_side(image, spec.resize_side, spec), size)
    return normalize(image, spec.mean, spec.std)


def resize(image: tf.Tensor, size, spec: InputSpec) -> tf.Tensor:
    """Resizes a float [H, W, C] image in [0, 1] to `size` (height, width) with the kernel of `spec`'s source.

    "resize_shorter" specs reproduce PIL, which timm and torchvision resize with: antialiased when shrinking, one
    pass along the width and then one along the height, each rounded and clipped to 8 bits as PIL stores its
    images (bicubic overshoots are clipped between the passes). "central_fraction" specs reproduce slim's and
    Keras's TensorFlow resize, in float and without antialiasing.
    """
    if spec.crop_mode == "central_fraction":
        return tf.image.resize(image, size, method=spec.interpolation)

    def to_8_bits(pixels):
        return tf.round(tf.clip_by_value(pixels, 0.0, 1.0) * 255.0) / 255.0

    height = tf.shape(image)[0]
    wide = to_8_bits(tf.image.resize(image, tf.stack([height, size[1]]), method=spec.interpolation, antialias=True))
    return to_8_bits(tf.image.resize(wide, size, method=spec.interpolation, antialias=True))


def resize_shorter_side(image: tf.Tensor, side: int, spec: InputSpec) -> tf.Tensor:
    """Resizes so that the shorter side is `side`, the longer one ⌊side · long / short⌋ (torchvision's rule)."""
    height, width = tf.unstack(tf.shape(image)[:2])
    short, long = tf.minimum(height, width), tf.maximum(height, width)
    new_long = tf.maximum(side, tf.cast(side * tf.cast(long, tf.int64) // tf.cast(short, tf.int64), tf.int32))
    landscape = width >= height
    new_size = tf.stack([tf.where(landscape, side, new_long), tf.where(landscape, new_long, side)])
    return resize(image, new_size, spec)


def center_crop(image: tf.Tensor, size: int) -> tf.Tensor:
    """The central `size`² crop, offsets as torchvision's `CenterCrop` rounds them (half to even)."""

    def offset(slack):
        half, odd = slack // 2, slack % 2
        return half + odd * (half % 2)  # round(slack / 2), with Python's round-half-to-even

    height, width = tf.unstack(tf.shape(image)[:2])
    return tf.slice(image, tf.stack([offset(height - size), offset(width - size), 0]), [size, size, -1])


def normalize(image: tf.Tensor, mean: Sequence[float], std: Sequence[float]) -> tf.Tensor:
    """[0, 1] pixels → (pixel − mean) / std per channel."""
    return (image - tf.constant(mean, tf.float32)) / tf.constant(std, tf.float32)


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
