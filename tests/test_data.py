"""Tests of the input pipeline: digits builder, preprocessing, determinism, sharding, eval padding, folders."""

from __future__ import annotations

import collections
import io
import logging
import pathlib
import subprocess
import sys

import jax
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from jax.sharding import NamedSharding, PartitionSpec
from PIL import Image
from sklearn import datasets as sklearn_datasets

from inception_jax.artifacts import InputSpec, input_spec_from_config
from inception_jax.configs.digits import digits_input
from inception_jax.data import digits, folder, pipeline, preprocessing

IMAGE_SIZE = 24  # Small output images keep the tests fast; the default is 75.
BATCH_SIZE = 128  # 11 steps per digits epoch; a multiple of the 8 test devices.


@pytest.fixture
def cfg(data_dir):
    cfg = digits_input(75, eval_batch_size=128)
    cfg.data_dir = data_dir
    cfg.image_size = IMAGE_SIZE
    cfg.batch_size = BATCH_SIZE
    return cfg


@pytest.fixture
def sharding() -> NamedSharding:
    mesh = jax.make_mesh((jax.device_count(),), ("data",), axis_types=(jax.sharding.AxisType.Explicit,))
    return NamedSharding(mesh, PartitionSpec("data"))


def spec_of(cfg) -> InputSpec:
    """The input contract a run of `cfg` uses (no pretrained weights): Inception's, at cfg's image size."""
    return input_spec_from_config(cfg)


def take(iterator, count: int) -> list[dict[str, np.ndarray]]:
    return [{name: np.asarray(value) for name, value in next(iterator).items()} for _ in range(count)]


def image_bytes(array: np.ndarray, image_format: str, mode: str | None = None) -> bytes:
    buffer = io.BytesIO()
    image = Image.fromarray(array)
    (image.convert(mode) if mode else image).save(buffer, image_format)
    return buffer.getvalue()


def write_constant_images(split_dir, count: int) -> None:
    """PNGs whose constant grey level 5 * i identifies example i; two classes by parity."""
    for i in range(count):
        class_dir = split_dir / f"class_{i % 2}"
        class_dir.mkdir(parents=True, exist_ok=True)
        (class_dir / f"{i:03d}.png").write_bytes(image_bytes(np.full((6, 5, 3), 5 * i, np.uint8), "PNG"))


def example_ids(images: np.ndarray) -> list[int]:
    """Inverts `write_constant_images` for images preprocessed without augmentation."""
    grey = (images[:, 0, 0, 0] + 1.0) / 2.0 * 255.0
    return [int(round(level / 5)) for level in grey]


def unaugmented(cfg):
    cfg.random_crop = False
    cfg.flip = False
    cfg.color_distortion = False
    return cfg


# --- digits builder ---------------------------------------------------------------------------------------------


def test_digits_builder_has_fixed_split(data_dir):
    builder = tfds.builder("sklearn_digits", data_dir=data_dir)
    assert builder.info.splits["train"].num_examples == 1437
    assert builder.info.splits["test"].num_examples == 360
    sklearn_digits = sklearn_datasets.load_digits()
    for split in ("train", "test"):
        rows = set()
        for example in tfds.as_numpy(builder.as_dataset(split=split)):
            row = int(example["sklearn_row"])
            rows.add(row)
            assert example["image"].dtype == np.uint8 and example["image"].shape == (8, 8, 3)
            assert example["label"] == sklearn_digits.target[row]
            expected_grey = np.round(sklearn_digits.images[row] * 255 / 16)
            np.testing.assert_array_equal(example["image"], np.repeat(expected_grey[:, :, None], 3, axis=-1))
        assert rows == {row for row in range(1797) if digits.is_test_row(row) == (split == "test")}


def test_dataset_info(cfg):
    info = pipeline.dataset_info(cfg)
    assert (info.num_classes, info.num_train_examples, info.num_eval_examples) == (10, 1437, 360)


# --- preprocessing ----------------------------------------------------------------------------------------------


def test_train_preprocessing_is_seeded_and_in_range():
    image = tf.constant(np.random.default_rng(0).integers(0, 256, (37, 53, 3), dtype=np.uint8))

    def augment(seed):
        return preprocessing.preprocess_for_train(image, tf.constant(seed), image_size=IMAGE_SIZE).numpy()

    first = augment([1, 2])
    assert first.shape == (IMAGE_SIZE, IMAGE_SIZE, 3) and first.dtype == np.float32
    assert first.min() >= -1.0 and first.max() <= 1.0
    np.testing.assert_array_equal(first, augment([1, 2]))
    assert not np.array_equal(first, augment([1, 3]))


