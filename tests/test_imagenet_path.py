"""The paper's ImageNet path on a miniature ImageNet in the ILSVRC 2012 archives' layout (fixtures/mini_imagenet.py):
TFDS's real `imagenet2012` builder prepares it from `manual_dir`, unmodified, and `--config=inception_jax:paper`
trains, resumes bitwise and evaluates on it with only step, batch and network-size overrides."""

import io

import jax
import numpy as np
import pytest
from fixtures import mini_imagenet as mini_imagenet_archives
from PIL import Image
from train_utils import QUICK, final_state

from inception_jax import configs
from inception_jax.data import pipeline, sources
from inception_jax.evaluation.evaluator import evaluate
from inception_jax.train.trainer import train_and_evaluate

TRAIN_EXAMPLES = len(mini_imagenet_archives.SYNSETS) * mini_imagenet_archives.IMAGES_PER_SYNSET


def paper_config(mini_imagenet, **overrides):
    """The paper's config on the miniature: batches for 8 devices, a few steps, ResNet-20 at 32 px for the network
    (the recipe, input pipeline and builder are the paper's)."""
    data_dir, manual_dir, _ = mini_imagenet
    config = configs.get_config("paper")
    config.input.update(data_dir=data_dir, manual_dir=manual_dir)
    config.model = {"aux_head": False, "block_counts": (1, 1, 1)}
    config.update_from_flattened_dict(
        {
            **{key: value for key, value in QUICK.items() if not key.startswith("model.")},
            "input.batch_size": 8,
            "input.eval_batch_size": 8,
            "total_steps": 4,
            "total_epochs": 0.0,
            "log_every_steps": 2,
            "eval_every_steps": 4,
            "checkpoint_every_steps": 2,
            **overrides,
        }
    )
    return config


def test_the_real_builder_prepares_the_archives_with_their_labels_and_odd_files(mini_imagenet, tmp_path):
    _, manual_dir, files = mini_imagenet
    config = configs.get_config("paper")
    config.input.update(data_dir=str(tmp_path / "tfds"), manual_dir=manual_dir)  # a data_dir of its own
    assert not sources.is_prepared("imagenet2012", data_dir=config.input.data_dir)
    info = pipeline.dataset_info(config.input)  # prepares it, as the trainer's first call does
    assert (info.num_classes, info.num_train_examples, info.num_eval_examples) == (
        1000,
        TRAIN_EXAMPLES,
        mini_imagenet_archives.VALIDATION_IMAGES,
    )
    import tensorflow_datasets as tfds  # noqa: PLC0415

    builder = tfds.builder("imagenet2012", data_dir=config.input.data_dir)
    names = builder.info.features["label"].names
    examples = {
        example["file_name"].decode(): example
        for split in ("train", "validation")
        for example in tfds.as_numpy(builder.as_dataset(split=split))
    }
    # Train labels come from the synset tars; validation labels from TFDS's list, by file name.
    assert names[examples["n01440764_1.JPEG"]["label"]] == "n01440764" and names.index("n01440764") == 0
    assert names[examples[mini_imagenet_archives.CMYK_FILE]["label"]] == "n01739381"
    expected = {1: "n01751748", 2: "n09193705", 3: "n02105855"}  # ILSVRC 2012's ground truth for these files
    for number, synset in expected.items():
        assert names[examples[f"ILSVRC2012_val_{number:08d}.JPEG"]["label"]] == synset
    # The builder re-encodes the CMYK and PNG files as RGB JPEGs (TFDS's fix, quality 100, 4:2:0 chroma): the
    # same picture as PIL's, a few grey levels off (measured: mean 2.5 and 2.9, max 42 and 49).
    for name in (mini_imagenet_archives.CMYK_FILE, mini_imagenet_archives.PNG_FILE):
        with Image.open(io.BytesIO(files["train"][name])) as original:
            expected_pixels = np.asarray(original.convert("RGB")).astype(int)
        stored = examples[name]["image"].astype(int)
        assert stored.shape == expected_pixels.shape
        assert np.abs(stored - expected_pixels).mean() < 4, name


def test_the_paper_config_trains_resumes_bitwise_and_evaluates_at_1_and_12_crops(mini_imagenet, tmp_path):
    uninterrupted = train_and_evaluate(paper_config(mini_imagenet), str(tmp_path / "a"))
    assert set(uninterrupted) >= {"eval/top1", "eval_ema/top1"}

    train_and_evaluate(paper_config(mini_imagenet, total_steps=2), str(tmp_path / "b"))  # stopped after step 2
    train_and_evaluate(paper_config(mini_imagenet), str(tmp_path / "b"))  # the same run, resumed to step 4
    final_a, final_b = final_state(tmp_path / "a"), final_state(tmp_path / "b")
    assert int(final_b["step"]) == 4
    jax.tree.map(np.testing.assert_array_equal, final_a, final_b)  # bitwise on CPU

    results = evaluate(workdirs=[str(tmp_path / "a")], crops=(1, 12), ema=False)
    assert [(result.crops, result.count) for result in results] == [(1, 8), (12, 8)]
    assert results[0].top1 == pytest.approx(uninterrupted["eval/top1"])  # the trainer's own evaluation
    assert all(0 <= result.top1 <= result.top5 <= 1 for result in results)
