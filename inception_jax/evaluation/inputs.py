"""Global batches of multi-view evaluation images, from the trainer's own evaluation iterator.

Each batch is `{'views': (float32 [B, V, S, S, 3], ...), 'label': int32 [B], 'mask': bool [B]}`: V views per
image (`crops.image_views`) for each input spec asked for, in that order, so that networks fed differently are
scored on the same images in one pass. B images split over the mesh's `data` axis, so one image's views stay on
one device. Process shards and masked padding are `pipeline.eval_batches`'.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import jax
import ml_collections

from inception_jax.data import pipeline
from inception_jax.evaluation import crops as crops_lib
from inception_jax.spec import InputSpec


def images_per_batch(eval_batch_size: int, crops: int) -> int:
    """Images per global batch: about `eval_batch_size` views, in a multiple of the device count.

    With 1 crop this is `eval_batch_size` itself, so the batches are the trainer's evaluation batches.
    """
    num_devices = jax.device_count()
    if eval_batch_size <= 0 or eval_batch_size % num_devices:
        raise ValueError(
            f"input.eval_batch_size={eval_batch_size} must be a positive multiple of the {num_devices} "
            f"devices; set --config.input.eval_batch_size to e.g. {num_devices * 16}."
        )
    return max(num_devices, eval_batch_size // crops // num_devices * num_devices)


def multiview_batches(
    cfg: ml_collections.ConfigDict,
    specs: Sequence[InputSpec],
    crops: int,
    sharding: jax.sharding.Sharding,
    max_examples: int | None = None,
) -> Iterator[dict]:
    """One pass over `cfg.eval_split` (or `max_examples` of its images) as global multi-view batches."""
    specs = tuple(specs)

    def preprocess(image):
        return {"views": tuple(crops_lib.image_views(image, spec, crops) for spec in specs)}

    return pipeline.eval_batches(
        cfg, sharding, preprocess, batch_size=images_per_batch(cfg.eval_batch_size, crops), max_examples=max_examples
    )
