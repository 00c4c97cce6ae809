"""Each source's input contract, end to end on real photos: convert, load, prepare as the spec says, compare.

The golden logits (fixtures/photo_logits.npz, from fixtures/make_photo_fixtures.py) are the frameworks' own:
timm's `create_transform` of each weight's pretrained_cfg, and torchvision's `transforms`, both on PIL images,
running the seeded weights that these tests convert with `python -m inception_jax.convert`. The library prepares
the photos with TensorFlow ops (`preprocessing.preprocess_for_eval`) as the saved spec says. Feeding the same
photos as the wrong spec, the library's old Inception default among them, must fail the same assertion.
"""

import dataclasses
import json
import shutil
import subprocess
import sys

import jax
import numpy as np
import pytest
from fixtures.photos import photo_paths
from fixtures.timm_weights import load_layouts as timm_layouts
from fixtures.timm_weights import timm_state_dict
from fixtures.torchvision_weights import load_layouts as torchvision_layouts
from fixtures.torchvision_weights import torchvision_state_dict
from safetensors.numpy import save_file
from train_utils import REPO

from inception_jax import artifacts, cli
from inception_jax.artifacts import IMAGENET_MEAN, IMAGENET_STD, INCEPTION_INPUT, InputSpec, load_weights
from inception_jax.convert import __main__ as convert_cli
from inception_jax.data import preprocessing

GOLDEN = f"{REPO}/tests/fixtures/photo_logits.npz"
# Largest |logit difference| over the photos, as a fraction of the golden logits' standard deviation.
TOLERANCE = 5e-3  # measured: 1.6e-3 (resnet50, bilinear), 1e-4 (IR-v2), < 1e-4 (v3); wrong specs ≥ 0.06

# weight: (convert --from, the state_dict, its spec, a wrong spec)
CASES = {
    "inception_resnet_v2.tf_in1k": (
        "timm",
        lambda: timm_state_dict(timm_layouts()["inception_resnet_v2"]),
        InputSpec(299, 0.8975, "resize_shorter", "bicubic"),
        INCEPTION_INPUT,
    ),
    "inception_v3.tv_in1k": (
        "timm",
        lambda: timm_state_dict(timm_layouts()["inception_v3"]),
        InputSpec(299, 0.875, "resize_shorter", "bicubic"),
        INCEPTION_INPUT,
    ),
    "inception_v3.gluon_in1k": (
        "timm",
        lambda: timm_state_dict(timm_layouts()["inception_v3"]),
        InputSpec(299, 0.875, "resize_shorter", "bicubic", IMAGENET_MEAN, IMAGENET_STD),
        InputSpec(299, 0.875, "resize_shorter", "bicubic"),
    ),
    "resnet50": (
        "torchvision",
        lambda: torchvision_state_dict(torchvision_layouts()["resnet50"]),
        InputSpec(224, 0.875, "resize_shorter", "bilinear", IMAGENET_MEAN, IMAGENET_STD),
        InputSpec(224, 0.875, "resize_shorter", "bilinear"),
    ),
}


def convert(arguments: list[str]) -> None:
    """`python -m inception_jax.convert ARGUMENTS`, in this process."""
    cli.run(convert_cli.main, ["convert", *arguments])


@pytest.fixture(scope="module")
def golden():
    return dict(np.load(GOLDEN))


def prepared(spec: InputSpec) -> np.ndarray:
    """The photos as the library's evaluation prepares them for `spec`: [photos, S, S, 3]."""
    return np.stack(
        [
            preprocessing.preprocess_for_eval(preprocessing.decode_rgb(path.read_bytes()), spec)
            for path in photo_paths().values()
        ]
    )


def relative_error(logits, golden_logits) -> float:
    return float(np.abs(np.asarray(logits) - golden_logits).max() / golden_logits.std())