def test_preprocessing_runs_inside_tf_data():
    images = np.random.default_rng(1).integers(0, 256, (6, 20, 30, 3), dtype=np.uint8)
    encoded = [image_bytes(image, "PNG") for image in images]

    def train_and_eval(index, data):
        image = preprocessing.decode_rgb(data)
        seed = tf.stack([tf.constant(7, tf.int64), index])
        return (
            preprocessing.preprocess_for_train(image, seed, image_size=IMAGE_SIZE, color_ordering="fixed"),
            preprocessing.preprocess_for_eval(image, InputSpec(image_size=IMAGE_SIZE)),
        )

    for train, evaluation in tf.data.Dataset.from_tensor_slices(encoded).enumerate().map(train_and_eval):
        for image in (train.numpy(), evaluation.numpy()):
            assert image.shape == (IMAGE_SIZE, IMAGE_SIZE, 3) and image.dtype == np.float32
            assert image.min() >= -1.0 and image.max() <= 1.0


def test_imagenets_odd_files_cmyk_jpegs_and_pngs_named_jpeg_decode_to_pils_rgb():
    """ImageNet's train archive holds CMYK JPEGs and PNGs with a .JPEG name; both must give PIL's pixels."""
    from fixtures.photos import photo_path  # noqa: PLC0415

    with Image.open(photo_path("china")) as photo:
        pixels = np.asarray(photo.convert("RGB").resize((500, 375)))  # ImageNet's typical size
    files = {
        "cmyk": image_bytes(pixels, "JPEG", mode="CMYK"),
        "png named .JPEG": image_bytes(pixels, "PNG"),
        "grey": image_bytes(pixels[:, :, 0], "JPEG"),
    }
    for name, data in files.items():
        with Image.open(io.BytesIO(data)) as image:
            expected = np.asarray(image.convert("RGB"))
        np.testing.assert_array_equal(preprocessing.decode_rgb(data).numpy(), expected, err_msg=name)
    with Image.open(io.BytesIO(files["cmyk"])) as image:
        assert image.mode == "CMYK"


def test_eval_preprocessing_maps_uint8_range_to_signed_unit_range():
    for level, expected in ((0, -1.0), (255, 1.0)):
        image = tf.fill([10, 10, 3], tf.constant(level, tf.uint8))
        np.testing.assert_allclose(preprocessing.preprocess_for_eval(image, InputSpec(image_size=IMAGE_SIZE)), expected)


