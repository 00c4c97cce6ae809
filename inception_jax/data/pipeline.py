"""The input pipeline the trainer calls: config, dataset facts, train and eval iterators of global batches.

    cfg = pipeline.default_input_config()
    info = pipeline.dataset_info(cfg)
    for batch in pipeline.train_iterator(cfg, sharding, seed=0, start_step=0): ...   # infinite
    for batch in pipeline.eval_iterator(cfg, sharding): ...                        # one pass, with `mask`

Determinism: a training batch depends only on (seed, step). Epoch `e` shuffles the process's examples with a
seed drawn from (seed, e) and keeps the first `steps_per_epoch * local_batch` of them; example `i` is augmented
with stateless ops seeded from (seed, e, i). Starting at step `s` therefore means starting at epoch
`s // steps_per_epoch` and skipping the batches before `s` in it. Skipped examples are read but never decoded.
(tf.data folds `tf.random.set_seed`'s global seed into the shuffle, so do not call it in a training process.)

Multi-host: each JAX process reads its own shard of a split and builds `batch_size / process_count` examples
per step; `jax.make_array_from_process_local_data` joins them into one global `jax.Array` per field.
"""
from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Iterator

import jax
import ml_collections
import tensorflow as tf
from ml_collections import config_dict

from inception_jax.data import preprocessing, sources

logger = logging.getLogger(__name__)

Batch = dict[str, jax.Array]


def default_input_config() -> ml_collections.ConfigDict:
    """Input settings, with defaults for the embedded digits; the comments give the paper's ImageNet values."""
    cfg = ml_collections.ConfigDict()
    # Source: "sklearn_digits" (embedded), any TFDS name (e.g. "imagenet2012"), or "folder".
    cfg.dataset = sources.DIGITS
    cfg.data_dir = config_dict.placeholder(str)  # None: TFDS's default, ~/tensorflow_datasets or $TFDS_DATA_DIR.
    cfg.manual_dir = config_dict.placeholder(str)  # Where manually downloaded files are (imagenet2012's tars).
    cfg.folder = config_dict.placeholder(str)  # Root of <split>/<class>/<image> files when dataset="folder".
    cfg.train_split = "train"
    cfg.eval_split = "test"  # imagenet2012: "validation".

    cfg.image_size = 75  # Inception-v4 / Inception-ResNet: 299.
    cfg.batch_size = 64  # Global, over all processes; must divide by jax.device_count().
    cfg.eval_batch_size = 128  # Global; must divide by jax.device_count().

    # Training augmentation; each step can be switched off.
    cfg.random_crop = True
    cfg.crop_padding = 0  # > 0: pad-and-crop (He et al. CIFAR: 4) instead of the box crop below.
    cfg.crop_area_range = (0.5, 1.0)  # ImageNet: (0.05, 1.0). 8x8 digits lose their strokes below half.
    cfg.aspect_ratio_range = (3 / 4, 4 / 3)
    cfg.min_object_covered = 0.1
    cfg.flip = False  # ImageNet: True. Mirrored digits are other symbols.
    cfg.color_distortion = False  # ImageNet: True. Digits are grey.
    cfg.color_ordering = "random"  # "random": one of slim's 4 op orders per image; "fixed": always the first.

    cfg.eval_crop_fraction = 0.875

    cfg.shuffle_buffer = 10_000  # Examples; holds encoded images, so about 1 GB for ImageNet.
    cfg.prefetch_batches = 2
    return cfg


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """Facts about the configured dataset that the trainer needs."""

    num_classes: int
    num_train_examples: int
    num_eval_examples: int


def dataset_info(cfg: ml_collections.ConfigDict) -> DatasetInfo:
    """Class and example counts of the configured dataset (preparing it first if needed)."""
    source = _open_source(cfg)
    return DatasetInfo(
        num_classes=source.num_classes,
        num_train_examples=source.num_examples(cfg.train_split),
        num_eval_examples=source.num_examples(cfg.eval_split),
    )


def train_iterator(
    cfg: ml_collections.ConfigDict, sharding: jax.sharding.Sharding, seed: int = 0, start_step: int = 0
) -> Iterator[Batch]:
    """Endless training batches {'image': float32 [B, S, S, 3] in [-1, 1], 'label': int32 [B]} from `start_step`.

    The batch at step s is the same whether the run started at 0 or resumed at any step <= s.
    Raises ValueError at once (not on the first `next`) if the config cannot work.
    """
    return _global_batches(_train_dataset(cfg, seed, start_step), sharding)


def eval_iterator(cfg: ml_collections.ConfigDict, sharding: jax.sharding.Sharding) -> Iterator[Batch]:
    """One pass over the eval split: train's fields plus 'mask' (bool [B]), False on the last batch's padding.

    Every eval example appears exactly once with mask True, so masked metrics count each example once.
    """
    return _global_batches(_eval_dataset(cfg), sharding)


def benchmark(cfg: ml_collections.ConfigDict, num_batches: int = 50, seed: int = 0) -> float:
    """Decoded and augmented training images per second produced by this process's tf.data pipeline.

    The first batch (shuffle buffer fill, thread start-up) is not timed; device transfer is not included.
    """
    dataset = _train_dataset(cfg, seed, start_step=0)
    batches = dataset.as_numpy_iterator()
    local_batch = next(batches)["label"].shape[0]
    start = time.perf_counter()
    for _ in range(num_batches):
        next(batches)
    images_per_second = num_batches * local_batch / (time.perf_counter() - start)
    logger.info("Input pipeline: %.0f images/s over %d batches of %d.", images_per_second, num_batches, local_batch)
    return images_per_second


