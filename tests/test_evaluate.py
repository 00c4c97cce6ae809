"""The evaluation: crop geometry, 144 views per image, parity with the trainer, ensembles, and the CLI."""

import dataclasses
import json
import os
import subprocess
import sys

import flax.linen as nn
import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest
import tensorflow as tf
from PIL import Image
from train_utils import REPO, tiny_config

from inception_jax import artifacts
from inception_jax.artifacts import InputSpec
from inception_jax.data import preprocessing
from inception_jax.evaluation import crops, evaluator, inputs, networks, scoring
from inception_jax.train import mesh as mesh_lib
from inception_jax.train.trainer import train_and_evaluate


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
                mirrored.scale_side_at_224,
                mirrored.square,
                mirrored.crop,
            )
    assert {view.scale_side_at_224 for view in crops.view_layout(12)} == {256}  # S/0.875 for S=224.


@pytest.mark.parametrize("shape", [(20, 32, 3), (32, 20, 3)], ids=["landscape", "portrait"])
def test_144_views_are_s_by_s_crops_at_the_right_places_and_mirrored(shape):
    image = tf.constant(np.random.default_rng(0).integers(0, 256, shape), tf.uint8)
    size = 16
    views = crops.image_views(image, InputSpec(image_size=size), 144).numpy()
    assert views.shape == (144, size, size, 3)
    assert views.min() >= -1.0 and views.max() <= 1.0
    np.testing.assert_array_equal(views[1::2], views[0::2, :, ::-1])  # Each odd view mirrors its even twin.

    def view(scale, square, crop):
        return views[crops.view_layout(144).index(crops.View(scale, square, crop, False))]

    def resized(short, long):
        landscape = shape[1] > shape[0]
        target = [short, long] if landscape else [long, short]
        return tf.image.resize(tf.image.convert_image_dtype(image, tf.float32), target).numpy() * 2 - 1

    # Shorter sides 16·{256, 352}/224 = 18.3, 25.1 -> 18, 25; longer sides ⌊28.8⌋, 40 -> 28, 40 (torchvision's rule).
    np.testing.assert_allclose(view(256, "first", "top_left"), resized(18, 28)[:16, :16], atol=1e-6)
    last_square = resized(25, 40)[-25:, -25:]
    np.testing.assert_allclose(view(352, "last", "bottom_right"), last_square[-16:, -16:], atol=1e-6)
    np.testing.assert_allclose(view(352, "last", "center"), last_square[4:20, 4:20], atol=1e-6)
    whole = tf.image.resize(last_square, [size, size]).numpy()
    np.testing.assert_allclose(view(352, "last", "whole"), whole, atol=1e-5)


def test_one_crop_is_the_trainers_eval_preprocessing_and_12_crops_are_the_first_scale_center_square():
    image = tf.constant(np.random.default_rng(1).integers(0, 256, (24, 40, 3)), tf.uint8)
    spec = InputSpec(image_size=16)
    one = crops.image_views(image, spec, 1).numpy()
    np.testing.assert_array_equal(one[0], preprocessing.preprocess_for_eval(image, spec).numpy())
    twelve = crops.image_views(image, spec, 12).numpy()
    all_views = crops.image_views(image, spec, 144).numpy()
    layout = crops.view_layout(144)
    np.testing.assert_array_equal(twelve, all_views[[layout.index(view) for view in crops.view_layout(12)]])


def test_unknown_crop_counts_are_refused_with_the_choices():
    with pytest.raises(ValueError, match=r"\(1, 12, 144\)"):
        crops.image_views(tf.zeros([8, 8, 3], tf.uint8), InputSpec(image_size=8), 10)


