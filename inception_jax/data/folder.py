"""Image-folder datasets (`root/<split>/<class>/<image>`) read through `tfds.folder_dataset.ImageFolder`.

Real folders contain broken files. Before training, every image of a split is decoded once; files that fail
(truncated, empty, not an image at all) stop the run with their paths, or with `skip_undecodable` are skipped,
counted and logged, so they can never crash a run later. Greyscale, RGBA, palette and CMYK files decode to RGB and
are kept. `ImageFolder` only lists .jpg, .jpeg and .png files: other files are left out by their extension.
"""

from __future__ import annotations

import dataclasses
import logging

import tensorflow as tf
import tensorflow_datasets as tfds

from inception_jax.data import preprocessing

logger = logging.getLogger(__name__)

_PROGRESS_EVERY = 10_000  # Images between progress lines while checking a split.
_LISTED_SKIPS = 20  # Skipped files named in the log; the count covers all of them.


@dataclasses.dataclass(frozen=True)
class CheckedSplit:
    """The decodable images of one split, in `ImageFolder`'s fixed order."""

    paths: tuple[str, ...]
    labels: tuple[int, ...]


class FolderSource:
    """Reads `root/<split>/<class>/<image>`; labels are the sorted class folder names across all splits."""

    def __init__(self, root: str, *, skip_undecodable: bool = False):
        if not tf.io.gfile.isdir(root):
            raise ValueError(
                f"folder={root!r} is not a directory. Point `folder` at a directory laid out as "
                "<folder>/<split>/<class>/<image>.jpg, e.g. <folder>/train/cat/0001.jpg."
            )
        self._builder = tfds.ImageFolder(root)
        if not self._builder.info.splits:
            raise ValueError(f"folder={root!r} has no <split>/<class>/ sub-folders with .jpg/.jpeg/.png images.")
        _check_same_classes(root, sorted(self._builder.info.splits))
        self._root = root
        self._skip_undecodable = skip_undecodable
        self._checked: dict[str, CheckedSplit] = {}

    @property
    def num_classes(self) -> int:
        """Number of class folders."""
        return self._builder.info.features["label"].num_classes

    def num_examples(self, split: str) -> int:
        """Decodable images in `split`."""
        return len(self._checked_split(split).paths)

    def read(self, split: str, *, shard_index: int, num_shards: int, drop_remainder: bool) -> tf.data.Dataset:
        """Encoded images and labels of one process's shard of `split`, in a fixed order."""
        checked = self._checked_split(split)
        paths, labels = checked.paths, checked.labels
        if drop_remainder:
            usable = len(paths) // num_shards * num_shards
            paths, labels = paths[:usable], labels[:usable]
        # Shard the file names, not the decoded files, so each process opens only its own files.
        ds = tf.data.Dataset.from_tensor_slices((list(paths), list(labels))).shard(num_shards, shard_index)
        return ds.map(
            lambda path, label: {"image": tf.io.read_file(path), "label": label},
            num_parallel_calls=tf.data.AUTOTUNE,
        )

    def _checked_split(self, split: str) -> CheckedSplit:
        """Decodes every image of `split` once (cached) and keeps those that decode."""
        if split not in self._checked:
            self._checked[split] = self._check(split)
        return self._checked[split]

    def _check(self, split: str) -> CheckedSplit:
        if split not in self._builder.info.splits:
            raise ValueError(
                f"Split {split!r} not found in folder {self._root!r}; its splits are "
                f"{sorted(self._builder.info.splits)}. Set train_split / eval_split to one of them."
            )
        total = self._builder.info.splits[split].num_examples
        logger.info("Checking that the %d images of %s/%s decode (one pass)...", total, self._root, split)
        examples = self._builder.as_dataset(split=split, decoders={"image": tfds.decode.SkipDecoding()})
        all_paths = [path.decode() for path in examples.map(lambda ex: ex["image/filename"]).as_numpy_iterator()]
        # `ignore_errors` drops exactly the examples whose decoding raised; the order of the rest is unchanged.
        decodable = examples.map(
            lambda ex: (ex["image/filename"], ex["label"], tf.shape(preprocessing.decode_rgb(ex["image"]))),
            num_parallel_calls=tf.data.AUTOTUNE,
        ).ignore_errors()
        paths, labels = [], []
        for count, (path, label, _) in enumerate(decodable.as_numpy_iterator(), start=1):
            paths.append(path.decode())
            labels.append(int(label))
            if count % _PROGRESS_EVERY == 0:
                logger.info("  %d/%d images checked", count, total)
        skipped = sorted(set(all_paths) - set(paths))
        listed = ", ".join(skipped[:_LISTED_SKIPS]) + (", ..." if len(skipped) > _LISTED_SKIPS else "")
        if skipped and not self._skip_undecodable:
            raise ValueError(
                f"{len(skipped)} of {total} images in {self._root}/{split} do not decode: {listed}. Remove or "
                "replace them, or set --config.input.skip_undecodable=True to train without them (counted in the log)."
            )
        if skipped:
            logger.warning(
                "Skipped %d of %d images in %s/%s that could not be decoded: %s",
                len(skipped),
                total,
                self._root,
                split,
                listed,
            )
        else:
            logger.info("All %d images in %s/%s decode.", total, self._root, split)
        return CheckedSplit(paths=tuple(paths), labels=tuple(labels))


def _check_same_classes(root: str, splits: list[str]) -> None:
    """Raises naming the class folders that some splits lack: labels count the union of all splits' folders, so a
    class missing from one split is one the model is never trained on, or never evaluated on."""
    classes = {
        split: {name for name in tf.io.gfile.listdir(f"{root}/{split}") if tf.io.gfile.isdir(f"{root}/{split}/{name}")}
        for split in splits
    }
    union = set().union(*classes.values())
    lacking = {split: sorted(n.rstrip("/") for n in union - names) for split, names in classes.items() if union - names}
    if lacking:
        listed = "; ".join(f"{split}/ lacks {', '.join(names)}" for split, names in lacking.items())
        raise ValueError(
            f"folder={root!r}: its splits have different class folders ({listed}). Give every split the same "
            "class folders, or move the odd classes out."
        )
