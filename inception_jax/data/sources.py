"""Resolves the `dataset` config field to a source of encoded images and labels.

Every source yields `{'image': encoded bytes, 'label': int64}` in a fixed order and can read one process's shard
of a split, so the pipeline above it is the same for the embedded digits, any TFDS dataset and image folders.
"""

from __future__ import annotations

import difflib
import functools
import logging
from typing import Protocol

import tensorflow as tf
import tensorflow_datasets as tfds

from inception_jax.data import digits, folder

logger = logging.getLogger(__name__)

DIGITS = digits.SklearnDigits.name  # "sklearn_digits", registered with TFDS by importing `digits`.
FOLDER = "folder"


class Source(Protocol):
    """What the pipeline needs from a dataset."""

    @property
    def num_classes(self) -> int:
        """Number of label classes."""

    def num_examples(self, split: str) -> int:
        """Examples in the whole `split` (all processes together)."""

    def read(self, split: str, *, shard_index: int, num_shards: int, drop_remainder: bool) -> tf.data.Dataset:
        """Shard `shard_index` of `num_shards` near-equal shards of `split`; equal ones if `drop_remainder`."""


class TfdsSource:
    """A TFDS dataset with an `image` Image feature and a `label` ClassLabel feature, prepared on first use."""

    def __init__(self, name: str, *, data_dir: str | None, manual_dir: str | None):
        try:
            self._builder = tfds.builder(name, data_dir=data_dir)
        except tfds.core.DatasetNotFoundError as error:
            raise ValueError(unknown_dataset_message(name)) from error
        features = dict(self._builder.info.features.items())
        if not (
            isinstance(features.get("image"), tfds.features.Image)
            and isinstance(features.get("label"), tfds.features.ClassLabel)
        ):
            raise ValueError(
                f"TFDS dataset {name!r} has features {sorted(features)}; the pipeline needs an 'image' "
                "Image feature and a 'label' ClassLabel feature. Pick an image-classification dataset."
            )
        if not self._builder.is_prepared():
            logger.info("Preparing TFDS dataset %s in %s (one-off)...", name, self._builder.data_dir)
            self._builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=manual_dir))

    @property
    def num_classes(self) -> int:
        """Number of label classes."""
        return self._builder.info.features["label"].num_classes

    def num_examples(self, split: str) -> int:
        """Examples in `split`, which may use TFDS slicing such as 'train[:90%]'."""
        return self._builder.info.splits[split].num_examples

    def read(self, split: str, *, shard_index: int, num_shards: int, drop_remainder: bool) -> tf.data.Dataset:
        """Reads only this shard's slice of the files (`tfds.even_splits`), images left encoded."""
        shard = tfds.even_splits(split, n=num_shards, drop_remainder=drop_remainder)[shard_index]
        examples = self._builder.as_dataset(
            split=shard,
            shuffle_files=False,
            decoders={"image": tfds.decode.SkipDecoding()},
            # The pipeline shuffles and repeats itself; a TFDS cache would only hide that from it.
            read_config=tfds.ReadConfig(try_autocache=False),
        )
        return examples.map(lambda ex: {"image": ex["image"], "label": ex["label"]})


@functools.cache
def open_source(
    dataset: str,
    *,
    data_dir: str | None,
    manual_dir: str | None,
    folder_path: str | None,
    skip_undecodable: bool = False,
) -> Source:
    """The source for `dataset`, built once per argument set (a folder's images are checked only once)."""
    if dataset == FOLDER:
        if not folder_path:
            raise ValueError("dataset='folder' needs `folder` set to a directory of <split>/<class>/<image> files.")
        return folder.FolderSource(folder_path, skip_undecodable=skip_undecodable)
    return TfdsSource(dataset, data_dir=data_dir, manual_dir=manual_dir)


def is_prepared(dataset: str, *, data_dir: str | None) -> bool:
    """Whether opening `dataset` reads it as it is: a folder, the embedded digits (prepared in seconds), or a TFDS
    dataset already prepared in `data_dir`."""
    if dataset in (FOLDER, DIGITS):
        return True
    try:
        return tfds.builder(dataset, data_dir=data_dir).is_prepared()
    except tfds.core.DatasetNotFoundError as error:
        raise ValueError(unknown_dataset_message(dataset)) from error


def unknown_dataset_message(name: str) -> str:
    """Error text for a dataset name that is neither built in nor registered with TFDS."""
    close = difflib.get_close_matches(name, tfds.list_builders(with_community_datasets=False), n=5)
    hint = f" Close TFDS names: {', '.join(close)}." if close else ""
    return (
        f"Unknown dataset {name!r}. Valid choices: {DIGITS!r} (embedded default, scikit-learn's digits), "
        f"{FOLDER!r} (with `folder` set to <folder>/<split>/<class>/<image> files), or any TFDS dataset name "
        f"(see tfds.list_builders()).{hint}"
    )