def test_views_follow_the_specs_resize_and_normalisation():
    image = tf.constant(np.random.default_rng(6).integers(0, 256, (30, 44, 3)), tf.uint8)
    inception = InputSpec(image_size=16)
    torchvision = artifacts.TORCHVISION_INPUT.replace(image_size=16)
    for spec in (inception, torchvision):
        views = crops.image_views(image, spec, 12).numpy()
        pixels = views * np.array(spec.std, np.float32) + np.array(spec.mean, np.float32)
        assert pixels.min() >= -1e-6 and pixels.max() <= 1 + 1e-6
    # The "whole square" view at the first scale, by hand with PIL: shorter side round(16·256/224) = 18, longer
    # ⌊18·44/30⌋ = 26, the centre square from column 4, resized to 16².
    pixels = Image.fromarray(image.numpy()).resize((26, 18), Image.BILINEAR).crop((4, 0, 22, 18))
    expected = np.asarray(pixels.resize((16, 16), Image.BILINEAR), np.float32) / 255
    whole = crops.image_views(image, torchvision, 12).numpy()[
        crops.view_layout(12).index(crops.View(256, "center", "whole", False))
    ]
    pixels_back = whole * np.array(torchvision.std, np.float32) + np.array(torchvision.mean, np.float32)
    assert np.abs(pixels_back - expected).max() <= 1 / 255 + 1e-5  # PIL's fixed point: at most one grey level


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
    specs = [InputSpec(image_size=75), artifacts.TORCHVISION_INPUT.replace(image_size=80)]
    batches = list(inputs.multiview_batches(config.input, specs, 144, sharding, max_examples=10))
    assert all(batch["views"][0].shape == (8, 144, 75, 75, 3) for batch in batches)
    assert all(batch["views"][1].shape == (8, 144, 80, 80, 3) for batch in batches)  # one set per spec
    masks = np.concatenate([np.asarray(batch["mask"]) for batch in batches])
    assert masks.sum() == 10 and masks[:10].all()  # 10 real images, then masked padding.
    one_crop = next(inputs.multiview_batches(config.input, specs[:1], 1, sharding, max_examples=10))
    labels = np.concatenate([np.asarray(batch["label"]) for batch in batches])
    np.testing.assert_array_equal(labels[:10], np.asarray(one_crop["label"])[:10])


class _MeanColour(nn.Module):
    """Logits = each image's mean RGB: a parameter-free stand-in network whose outputs differ per view."""

    @nn.compact
    def __call__(self, images, train: bool = False):
        return images.mean(axis=(1, 2)) * 5.0


def test_probabilities_are_the_softmax_averaged_over_each_images_views():
    views = np.random.default_rng(2).uniform(-1, 1, (3, 144, 4, 4, 3)).astype(np.float32)
    averaged = scoring.view_averaged_log_probabilities(_MeanColour(), {}, views)
    logits = views.mean(axis=(2, 3)) * 5.0
    softmax = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    np.testing.assert_allclose(np.exp(averaged), softmax.mean(axis=1), rtol=1e-6)
    two = np.log(softmax[:, :2])
    np.testing.assert_allclose(
        np.exp(scoring.ensemble_average([two[:, 0], two[:, 1]])), softmax[:, :2].mean(1), rtol=1e-6
    )


# ---------------------------------------------------------------- on a trained tiny run


def test_one_crop_evaluation_equals_the_trainers_evaluation_exactly(tiny_run):
    workdir, _, trainer_metrics = tiny_run
    raw, ema = evaluator.evaluate(workdirs=[workdir], crops=(1,))
    assert raw.count == ema.count == 360
    assert (raw.top1, raw.top5) == (trainer_metrics["eval/top1"], trainer_metrics["eval/top5"])
    assert (ema.top1, ema.top5) == (trainer_metrics["eval_ema/top1"], trainer_metrics["eval_ema/top5"])


def test_evaluating_a_run_builds_no_optimizer(tiny_run, no_optimizer):
    workdir, _, trainer_metrics = tiny_run
    (ema,) = evaluator.evaluate(workdirs=[workdir], crops=(1,), ema=True)
    assert (ema.top1, ema.top5) == (trainer_metrics["eval_ema/top1"], trainer_metrics["eval_ema/top5"])


def test_restore_run_gives_the_trainers_final_state_and_spec(tiny_run):
    workdir, config, _ = tiny_run
    run = artifacts.restore_run(workdir)
    with ocp.StandardCheckpointer() as checkpointer:  # what the trainer wrote at its last step, read raw
        saved = checkpointer.restore(os.path.join(workdir, "checkpoints", "6", "weights"))
    assert run.step == 6 and run.config.to_dict() == config.to_dict()
    assert run.spec == artifacts.model_spec_from_config(config, num_classes=10)
    jax.tree.map(
        np.testing.assert_array_equal,
        jax.device_get(run.variables),
        {"params": saved["params"], "batch_stats": saved["batch_stats"]},
    )
    jax.tree.map(
        np.testing.assert_array_equal,
        jax.device_get(run.ema_variables),
        {"params": saved["ema_params"], "batch_stats": saved["ema_batch_stats"]},
    )


