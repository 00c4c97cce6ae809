"""The input pipeline the trainer calls: config, dataset facts, train and eval iterators of global batches.

    cfg = configs.get_config("default").input          # any config's `input` (fields: configs/paper.py)
    info = pipeline.dataset_info(cfg)
    spec = artifacts.input_spec_from_config(cfg)       # the network's input contract: crop, resize, mean/std
    for batch in pipeline.train_iterator(cfg, spec, sharding, seed=0, start_step=0): ...   # infinite
    for batch in pipeline.eval_iterator(cfg, spec, sharding): ...                        # one pass, with `mask`

Training augmentation is the paper's whatever the spec; only the final normalisation comes from it. Evaluation
crops, resizes and normalises exactly as the spec says. `eval_batches` is the one evaluation iterator (process
shards, masked padding); the multi-crop evaluation builds on it.

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
import functools
import logging
import math
import time
from collections.abc import Callable, Iterator

import jax
import ml_collections
import tensorflow as tf

from inception_jax.data import preprocessing, sources
from inception_jax.spec import InputSpec

logger = logging.getLogger(__name__)

Batch = dict[str, jax.Array]


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


def dataset_info_if_prepared(cfg: ml_collections.ConfigDict) -> DatasetInfo | None:
    """`dataset_info`, or None where that would mean preparing a TFDS dataset first (ImageNet: hours)."""
    if not sources.is_prepared(cfg.dataset, data_dir=cfg.data_dir):
        return None
    return dataset_info(cfg)


def train_iterator(
    cfg: ml_collections.ConfigDict,
    spec: InputSpec,
    sharding: jax.sharding.Sharding,
    seed: int = 0,
    start_step: int = 0,
) -> Iterator[Batch]:
    """Endless training batches {'image': float32 [B, S, S, 3], normalised by `spec`, 'label': int32 [B]}.

    The batch at step s is the same whether the run started at 0 or resumed at any step <= s.
    Raises ValueError at once (not on the first `next`) if the config cannot work.
    """
    return _global_batches(_train_dataset(cfg, spec, seed, start_step), sharding)


def eval_iterator(
    cfg: ml_collections.ConfigDict, spec: InputSpec, sharding: jax.sharding.Sharding, max_examples: int | None = None
) -> Iterator[Batch]:
    """One pass over the eval split: {'image' prepared as `spec` says, 'label', 'mask'} (see `eval_batches`)."""
    return eval_batches(
        cfg,
        sharding,
        lambda image: {"image": preprocessing.preprocess_for_eval(image, spec)},
        batch_size=cfg.eval_batch_size,
        max_examples=max_examples,
    )


def eval_batches(
    cfg: ml_collections.ConfigDict,
    sharding: jax.sharding.Sharding,
    preprocess: Callable[[tf.Tensor], dict[str, tf.Tensor]],
    *,
    batch_size: int,
    max_examples: int | None = None,
) -> Iterator[Batch]:
    """One pass over `cfg.eval_split` in global batches of `batch_size` images: the one evaluation iterator.

    `preprocess` maps a decoded uint8 [H, W, 3] image to the batch's fields; 'label' and 'mask' (bool [B]) are
    added. Each process reads its own shard and pads it, masked, to the batch count of every other process, so
    every evaluated image appears exactly once with mask True and masked sums count each image once.
    `max_examples` takes the split's first images on one process, and the first of each shard on several.
    """
    return _global_batches(_eval_dataset(cfg, preprocess, batch_size, max_examples), sharding)


def num_classes(cfg: ml_collections.ConfigDict) -> int:
    """Classes of the configured dataset, without counting its splits (an evaluation needs no training split)."""
    return _open_source(cfg).num_classes


def num_eval_examples(cfg: ml_collections.ConfigDict, max_examples: int | None = None) -> int:
    """Images one evaluation covers: the whole `eval_split`, or its first `max_examples`."""
    total = _open_source(cfg).num_examples(cfg.eval_split)
    return total if max_examples is None else min(total, max_examples)


def benchmark(
    cfg: ml_collections.ConfigDict, spec: InputSpec, num_batches: int = 50, seed: int = 0, *, train: bool = True
) -> float:
    """Images per second that this process's tf.data pipeline decodes and prepares: with the training
    augmentation (`train`), or as the evaluation prepares them for `spec` (the eval split, read over and over).

    The first batch (shuffle buffer fill, thread start-up) is not timed; device transfer is not included.
    """
    if train:
        dataset = _train_dataset(cfg, spec, seed, start_step=0)
    else:
        prepare = lambda image: {"image": preprocessing.preprocess_for_eval(image, spec)}  # noqa: E731
        dataset = _eval_dataset(cfg, prepare, cfg.eval_batch_size, None).repeat()
    batches = dataset.as_numpy_iterator()
    local_batch = next(batches)["label"].shape[0]
    start = time.perf_counter()
    for _ in range(num_batches):
        next(batches)
    images_per_second = num_batches * local_batch / (time.perf_counter() - start)
    logger.info("Input pipeline: %.0f images/s over %d batches of %d.", images_per_second, num_batches, local_batch)
    return images_per_second


def _open_source(cfg: ml_collections.ConfigDict) -> sources.Source:
    _keep_tensorflow_off_accelerators()
    return sources.open_source(
        cfg.dataset,
        data_dir=cfg.data_dir,
        manual_dir=cfg.manual_dir,
        folder_path=cfg.folder,
        skip_undecodable=cfg.get("skip_undecodable", False),
    )


@functools.cache
def _keep_tensorflow_off_accelerators() -> None:
    """JAX owns the GPUs: TensorFlow, here only for CPU input ops, must not reserve their memory."""
    try:
        tf.config.set_visible_devices([], "GPU")
    except RuntimeError:  # TensorFlow already initialised its devices elsewhere in this process.
        logger.warning("TensorFlow was initialised before the input pipeline; it may hold GPU memory.")


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


def data_shards(cfg: ml_collections.ConfigDict) -> int:
    """The number of shards the training data is read in: `data_shards`, or one per process when it is 0."""
    return cfg.get("data_shards") or jax.process_count()


def _train_dataset(cfg: ml_collections.ConfigDict, spec: InputSpec, seed: int, start_step: int) -> tf.data.Dataset:
    """This process's training batches from `start_step` on, as a tf.data pipeline.

    The training split is read as `data_shards(cfg)` disjoint shards, each shuffled and augmented by (seed,
    epoch, shard) alone, and each global batch is the shards' sub-batches in shard order. A process reads only
    its own consecutive shards, so with `data_shards` fixed, any process count that divides it sees the same
    global batches.
    """
    if start_step < 0:
        raise ValueError(f"start_step={start_step} must be >= 0.")
    local_batch = _local_batch_size(cfg.batch_size, "batch_size")
    num_shards, processes = data_shards(cfg), jax.process_count()
    if num_shards % processes or local_batch % (num_shards // processes):
        raise ValueError(
            f"data_shards={num_shards} must be a multiple of the {processes} processes and divide batch_size="
            f"{cfg.batch_size}; set data_shards to 0 (one per process) or e.g. {processes}."
        )
    per_process = num_shards // processes
    source = _open_source(cfg)
    first = jax.process_index() * per_process
    shards = [
        _shard_batches(cfg, spec, source, seed, start_step, shard, num_shards, local_batch // per_process)
        for shard in range(first, first + per_process)
    ]
    batches = shards[0] if per_process == 1 else tf.data.Dataset.zip(tuple(shards)).map(_concatenate)
    return _deterministic(batches.prefetch(cfg.prefetch_batches))


def _concatenate(*batches: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
    return {key: tf.concat([batch[key] for batch in batches], axis=0) for key in batches[0]}


def _shard_batches(
    cfg: ml_collections.ConfigDict,
    spec: InputSpec,
    source: sources.Source,
    seed: int,
    start_step: int,
    shard: int,
    num_shards: int,
    batch_size: int,
) -> tf.data.Dataset:
    """One shard's sub-batches of `batch_size` from `start_step` on, shuffled and augmented by (seed, epoch, shard)."""
    examples_per_shard = source.num_examples(cfg.train_split) // num_shards
    steps_per_epoch = examples_per_shard // batch_size
    if steps_per_epoch == 0:
        raise ValueError(
            f"train_split={cfg.train_split!r} gives {examples_per_shard} examples per data shard, fewer than "
            f"one shard batch of {batch_size}; lower batch_size."
        )
    first_epoch, first_step_in_epoch = divmod(start_step, steps_per_epoch)
    indexed = source.read(cfg.train_split, shard_index=shard, num_shards=num_shards, drop_remainder=True).enumerate()

    def epoch_examples(epoch: tf.Tensor) -> tf.data.Dataset:
        """(augmentation seed, example) pairs of one epoch, shuffled by (seed, epoch, shard)."""
        key = tf.stack([tf.constant(seed, tf.int64), epoch])
        if shard:  # shard 0 keeps the (seed, epoch) key, so single-shard runs are unchanged
            key = tf.random.fold_in(key, shard)
        shuffle_key, augment_key = tf.unstack(tf.random.split(key, 2))
        shuffle_seed = tf.random.stateless_uniform([], shuffle_key, minval=None, maxval=None, dtype=tf.int64)
        shuffled = indexed.shuffle(cfg.shuffle_buffer, seed=shuffle_seed)
        return shuffled.take(steps_per_epoch * batch_size).map(
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
            mean=spec.mean,
            std=spec.std,
        )
        return {"image": image, "label": tf.cast(example["label"], tf.int32)}

    stream = tf.data.Dataset.counter(first_epoch).flat_map(epoch_examples).skip(first_step_in_epoch * batch_size)
    return stream.map(preprocess, num_parallel_calls=tf.data.AUTOTUNE).batch(batch_size, drop_remainder=True)