@pytest.mark.parametrize("weight", list(CASES))
def test_converted_weights_fed_by_their_spec_give_the_frameworks_logits(weight, golden, tmp_path):
    source, state_dict, expected_spec, wrong_spec = CASES[weight]
    weights_file = tmp_path / "weights.safetensors"
    save_file(state_dict(), str(weights_file))
    convert(["--from", source, "--model", weight, "--input", str(weights_file), "--output", str(tmp_path / "out")])
    module, variables, spec = load_weights(str(tmp_path / "out"))
    assert spec.input == expected_spec
    forward = jax.jit(lambda images: module.apply(variables, images, train=False))
    error = relative_error(forward(prepared(spec.input)), golden[weight])
    wrong = relative_error(forward(prepared(wrong_spec)), golden[weight])
    print(f"{weight}: max |Δlogit| / std = {error:.1e} with its spec, {wrong:.1e} with {wrong_spec}")
    assert error < TOLERANCE, f"{weight}: max |Δlogit| is {error:.1e} of the logits' std (tolerance {TOLERANCE})"
    assert wrong >= TOLERANCE, f"{weight}: the wrong spec {wrong_spec} passes too ({wrong:.1e})"


# ---------------------------------------------------------------- the command lines, end to end


def run_module(module: str, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", module, *args], cwd=REPO, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"{module} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return done.stdout + done.stderr


def test_torchvision_weights_keep_their_input_through_convert_evaluate_and_finetune(tmp_path):
    # The photos as a two-class folder dataset, in both of the ImageNet configs' splits.
    for split in ("train", "validation"):
        for index, (name, path) in enumerate(photo_paths().items()):
            folder = tmp_path / "photos" / split / ("first" if index < 3 else "second")
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, folder / path.name)
    # Seeded torchvision resnet18 weights with a two-class classifier.
    state_dict = torchvision_state_dict(torchvision_layouts()["resnet18"])
    state_dict.update({"fc.weight": state_dict["fc.weight"][:2], "fc.bias": state_dict["fc.bias"][:2]})
    save_file(state_dict, str(tmp_path / "resnet18.safetensors"))
    torchvision_input = InputSpec(224, 0.875, "resize_shorter", "bilinear", IMAGENET_MEAN, IMAGENET_STD)

    run_module(
        "inception_jax.convert",
        "--from",
        "torchvision",
        "--model",
        "resnet18",
        "--input",
        str(tmp_path / "resnet18.safetensors"),
        "--output",
        str(tmp_path / "weights"),
    )
    module, variables, spec = load_weights(str(tmp_path / "weights"))
    assert spec.input == torchvision_input

    data = [
        "--config=inception_jax:lineage:model=resnet18",
        "--config.input.dataset=folder",
        f"--config.input.folder={tmp_path / 'photos'}",
        "--config.input.eval_batch_size=2",
    ]
    output = run_module(
        "inception_jax.evaluate", f"--weights={tmp_path / 'weights'}", *data, f"--json={tmp_path / 'results.json'}"
    )
    (result,) = json.loads((tmp_path / "results.json").read_text())["results"]
    assert InputSpec(**result["inputs"][0]) == torchvision_input, output
    # The same photos through load_weights and the spec, by hand: the evaluation's accuracy.
    labels = np.array([0, 0, 0, 1, 1, 1])
    predictions = np.asarray(jax.jit(module.apply)(variables, prepared(spec.input))).argmax(-1)
    assert result["count"] == 6 and result["top1"] == pytest.approx(np.mean(predictions == labels))

    output = run_module(
        "inception_jax.main",
        *data,
        f"--workdir={tmp_path / 'finetune'}",
        f"--config.init_from={tmp_path / 'weights'}",
        "--config.input.image_size=64",
        "--config.input.batch_size=2",
        "--config.total_steps=2",
        "--config.total_epochs=0",
        "--config.log_every_steps=1",
        "--config.eval_every_steps=2",
        "--config.checkpoint_every_steps=2",
    )
    run = artifacts.restore_run(str(tmp_path / "finetune"))
    assert run.spec.input == dataclasses.replace(torchvision_input, image_size=64), output
    assert run.spec.options["stride_on_3x3"]  # torchvision's v1.5 block, from the weights' spec
    assert f"Input: {run.spec.input}" in output
