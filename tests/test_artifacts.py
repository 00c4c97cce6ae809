"""The artifact layer: exact spec round trips, the input contract's resolution, and that it is the only one."""

import json
import pathlib
import re

import jax.numpy as jnp
import ml_collections
import pytest

from inception_jax import artifacts, create_model, list_models
from inception_jax.artifacts import IMAGENET_MEAN, IMAGENET_STD, InputSpec, ModelSpec

PACKAGE = pathlib.Path(artifacts.__file__).parent
REPO = PACKAGE.parent


@pytest.mark.parametrize("name", list_models())
def test_spec_json_round_trip_is_exact_for_every_network(name):
    module = create_model(name)
    spec = ModelSpec.of_module(name, module, InputSpec(image_size=module.default_size))
    back = ModelSpec.from_json(spec.to_json())
    assert back == spec and back.build() == module
    for key, value in spec.options.items():  # exact types: tuples stay tuples, dtypes stay dtypes
        assert type(back.options[key]) is type(value), key


def test_tuples_lists_and_dtypes_keep_their_types():
    module = create_model(
        "inception_resnet_v1", block_counts=(1, 2, 3), residual_scales=(1.0, 0.5, 0.25), dtype=jnp.bfloat16
    )
    spec = ModelSpec.of_module("inception_resnet_v1", module)
    back = ModelSpec.from_json(spec.to_json())
    assert back.options["block_counts"] == (1, 2, 3) and back.options["dtype"] is jnp.bfloat16
    assert artifacts._decode(artifacts._encode({"a": [1, (2, [3])]})) == {"a": [1, (2, [3])]}


def test_configs_come_back_with_their_tuples_and_legacy_lists_become_tuples():
    config = ml_collections.ConfigDict({"model": {"block_counts": (1, 1, 1)}, "schedule": {"boundaries": ()}})
    record = json.loads(json.dumps(artifacts.checkpoint_record(4, 4, config)))
    assert artifacts.config_from_record(record).to_dict() == config.to_dict()
    legacy = {"step": 4, "config": {"model": {"block_counts": [1, 1, 1]}}}  # saved before tagging
    assert artifacts.config_from_record(legacy).model.block_counts == (1, 1, 1)
    assert artifacts.data_step_from_record(legacy) == 4


def test_input_spec_rejects_what_it_cannot_mean_and_says_what_fits():
    for field, value, hint in (
        ("crop_mode", "center", "central_fraction"),
        ("interpolation", "nearest", "bicubic"),
        ("crop_fraction", 1.5, r"\(0, 1\]"),
        ("mean", (0.5, 0.5), "three"),
        ("std", (0.5, 0.0, 0.5), "positive"),
        ("image_size", 0, "positive integer"),
    ):
        with pytest.raises(ValueError, match=f"{field}=.*{hint}"):
            InputSpec(**{field: value})
    assert InputSpec(mean=[0.4, 0.4, 0.4]).mean == (0.4, 0.4, 0.4)  # sequences become tuples of floats
    assert InputSpec(image_size=299, crop_fraction=0.8975).resize_side == 333  # timm's ⌊299 / 0.8975⌋


def input_config(**fields):
    config = ml_collections.ConfigDict(
        {
            "image_size": 75,
            "eval_crop_fraction": None,
            "eval_crop_mode": None,
            "eval_interpolation": None,
            "mean": None,
            "std": None,
        }
    )
    config.update(fields)
    return config


def test_a_runs_input_is_the_configs_over_the_weights_over_inceptions():
    torchvision = artifacts.TORCHVISION_INPUT
    assert artifacts.input_spec_from_config(input_config()) == InputSpec(image_size=75)
    assert artifacts.input_spec_from_config(input_config(), torchvision) == torchvision.replace(image_size=75)
    chosen = artifacts.input_spec_from_config(input_config(eval_crop_fraction=1.0), torchvision)
    assert (chosen.crop_fraction, chosen.mean) == (1.0, IMAGENET_MEAN)
    agreeing = artifacts.input_spec_from_config(input_config(mean=IMAGENET_MEAN, std=IMAGENET_STD), torchvision)
    assert agreeing.std == IMAGENET_STD


def test_a_config_normalisation_that_contradicts_the_weights_names_both_values():
    with pytest.raises(ValueError, match=r"input.mean=\(0.5, 0.5, 0.5\) contradicts .* \(0.485, 0.456, 0.406\)"):
        artifacts.input_spec_from_config(input_config(mean=(0.5, 0.5, 0.5)), artifacts.TORCHVISION_INPUT)


def test_finetuning_starts_from_the_weights_options_and_the_config_overrides_them():
    weights = ModelSpec.of_module(
        "resnet18", create_model("resnet18", stride_on_3x3=True, bn_momentum=0.9), artifacts.TORCHVISION_INPUT
    )
    config = ml_collections.ConfigDict(
        {"model_name": "resnet18", "model": {"dropout_rate": 0.5}, "input": input_config(image_size=64)}
    )
    spec = artifacts.model_spec_from_config(config, num_classes=10, weights=weights)
    assert (
        spec.options["stride_on_3x3"],
        spec.options["bn_momentum"],
        spec.options["dropout_rate"],
        spec.num_classes,
    ) == (True, 0.9, 0.5, 10)
    assert spec.input == artifacts.TORCHVISION_INPUT.replace(image_size=64)
    config.model_name = "resnet34"
    with pytest.raises(ValueError, match="resnet18 weights but model_name='resnet34'"):
        artifacts.model_spec_from_config(config, num_classes=10, weights=weights)


def test_the_artifact_layer_is_the_only_code_that_restores_or_rebuilds():
    sources = {path: path.read_text() for folder in (PACKAGE, REPO / "experiments") for path in folder.rglob("*.py")}
    orbax = {
        path.relative_to(REPO).as_posix()
        for path, text in sources.items()
        if re.search(r"^\s*(import orbax|from orbax)", text, re.M)
    }
    # The artifact layer: spec.py (plain values), weights.py and train/checkpoint.py (Orbax files), artifacts.py
    # (its face), and train/program.py, where the train state's structure is assembled.
    assert orbax == {"inception_jax/weights.py", "inception_jax/train/checkpoint.py"}
    abstract = {
        path.relative_to(REPO).as_posix()
        for path, text in sources.items()
        if re.search(r"eval_shape\([^\n]*init_train_state|read_meta\(|SPEC_FILE|model\.json", text)
    }
    assert abstract == {
        "inception_jax/spec.py",
        "inception_jax/artifacts.py",
        "inception_jax/train/checkpoint.py",
        "inception_jax/train/program.py",
    }
