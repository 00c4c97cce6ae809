"""The evaluation: crop geometry, 144 views per image, parity with the trainer, ensembles, and the CLI."""
import json
import os
import subprocess
import sys

import flax.linen as nn
import jax
import numpy as np
import pytest
import tensorflow as tf

from inception_jax.data import preprocessing
from inception_jax.evaluation import crops, evaluator, inputs, networks, scoring
from inception_jax.train import mesh as mesh_lib
from inception_jax.train.checkpoint import save_weights
from inception_jax.train.trainer import train_and_evaluate
from train_utils import REPO, tiny_config


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("tfds"))


@pytest.fixture(scope="module")
def tiny_run(data_dir, tmp_path_factory):
    """A finished tiny training run: (workdir, its config, the trainer's final evaluation)."""
    workdir = str(tmp_path_factory.mktemp("run"))
    config = tiny_config(data_dir)
    return workdir, config, train_and_evaluate(config, workdir)


# ---------------------------------------------------------------- crop geometry

def test_144_and_12_crop_layouts_are_distinct_views_with_mirrored_twins():
    for count, scales, squares in ((144, 4, 3), (12, 1, 1)):
        layout = crops.view_layout(count)
        assert len(layout) == len(set(layout)) == count
        assert len({view.scale_side_at_224 for view in layout}) == scales
        assert len({view.square for view in layout}) == squares
        for plain, mirrored in zip(layout[0::2], layout[1::2]):
            assert not plain.mirrored and mirrored.mirrored
            assert (plain.scale_side_at_224, plain.square, plain.crop) == (
                mirrored.scale_side_at_224, mirrored.square, mirrored.crop)
    assert {view.scale_side_at_224 for view in crops.view_layout(12)} == {256}  # S/0.875 for S=224.


@pytest.mark.parametrize("shape", [(20, 32, 3), (32, 20, 3)], ids=["landscape", "portrait"])
def test_144_views_are_s_by_s_crops_at_the_right_places_and_mirrored(shape):
    image = tf.constant(np.random.default_rng(0).integers(0, 256, shape), tf.uint8)
    size = 16
    views = crops.image_views(image, image_size=size, crops=144).numpy()
    assert views.shape == (144, size, size, 3)
    assert views.min() >= -1.0 and views.max() <= 1.0
    np.testing.assert_array_equal(views[1::2], views[0::2, :, ::-1])  # Each odd view mirrors its even twin.

    def view(scale, square, crop):
        return views[crops.view_layout(144).index(crops.View(scale, square, crop, False))]

    def resized(short, long):
        landscape = shape[1] > shape[0]
        target = [short, long] if landscape else [long, short]
        return tf.image.resize(tf.image.convert_image_dtype(image, tf.float32), target).numpy() * 2 - 1

    # Shorter sides 16·{256, 352}/224 = 18.3, 25.1 -> 18, 25; longer sides 28.8, 40 -> 29, 40.
    np.testing.assert_allclose(view(256, "first", "top_left"), resized(18, 29)[:16, :16], atol=1e-6)
    last_square = resized(25, 40)[-25:, -25:]
    np.testing.assert_allclose(view(352, "last", "bottom_right"), last_square[-16:, -16:], atol=1e-6)
    np.testing.assert_allclose(view(352, "last", "center"), last_square[4:20, 4:20], atol=1e-6)
    whole = tf.image.resize(last_square, [size, size]).numpy()
    np.testing.assert_allclose(view(352, "last", "whole"), whole, atol=1e-5)


def test_one_crop_is_the_trainers_eval_preprocessing_and_12_crops_are_the_first_scale_center_square():
    image = tf.constant(np.random.default_rng(1).integers(0, 256, (24, 40, 3)), tf.uint8)
    one = crops.image_views(image, image_size=16, crops=1, crop_fraction=0.875).numpy()
    np.testing.assert_array_equal(one[0], preprocessing.preprocess_for_eval(image, image_size=16).numpy())
    twelve = crops.image_views(image, image_size=16, crops=12).numpy()
    all_views = crops.image_views(image, image_size=16, crops=144).numpy()
    layout = crops.view_layout(144)
    np.testing.assert_array_equal(twelve, all_views[[layout.index(view) for view in crops.view_layout(12)]])


def test_unknown_crop_counts_are_refused_with_the_choices():
    with pytest.raises(ValueError, match=r"\(1, 12, 144\)"):
        crops.image_views(tf.zeros([8, 8, 3], tf.uint8), image_size=8, crops=10)


# ---------------------------------------------------------------- batches and averaging

def test_images_per_batch_keeps_one_crop_batches_and_splits_over_devices():
    assert jax.device_count() == 8, "conftest.py sets 8 CPU devices"
    assert inputs.images_per_batch(120, 1) == 120  # The trainer's eval batches.
    assert inputs.images_per_batch(120, 12) == 8
    assert inputs.images_per_batch(120, 144) == 8  # At least one image per device.
    with pytest.raises(ValueError, match="multiple of the 8 devices"):
        inputs.images_per_batch(100, 1)


