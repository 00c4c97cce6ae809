"""TFDS builder for the handwritten digits that ship with scikit-learn (`sklearn.datasets.load_digits`).

The 1,797 greyscale 8x8 images of the digits 0-9 are stored as uint8 RGB (intensities 0-16 scaled to 0-255), so they
go through the same TFDS reading and Inception preprocessing as ImageNet; preprocessing upsamples them.

The split is fixed and needs no random generator: row `i` of `load_digits` goes to `test` when `i % 5 == 0`, else
to `train` (1,437 train, 360 test). The rows cycle through the ten digits, so both splits stay class-balanced.

Importing this module registers the builder with TFDS under the name `sklearn_digits`. It prepares offline in seconds.
"""

from __future__ import annotations

import logging

import numpy as np
import tensorflow_datasets as tfds

logger = logging.getLogger(__name__)

IMAGE_SIDE = 8
NUM_CLASSES = 10
TEST_EVERY = 5  # Row i is a test example when i % TEST_EVERY == 0.
_MAX_INTENSITY = 16  # load_digits pixel values lie in [0, 16].


def is_test_row(row: int) -> bool:
    """Whether row `row` of `load_digits` belongs to the fixed test split."""
    return row % TEST_EVERY == 0


class SklearnDigits(tfds.core.GeneratorBasedBuilder):
    """scikit-learn's 8x8 handwritten digits as uint8 RGB images, with a fixed train/test split."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release."}

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Image(shape=(IMAGE_SIDE, IMAGE_SIDE, 3), dtype=np.uint8),
                    "label": tfds.features.ClassLabel(num_classes=NUM_CLASSES),
                    # Row in load_digits, so the fixed split can be checked.
                    "sklearn_row": np.int32,
                }
            ),
            supervised_keys=("image", "label"),
            homepage="https://scikit-learn.org/stable/datasets/toy_dataset.html",
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        del dl_manager  # The data ships inside scikit-learn; nothing to download.
        # Imported here: only preparing needs scikit-learn (1.5 s to import), not each run that reads the records.
        from sklearn import datasets as sklearn_datasets  # noqa: PLC0415

        digits = sklearn_datasets.load_digits()
        logger.info("Writing the %d scikit-learn digits as TFDS records (a few seconds).", len(digits.target))
        rows = np.arange(len(digits.target))
        is_test = np.array([is_test_row(row) for row in rows])
        return {
            "train": self._generate_examples(digits, rows[~is_test]),
            "test": self._generate_examples(digits, rows[is_test]),
        }

    def _generate_examples(self, digits, rows: np.ndarray):
        grey = np.round(digits.images * (255 / _MAX_INTENSITY)).astype(np.uint8)
        for row in rows:
            yield (
                int(row),
                {
                    "image": np.repeat(grey[row][:, :, None], 3, axis=-1),
                    "label": int(digits.target[row]),
                    "sklearn_row": int(row),
                },
            )