def _eval_dataset(
    cfg: ml_collections.ConfigDict, preprocess: Callable, batch_size: int, max_examples: int | None
) -> tf.data.Dataset:
    """This process's eval batches: its shard's images once, then masked padding to every process's batch count."""
    local_batch = _local_batch_size(batch_size, "eval_batch_size")
    total = num_eval_examples(cfg, max_examples)
    processes, process = jax.process_count(), jax.process_index()
    share = total // processes + (process < total % processes)  # The shares add up to `total`.
    num_batches = math.ceil(math.ceil(total / processes) / local_batch)
    examples = _open_source(cfg).read(cfg.eval_split, shard_index=process, num_shards=processes, drop_remainder=False)

    def prepare(example: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        fields = preprocess(preprocessing.decode_rgb(example["image"]))
        return {**fields, "label": tf.cast(example["label"], tf.int32), "mask": tf.constant(True)}

    prepared = examples.take(share).map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
    # Zeros, so label 0 and mask False. Made per element: 144 views at 299² would be a 150 MB graph constant.
    padding = (
        tf.data.Dataset.from_tensors(0)
        .repeat()
        .map(lambda _: tf.nest.map_structure(lambda s: tf.zeros(s.shape, s.dtype), prepared.element_spec))
    )
    batches = prepared.concatenate(padding)
    return _deterministic(batches.take(num_batches * local_batch).batch(local_batch).prefetch(cfg.prefetch_batches))


def _deterministic(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """Keeps element order fixed through every parallel stage, whatever TFDS or tf.data defaults say."""
    options = tf.data.Options()
    options.deterministic = True
    return dataset.with_options(options)


def _global_batches(dataset: tf.data.Dataset, sharding: jax.sharding.Sharding) -> Iterator[Batch]:
    """Turns each process-local numpy batch into global `jax.Array`s laid out by `sharding`."""
    for local_batch in dataset.as_numpy_iterator():
        yield jax.tree.map(lambda value: jax.make_array_from_process_local_data(sharding, value), local_batch)