def _open_source(cfg: ml_collections.ConfigDict) -> sources.Source:
    return sources.open_source(cfg.dataset, data_dir=cfg.data_dir, manual_dir=cfg.manual_dir, folder_path=cfg.folder)


def _local_batch_size(global_batch_size: int, field: str) -> int:
    """This process's share of a global batch, which must split evenly over all devices."""
    num_devices = jax.device_count()
    if global_batch_size <= 0 or global_batch_size % num_devices:
        suggestion = max(1, round(global_batch_size / num_devices)) * num_devices
        raise ValueError(
            f"{field}={global_batch_size} must be a positive multiple of the {num_devices} devices "
            f"(jax.device_count()) so every device gets the same share; set {field} to e.g. {suggestion}."
        )
    return global_batch_size // jax.process_count()


def _train_dataset(cfg: ml_collections.ConfigDict, seed: int, start_step: int) -> tf.data.Dataset:
    """This process's training batches from `start_step` on, as a tf.data pipeline."""
    if start_step < 0:
        raise ValueError(f"start_step={start_step} must be >= 0.")
    local_batch = _local_batch_size(cfg.batch_size, "batch_size")
    source = _open_source(cfg)
    examples_per_process = source.num_examples(cfg.train_split) // jax.process_count()
    steps_per_epoch = examples_per_process // local_batch
    if steps_per_epoch == 0:
        raise ValueError(
            f"train_split={cfg.train_split!r} gives {examples_per_process} examples per process, fewer than one "
            f"local batch of {local_batch}; lower batch_size."
        )
    first_epoch, first_step_in_epoch = divmod(start_step, steps_per_epoch)
    indexed = source.read(
        cfg.train_split, shard_index=jax.process_index(), num_shards=jax.process_count(), drop_remainder=True
    ).enumerate()

    def epoch_examples(epoch: tf.Tensor) -> tf.data.Dataset:
        """(augmentation seed, example) pairs of one epoch, shuffled by (seed, epoch)."""
        shuffle_key, augment_key = tf.unstack(tf.random.split(tf.stack([tf.constant(seed, tf.int64), epoch]), 2))
        shuffle_seed = tf.random.stateless_uniform([], shuffle_key, minval=None, maxval=None, dtype=tf.int64)
        shuffled = indexed.shuffle(cfg.shuffle_buffer, seed=shuffle_seed)
        return shuffled.take(steps_per_epoch * local_batch).map(
            lambda index, example: (tf.random.fold_in(augment_key, index), example)
        )

    def preprocess(augment_seed: tf.Tensor, example: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        image = preprocessing.preprocess_for_train(
            preprocessing.decode_rgb(example["image"]),
            augment_seed,
            image_size=cfg.image_size,
            random_crop=cfg.random_crop,
            crop_padding=cfg.get("crop_padding", 0),
            crop_area_range=cfg.crop_area_range,
            aspect_ratio_range=cfg.aspect_ratio_range,
            min_object_covered=cfg.min_object_covered,
            flip=cfg.flip,
            color_distortion=cfg.color_distortion,
            color_ordering=cfg.color_ordering,
        )
        return {"image": image, "label": tf.cast(example["label"], tf.int32)}

    stream = tf.data.Dataset.counter(first_epoch).flat_map(epoch_examples).skip(first_step_in_epoch * local_batch)
    batches = stream.map(preprocess, num_parallel_calls=tf.data.AUTOTUNE).batch(local_batch, drop_remainder=True)
    return _deterministic(batches.prefetch(cfg.prefetch_batches))


def _eval_dataset(cfg: ml_collections.ConfigDict) -> tf.data.Dataset:
    """This process's eval batches: its shard once, then masked padding up to the same batch count on every process."""
    local_batch = _local_batch_size(cfg.eval_batch_size, "eval_batch_size")
    source = _open_source(cfg)
    largest_shard = math.ceil(source.num_examples(cfg.eval_split) / jax.process_count())
    num_batches = math.ceil(largest_shard / local_batch)
    examples = source.read(
        cfg.eval_split, shard_index=jax.process_index(), num_shards=jax.process_count(), drop_remainder=False
    )

    def preprocess(example: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        image = preprocessing.preprocess_for_eval(
            preprocessing.decode_rgb(example["image"]), image_size=cfg.image_size, crop_fraction=cfg.eval_crop_fraction
        )
        return {"image": image, "label": tf.cast(example["label"], tf.int32), "mask": tf.constant(True)}

    padding = {
        "image": tf.zeros([cfg.image_size, cfg.image_size, 3], tf.float32),
        "label": tf.constant(0, tf.int32),
        "mask": tf.constant(False),
    }
    padded = examples.map(preprocess, num_parallel_calls=tf.data.AUTOTUNE).concatenate(
        tf.data.Dataset.from_tensors(padding).repeat()
    )
    batches = padded.take(num_batches * local_batch).batch(local_batch)
    return _deterministic(batches.prefetch(cfg.prefetch_batches))


def _deterministic(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """Keeps element order fixed through every parallel stage, whatever TFDS or tf.data defaults say."""
    options = tf.data.Options()
    options.deterministic = True
    return dataset.with_options(options)


def _global_batches(dataset: tf.data.Dataset, sharding: jax.sharding.Sharding) -> Iterator[Batch]:
    """Turns each process-local numpy batch into global `jax.Array`s laid out by `sharding`."""
    for local_batch in dataset.as_numpy_iterator():
        yield {name: jax.make_array_from_process_local_data(sharding, value) for name, value in local_batch.items()}