def test_eval_normalises_with_the_specs_mean_and_std():
    spec = InputSpec(image_size=8, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
    image = tf.fill([10, 10, 3], tf.constant(128, tf.uint8))
    expected = (128 / 255 - np.array(spec.mean)) / np.array(spec.std)
    np.testing.assert_allclose(preprocessing.preprocess_for_eval(image, spec)[3, 3], expected, rtol=1e-6)


@pytest.mark.parametrize("interpolation", ["bilinear", "bicubic"])
@pytest.mark.parametrize("shape", [(30, 35), (61, 40)], ids=["landscape", "portrait"])  # offsets 3.5→4, 7
def test_resize_shorter_is_torchvisions_resize_then_center_crop(shape, interpolation):
    """PIL is what timm's and torchvision's transforms resize with: shorter side ⌊16 / 0.8⌋ = 20, centre 16²."""
    pixels = np.random.default_rng(5).integers(0, 256, (*shape, 3), dtype=np.uint8)
    spec = InputSpec(image_size=16, crop_fraction=0.8, crop_mode="resize_shorter", interpolation=interpolation)
    height, width = shape
    size = (20, int(20 * width / height)) if width >= height else (int(20 * height / width), 20)  # (h, w)
    resample = {"bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC}[interpolation]
    resized = np.asarray(Image.fromarray(pixels).resize(size[::-1], resample), np.float32) / 255
    top, left = round((size[0] - 16) / 2), round((size[1] - 16) / 2)  # torchvision rounds half to even
    expected = (resized[top : top + 16, left : left + 16] - 0.5) / 0.5
    ours = preprocessing.preprocess_for_eval(tf.constant(pixels), spec).numpy()
    assert ours.shape == (16, 16, 3)
    # PIL resamples in 8-bit fixed point: at most one grey level apart, which is 2/255 in [-1, 1].
    assert np.abs(ours - expected).max() <= 2 / 255 + 1e-6


def test_each_augmentation_step_can_be_switched_off():
    image = tf.constant(np.random.default_rng(2).integers(0, 256, (16, 16, 3), dtype=np.uint8))
    seed = tf.constant([3, 4])
    plain = preprocessing.preprocess_for_eval(image, InputSpec(image_size=IMAGE_SIZE, crop_fraction=1.0)).numpy()
    no_augmentation = preprocessing.preprocess_for_train(
        image, seed, image_size=IMAGE_SIZE, random_crop=False, flip=False, color_distortion=False
    )
    np.testing.assert_array_equal(no_augmentation, plain)
    flips = [
        preprocessing.preprocess_for_train(
            image, tf.constant([0, s]), image_size=IMAGE_SIZE, random_crop=False, color_distortion=False
        ).numpy()
        for s in range(8)
    ]
    assert all(np.array_equal(f, plain) or np.array_equal(f, plain[:, ::-1]) for f in flips)
    assert any(np.array_equal(f, plain[:, ::-1]) for f in flips)


def test_crop_padding_takes_a_shifted_window_of_the_zero_padded_image():
    image = np.random.default_rng(3).integers(1, 256, (16, 16, 3), dtype=np.uint8)
    padded = (np.pad(image, ((2, 2), (2, 2), (0, 0))) / 255.0 - 0.5) * 2.0
    offsets = set()
    for s in range(12):
        crop = preprocessing.preprocess_for_train(
            tf.constant(image), tf.constant([5, s]), image_size=16, crop_padding=2, flip=False, color_distortion=False
        ).numpy()
        matches = [
            (dy, dx)
            for dy in range(5)
            for dx in range(5)
            if np.allclose(crop, padded[dy : dy + 16, dx : dx + 16], atol=1e-6)
        ]
        assert len(matches) == 1
        offsets.add(matches[0])
    assert len(offsets) > 3


def test_unknown_color_ordering_is_rejected():
    with pytest.raises(ValueError, match="random"):
        preprocessing.preprocess_for_train(
            tf.zeros([8, 8, 3], tf.uint8), tf.constant([0, 0]), image_size=8, color_ordering="slim"
        )


# --- training batches -------------------------------------------------------------------------------------------


def test_train_batches_are_global_sharded_arrays(cfg, sharding):
    batch = next(pipeline.train_iterator(cfg, spec_of(cfg), sharding))
    assert set(batch) == {"image", "label"}
    assert batch["image"].shape == (BATCH_SIZE, IMAGE_SIZE, IMAGE_SIZE, 3) and batch["image"].dtype == np.float32
    assert batch["label"].shape == (BATCH_SIZE,) and batch["label"].dtype == np.int32
    assert batch["image"].sharding == sharding
    images, labels = np.asarray(batch["image"]), np.asarray(batch["label"])
    assert images.min() >= -1.0 and images.max() <= 1.0
    assert labels.min() >= 0 and labels.max() < 10


def test_same_seed_gives_same_batches_and_other_seeds_differ(cfg, sharding):
    cfg.flip = True
    cfg.color_distortion = True
    first, again = (take(pipeline.train_iterator(cfg, spec_of(cfg), sharding, seed=5), 3) for _ in range(2))
    other = take(pipeline.train_iterator(cfg, spec_of(cfg), sharding, seed=6), 3)
    for a, b, c in zip(first, again, other):
        np.testing.assert_array_equal(a["image"], b["image"])
        np.testing.assert_array_equal(a["label"], b["label"])
        assert not np.array_equal(a["image"], c["image"])


@pytest.mark.parametrize("start_step", [4, 11, 13])  # Mid-epoch 0, first step of epoch 1, mid-epoch 1.
def test_resumed_iterator_matches_uninterrupted_run(cfg, sharding, start_step):
    uninterrupted = take(pipeline.train_iterator(cfg, spec_of(cfg), sharding, seed=3), start_step + 3)
    resumed = take(pipeline.train_iterator(cfg, spec_of(cfg), sharding, seed=3, start_step=start_step), 3)
    for expected, actual in zip(uninterrupted[start_step:], resumed):
        np.testing.assert_array_equal(expected["image"], actual["image"])
        np.testing.assert_array_equal(expected["label"], actual["label"])


def test_each_epoch_is_a_fresh_permutation(tmp_path, sharding):
    write_constant_images(tmp_path / "train", 48)
    cfg = unaugmented(digits_input(75, eval_batch_size=128))
    cfg.update(dataset="folder", folder=str(tmp_path), image_size=4, batch_size=16)
    batches = take(pipeline.train_iterator(cfg, spec_of(cfg), sharding), 6)
    epochs = [sum((example_ids(b["image"]) for b in batches[e * 3 : e * 3 + 3]), []) for e in range(2)]
    assert sorted(epochs[0]) == sorted(epochs[1]) == list(range(48))
    assert epochs[0] != epochs[1]


def test_processes_read_disjoint_shards(tmp_path, sharding, monkeypatch):
    write_constant_images(tmp_path / "train", 48)
    cfg = unaugmented(digits_input(75, eval_batch_size=128))
    cfg.update(dataset="folder", folder=str(tmp_path), image_size=4, batch_size=16)
    monkeypatch.setattr(jax, "process_count", lambda: 2)
    seen = []
    for process in range(2):
        monkeypatch.setattr(jax, "process_index", lambda process=process: process)
        # 24 examples per process and 8 per local batch: one epoch is 3 steps.
        batches = take(pipeline.train_iterator(cfg, spec_of(cfg), sharding), 3)
        assert all(b["image"].shape[0] == 8 for b in batches)
        seen.append(sum((example_ids(b["image"]) for b in batches), []))
    assert not set(seen[0]) & set(seen[1])
    assert sorted(seen[0] + seen[1]) == list(range(48))


def test_batch_size_not_divisible_by_devices_raises(cfg, sharding):
    cfg.batch_size = jax.device_count() + 1
    with pytest.raises(ValueError, match=f"batch_size={cfg.batch_size}.*{jax.device_count()} devices"):
        pipeline.train_iterator(cfg, spec_of(cfg), sharding)
    cfg.eval_batch_size = 12
    with pytest.raises(ValueError, match="eval_batch_size=12"):
        pipeline.eval_iterator(cfg, spec_of(cfg), sharding)


# --- evaluation -------------------------------------------------------------------------------------------------


def test_eval_covers_each_example_once_and_masks_padding(cfg, sharding):
    batches = [
        {name: np.asarray(value) for name, value in b.items()}
        for b in pipeline.eval_iterator(cfg, spec_of(cfg), sharding)
    ]
    assert len(batches) == 3  # 360 examples in batches of 128: the last holds 104 and 24 padding.
    masks = np.concatenate([b["mask"] for b in batches])
    assert masks.dtype == bool and masks.sum() == 360 and not masks[360:].any()
    images = np.concatenate([b["image"] for b in batches])[masks]
    labels = np.concatenate([b["label"] for b in batches])[masks]

    sklearn_digits = sklearn_datasets.load_digits()
    test_rows = [row for row in range(1797) if digits.is_test_row(row)]
    expected = collections.Counter()
    for row in test_rows:
        grey = np.round(sklearn_digits.images[row] * 255 / 16).astype(np.uint8)
        image = preprocessing.preprocess_for_eval(
            np.repeat(grey[:, :, None], 3, axis=-1), InputSpec(image_size=IMAGE_SIZE)
        )
        expected[(image.numpy().tobytes(), int(sklearn_digits.target[row]))] += 1
    assert collections.Counter(zip((image.tobytes() for image in images), labels.tolist())) == expected


def test_eval_shards_have_equal_batch_counts_and_cover_split(tmp_path, sharding, monkeypatch):
    write_constant_images(tmp_path / "test", 21)
    cfg = digits_input(75, eval_batch_size=128)
    cfg.update(dataset="folder", folder=str(tmp_path), eval_split="test", image_size=4, eval_batch_size=16)
    monkeypatch.setattr(jax, "process_count", lambda: 2)
    seen, batch_counts = [], []
    for process in range(2):
        monkeypatch.setattr(jax, "process_index", lambda process=process: process)
        batches = [
            {name: np.asarray(v) for name, v in b.items()} for b in pipeline.eval_iterator(cfg, spec_of(cfg), sharding)
        ]
        batch_counts.append(len(batches))
        for b in batches:
            seen += example_ids(b["image"][b["mask"]])
    assert batch_counts == [2, 2]  # Shards of 11 and 10 examples, 8 per local batch.
    assert sorted(seen) == list(range(21))


# --- image folders ----------------------------------------------------------------------------------------------


def test_bad_folder_images_are_converted_or_skipped_and_counted(tmp_path, sharding, caplog):
    pixels = np.random.default_rng(3).integers(0, 256, (12, 10, 3), dtype=np.uint8)
    good_jpeg = image_bytes(pixels, "JPEG")
    files = {
        "good.jpg": good_jpeg,
        "grey.png": image_bytes(pixels[:, :, 0], "PNG"),
        "rgba.png": image_bytes(np.dstack([pixels, pixels[:, :, :1]]), "PNG"),
        "cmyk.jpg": image_bytes(pixels, "JPEG", mode="CMYK"),
        "truncated.jpg": good_jpeg[: len(good_jpeg) // 2],
        "random_bytes.jpg": np.random.default_rng(4).bytes(300),
    }
    for split in ("train", "test"):
        for name, data in files.items():
            (tmp_path / split / "things").mkdir(parents=True, exist_ok=True)
            (tmp_path / split / "things" / name).write_bytes(data)
        (tmp_path / split / "others").mkdir()
        for i in range(4):
            (tmp_path / split / "others" / f"good_{i}.png").write_bytes(image_bytes(pixels, "PNG"))

    cfg = digits_input(75, eval_batch_size=128)
    cfg.update(dataset="folder", folder=str(tmp_path), image_size=8, batch_size=8, eval_batch_size=8)
    cfg.skip_undecodable = True  # without it they stop the run, named (tests/test_faults.py)
    with caplog.at_level(logging.WARNING, logger=folder.__name__):
        info = pipeline.dataset_info(cfg)
    assert (info.num_classes, info.num_train_examples, info.num_eval_examples) == (2, 8, 8)
    assert "Skipped 2 of 10 images" in caplog.text
    assert "truncated.jpg" in caplog.text and "random_bytes.jpg" in caplog.text

    eval_masks = [np.asarray(b["mask"]) for b in pipeline.eval_iterator(cfg, spec_of(cfg), sharding)]
    assert len(eval_masks) == 1 and eval_masks[0].all()
    train_batches = take(
        pipeline.train_iterator(cfg, spec_of(cfg), sharding), 2
    )  # One step per epoch: crosses an epoch.
    assert all(np.isfinite(b["image"]).all() for b in train_batches)


def test_class_folders_that_differ_between_splits_are_named(tmp_path):
    png = image_bytes(np.zeros((4, 4, 3), np.uint8), "PNG")
    for split, classes in (("train", ("cat", "dog", "fox")), ("test", ("cat", "bird", "fox"))):
        for name in classes:
            (tmp_path / split / name).mkdir(parents=True)
            (tmp_path / split / name / "0.png").write_bytes(png)
    cfg = digits_input(75, eval_batch_size=128)
    cfg.update(dataset="folder", folder=str(tmp_path))
    with pytest.raises(ValueError, match=r"different class folders \(test/ lacks dog; train/ lacks bird\)"):
        pipeline.dataset_info(cfg)


def test_missing_folder_says_what_to_do(tmp_path):
    cfg = digits_input(75, eval_batch_size=128)
    cfg.update(dataset="folder", folder=str(tmp_path / "absent"))
    with pytest.raises(ValueError, match="<split>/<class>/<image>"):
        pipeline.dataset_info(cfg)


# --- errors and isolation ---------------------------------------------------------------------------------------


def test_unknown_dataset_lists_valid_choices(cfg):
    cfg.dataset = "mnistt"
    with pytest.raises(ValueError) as error:
        pipeline.dataset_info(cfg)
    message = str(error.value)
    for expected in ("'mnistt'", "'sklearn_digits'", "'folder'", "any TFDS dataset name", "mnist"):
        assert expected in message


def test_importing_the_pipeline_changes_no_tensorflow_setting_until_a_dataset_is_opened(data_dir):
    code = f"""
import tensorflow as tf
calls = []
tf.config.set_visible_devices = lambda devices, kind=None: calls.append((list(devices), kind))
from inception_jax.configs.digits import digits_input
from inception_jax.data import pipeline
assert calls == [], calls
cfg = digits_input(75)
cfg.data_dir = {data_dir!r}
pipeline.num_classes(cfg)
assert calls == [([], "GPU")], calls
"""
    subprocess.run([sys.executable, "-c", code], check=True, cwd=pathlib.Path(__file__).parents[1])


def test_importing_inception_jax_does_not_import_tensorflow():
    code = "import sys, inception_jax; assert 'tensorflow' not in sys.modules, 'tensorflow was imported'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=pathlib.Path(__file__).parents[1])