def test_an_ensemble_of_one_model_equals_that_model(tiny_run, tmp_path):
    workdir, config, _ = tiny_run
    # The same network once more, as converted weights: an ensemble of two identical members.
    (run_ema,) = networks.load_run(workdir, 10, mesh_lib.make_mesh(), kinds=(networks.EMA,))
    artifacts.save_weights(str(tmp_path), run_ema.spec, run_ema.variables)
    alone, alone_as_ensemble = evaluator.evaluate(
        workdirs=[workdir], ema=True, ensemble=True, crops=(12,), max_examples=24
    )
    assert alone_as_ensemble.network == "Ensemble of 1, EMA" and alone_as_ensemble.members == (alone.network,)
    assert (alone_as_ensemble.top1, alone_as_ensemble.top5) == (alone.top1, alone.top5)
    results = evaluator.evaluate(
        workdirs=[workdir], weights=[str(tmp_path)], ema=True, ensemble=True, crops=(12,), max_examples=24
    )
    assert [r.network for r in results][2] == "Ensemble of 2, EMA"
    assert {(r.top1, r.top5, r.count) for r in results} == {(alone.top1, alone.top5, 24)}


def test_each_network_is_fed_as_its_own_spec_says_in_one_pass(tiny_run, tmp_path):
    workdir, _, _ = tiny_run
    (run_ema,) = networks.load_run(workdir, 10, mesh_lib.make_mesh(), kinds=(networks.EMA,))
    # The same weights saved twice, once with a different input contract.
    other = InputSpec(
        image_size=80,
        crop_fraction=1.0,
        crop_mode="resize_shorter",
        interpolation="bicubic",
        mean=(0.4, 0.4, 0.4),
        std=(0.3, 0.3, 0.3),
    )
    artifacts.save_weights(str(tmp_path / "own"), run_ema.spec, run_ema.variables)
    artifacts.save_weights(str(tmp_path / "other"), dataclasses.replace(run_ema.spec, input=other), run_ema.variables)
    config = tiny_config(workdir).input
    config.eval_batch_size = 16
    together = evaluator.evaluate(
        weights=[str(tmp_path / "own"), str(tmp_path / "other")], input_config=config, max_examples=64
    )
    alone = [
        evaluator.evaluate(weights=[str(tmp_path / name)], input_config=config, max_examples=64)[0]
        for name in ("own", "other")
    ]
    assert [(r.top1, r.top5) for r in together] == [(r.top1, r.top5) for r in alone]
    assert [r.inputs for r in together] == [(run_ema.spec.input,), (other,)]
    # Overrides replace a field of every network's spec: both are then fed identically.
    overridden = evaluator.evaluate(
        weights=[str(tmp_path / "own"), str(tmp_path / "other")],
        input_config=config,
        max_examples=64,
        input_overrides={
            "image_size": 75,
            "crop_mode": "central_fraction",
            "crop_fraction": 0.875,
            "interpolation": "bilinear",
            "mean": (0.5,) * 3,
            "std": (0.5,) * 3,
        },
    )
    assert overridden[0].inputs == overridden[1].inputs == (run_ema.spec.input,)
    assert (overridden[1].top1, overridden[1].top5) == (alone[0].top1, alone[0].top5)


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
        [
            sys.executable,
            "-m",
            "inception_jax.evaluate",
            f"--workdir={workdir}",
            "--crops=1,144",
            "--max_examples=4",
            "--ensemble",
            f"--json={json_path}",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert lines[0] == "sklearn_digits test: 4 images"
    assert lines[1].endswith(
        "step 6): 75×75, central_fraction 0.875 bilinear, mean (0.5, 0.5, 0.5) std (0.5, 0.5, 0.5)"
    )
    header = lines.index("| Network | Crops | Top-1 Error | Top-5 Error |")
    rows = [line.split(" | ") for line in lines[header + 2 :]]
    assert [row[1] for row in rows] == ["1"] * 4 + ["144"] * 4  # raw, EMA and their two ensembles per count.
    assert "144-crop evaluation of 2 networks on 4 images" in done.stderr and "100.0% (4/4)" in done.stderr
    record = json.loads(json_path.read_text())
    assert [r["crops"] for r in record["results"]] == [1] * 4 + [144] * 4
    assert all(r["count"] == 4 and r["top1_error"] == pytest.approx(1 - r["top1"]) for r in record["results"])
    assert [f"{100 * r['top1_error']:.2f}%" for r in record["results"]] == [row[2] for row in rows]


def test_a_directory_without_checkpoints_is_explained_and_left_alone(tmp_path):
    with pytest.raises(FileNotFoundError, match="holds no training checkpoints"):
        evaluator.evaluate(workdirs=[str(tmp_path)])
    assert not os.path.exists(tmp_path / "checkpoints")  # Opening a checkpoint manager would have created it.