def test_the_144_crop_input_gives_each_image_exactly_144_views(data_dir):
    config = tiny_config(data_dir)
    sharding = mesh_lib.batch_sharding(mesh_lib.make_mesh())
    batches = list(inputs.multiview_batches(config.input, 144, sharding, max_examples=10))
    assert all(batch["views"].shape == (8, 144, 75, 75, 3) for batch in batches)
    masks = np.concatenate([np.asarray(batch["mask"]) for batch in batches])
    assert masks.sum() == 10 and masks[:10].all()  # 10 real images, then masked padding.
    one_crop = next(inputs.multiview_batches(config.input, 1, sharding, max_examples=10))
    labels = np.concatenate([np.asarray(batch["label"]) for batch in batches])
    np.testing.assert_array_equal(labels[:10], np.asarray(one_crop["label"])[:10])


class _MeanColour(nn.Module):
    """Logits = each image's mean RGB: a parameter-free stand-in network whose outputs differ per view."""

    @nn.compact
    def __call__(self, images, train: bool = False):
        return images.mean(axis=(1, 2)) * 5.0


def test_probabilities_are_the_softmax_averaged_over_each_images_views():
    views = np.random.default_rng(2).uniform(-1, 1, (3, 144, 4, 4, 3)).astype(np.float32)
    averaged = scoring.view_averaged_probabilities(_MeanColour(), {}, views)
    logits = views.mean(axis=(2, 3)) * 5.0
    softmax = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    np.testing.assert_allclose(averaged, softmax.mean(axis=1), rtol=1e-6)


# ---------------------------------------------------------------- on a trained tiny run

def test_one_crop_evaluation_equals_the_trainers_evaluation_exactly(tiny_run):
    workdir, _, trainer_metrics = tiny_run
    raw, ema = evaluator.evaluate(workdirs=[workdir], crops=(1,))
    assert raw.count == ema.count == 360
    assert (raw.top1, raw.top5) == (trainer_metrics["eval/top1"], trainer_metrics["eval/top5"])
    assert (ema.top1, ema.top5) == (trainer_metrics["eval_ema/top1"], trainer_metrics["eval_ema/top5"])


def test_an_ensemble_of_one_model_equals_that_model(tiny_run, tmp_path):
    workdir, config, _ = tiny_run
    # The same network once more, as converted weights: an ensemble of two identical members.
    run_ema, = networks.load_run(workdir, 10, mesh_lib.make_mesh(), kinds=(networks.EMA,))
    save_weights(str(tmp_path), config.model_name, {**config.model.to_dict(), "num_classes": 10}, run_ema.variables)
    alone, alone_as_ensemble = evaluator.evaluate(workdirs=[workdir], ema=True, ensemble=True, crops=(12,),
                                                  max_examples=24)
    assert alone_as_ensemble.network == "Ensemble of 1, EMA" and alone_as_ensemble.members == (alone.network,)
    assert (alone_as_ensemble.top1, alone_as_ensemble.top5) == (alone.top1, alone.top5)
    results = evaluator.evaluate(workdirs=[workdir], weights=[str(tmp_path)], ema=True, ensemble=True, crops=(12,),
                                 max_examples=24)
    assert [r.network for r in results][2] == "Ensemble of 2, EMA"
    assert {(r.top1, r.top5, r.count) for r in results} == {(alone.top1, alone.top5, 24)}


def test_a_missing_step_names_the_saved_ones(tiny_run):
    workdir, _, _ = tiny_run
    with pytest.raises(ValueError, match=r"steps are \[2, 4, 6\]"):
        evaluator.evaluate(workdirs=[workdir], step=5)


def test_converted_weights_alone_ask_for_a_config(tmp_path):
    with pytest.raises(ValueError, match="pass --config"):
        evaluator.evaluate(weights=[str(tmp_path)])


def test_cli_prints_the_paper_table_and_writes_json(tiny_run, tmp_path):
    workdir, _, _ = tiny_run
    json_path = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, "-m", "inception_jax.evaluate", f"--workdir={workdir}", "--crops=1,144", "--max_examples=4",
         "--ensemble", f"--json={json_path}"],
        cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert lines[0] == "sklearn_digits test: 4 images at 75×75"
    assert lines[1] == "| Network | Crops | Top-1 Error | Top-5 Error |"
    rows = [line.split(" | ") for line in lines[3:]]
    assert [row[1] for row in rows] == ["1"] * 4 + ["144"] * 4  # raw, EMA and their two ensembles per count.
    assert "144-crop evaluation: 4/4 images" in done.stderr
    record = json.loads(json_path.read_text())
    assert [r["crops"] for r in record["results"]] == [1] * 4 + [144] * 4
    assert all(r["count"] == 4 and r["top1_error"] == pytest.approx(1 - r["top1"]) for r in record["results"])
    assert [f"{100 * r['top1_error']:.2f}%" for r in record["results"]] == [row[2] for row in rows]


def test_a_directory_without_checkpoints_is_explained_and_left_alone(tmp_path):
    with pytest.raises(FileNotFoundError, match="holds no training checkpoints"):
        evaluator.evaluate(workdirs=[str(tmp_path)])
    assert not os.path.exists(tmp_path / "checkpoints")  # Opening a checkpoint manager would have created it.
