"""Global batches of multi-view evaluation images, laid out like the trainer's evaluation batches.

Each batch is `{'views': float32 [B, V, S, S, 3], 'label': int32 [B], 'mask': bool [B]}` with V views per image
(`crops.image_views`). B images split over the mesh's `data` axis, so one image's views stay on one device. As in
`pipeline.eval_iterator`, each process reads its own shard of the split and pads it, masked, to the batch count
of every other process; every evaluated image appears exactly once with mask True.
"""
from __future__ import annotations

import math
from collections.abc import Iterator

import jax
import ml_collections
import tensorflow as tf

from inception_jax.data import preprocessing, sources
from inception_jax.evaluation import crops as crops_lib


def images_per_batch(eval_batch_size: int, crops: int) -> int:
    """Images per global batch: about `eval_batch_size` views, in a multiple of the device count.

    With 1 crop this is `eval_batch_size` itself, so the batches are the trainer's evaluation batches.
    """
    num_devices = jax.device_count()
    if eval_batch_size <= 0 or eval_batch_size % num_devices:
        raise ValueError(f"input.eval_batch_size={eval_batch_size} must be a positive multiple of the {num_devices} "
                         f"devices; set --config.input.eval_batch_size to e.g. {num_devices * 16}.")
    return max(num_devices, eval_batch_size // crops // num_devices * num_devices)


def num_classes(cfg: ml_collections.ConfigDict) -> int:
    """Classes of the configured dataset (without reading its training split, which a folder would check)."""
    return _open_source(cfg).num_classes


def num_images(cfg: ml_collections.ConfigDict, max_examples: int | None = None) -> int:
    """Images the evaluation covers: the whole `eval_split`, or its first `max_examples`."""
    total = _open_source(cfg).num_examples(cfg.eval_split)
    return total if max_examples is None else min(total, max_examples)


def multiview_batches(cfg: ml_collections.ConfigDict, crops: int, sharding: jax.sharding.Sharding,
                      max_examples: int | None = None) -> Iterator[dict[str, jax.Array]]:
    """One pass over `cfg.eval_split` (or `max_examples` of its images) as global multi-view batches.

    `cfg` is an input config (`pipeline.default_input_config()` fields); `sharding` splits the leading axis.
    `max_examples` takes the split's first images on one process, and the first of each shard on several.
    """
    total = num_images(cfg, max_examples)
    processes, process = jax.process_count(), jax.process_index()
    # This process's images: its shard's first `share`; the shares add up to `total` over all processes.
    share = total // processes + (process < total % processes)
    local_images = images_per_batch(cfg.eval_batch_size, crops) // processes
    num_batches = math.ceil(math.ceil(total / processes) / local_images)
    examples = _open_source(cfg).read(cfg.eval_split, shard_index=process, num_shards=processes,
                                      drop_remainder=False).take(share)

    def preprocess(example: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        views = crops_lib.image_views(preprocessing.decode_rgb(example["image"]), image_size=cfg.image_size,
                                      crops=crops, crop_fraction=cfg.eval_crop_fraction)
        return {"views": views, "label": tf.cast(example["label"], tf.int32), "mask": tf.constant(True)}

    def padding(_) -> dict[str, tf.Tensor]:  # Made per element: 144 views at 299² are 150 MB, too big a constant.
        return {"views": tf.zeros([crops, cfg.image_size, cfg.image_size, 3], tf.float32),
                "label": tf.constant(0, tf.int32), "mask": tf.constant(False)}

    batches = (examples.map(preprocess, num_parallel_calls=tf.data.AUTOTUNE)
               .concatenate(tf.data.Dataset.from_tensors(0).repeat().map(padding))
               .take(num_batches * local_images)
               .batch(local_images)
               .prefetch(cfg.prefetch_batches))
    options = tf.data.Options()
    options.deterministic = True  # Images keep their order through the parallel map.
    for local_batch in batches.with_options(options).as_numpy_iterator():
        yield {name: jax.make_array_from_process_local_data(sharding, value) for name, value in local_batch.items()}


def _open_source(cfg: ml_collections.ConfigDict) -> sources.Source:
    return sources.open_source(cfg.dataset, data_dir=cfg.data_dir, manual_dir=cfg.manual_dir, folder_path=cfg.folder)
