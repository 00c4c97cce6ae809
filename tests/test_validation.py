"""A wrong config fails in one pass before anything compiles, naming the field, its value and one that works."""

import logging

import jax
import pytest

from inception_jax import configs
from inception_jax.train import trainer
from inception_jax.train.validation import check_config

DEVICES = 8


def config_with(data_dir, **changes):
    config = configs.get_config("default")
    config.update_from_flattened_dict({"input.data_dir": data_dir, **changes})
    return config


# (changes, what the message must say: the field, the value and a value that works)
CASES = {
    "batch_vs_devices": ({"input.batch_size": 60}, ["input.batch_size=60", "8 devices", "use 64"]),
    "eval_batch": ({"input.eval_batch_size": 100}, ["input.eval_batch_size=100", "use 96"]),
    "grad_accum_split": ({"grad_accum_steps": 3}, ["grad_accum_steps=3", "input.batch_size=72", "grad_accum_steps=2"]),
    "grad_accum_zero": ({"grad_accum_steps": 0}, ["grad_accum_steps=0", "at least 1"]),
    "data_shards": ({"input.data_shards": 3}, ["input.data_shards=3", "batch_size=64", "use 0"]),
    "image_size": ({"input.image_size": 64}, ["input.image_size=64", "minimum of 75", "use 75"]),
    "model_name": ({"model_name": "inception_v5"}, ["model_name", "inception_v5", "inception_v4"]),
    "model_option": ({"model.widht_multiplier": 0.5}, ["model", "widht_multiplier", "width_multiplier"]),
    "dataset": ({"input.dataset": "imagenett"}, ["input.dataset='imagenett'", "imagenette"]),
    "folder": ({"input.dataset": "folder", "input.folder": "/no/such"}, ["input.folder='/no/such'", "<split>"]),
    "manual_dir": ({"input.manual_dir": "/no/such/tars"}, ["input.manual_dir='/no/such/tars'", "leave it unset"]),
    "steps_both": (
        {"total_steps": 10, "total_epochs": 2.0},
        ["total_steps=10", "total_epochs=2.0", "both are set", "--config.total_epochs=0"],
    ),
    "steps_neither": ({"total_steps": 0, "total_epochs": 0.0}, ["neither is set", "total_epochs=100"]),
    "learning_rate": ({"schedule.base_learning_rate": 0.0}, ["schedule.base_learning_rate=0.0", "0.045"]),
    "batch_vs_examples": ({"input.batch_size": 4096}, ["input.batch_size=4096", "training examples"]),
}


@pytest.mark.parametrize("case", CASES)
def test_each_invalid_field_is_named_with_its_value_and_a_valid_alternative(case, data_dir):
    changes, expected = CASES[case]
    config = config_with(data_dir, **changes)
    with pytest.raises(ValueError) as error:
        check_config(config, num_devices=DEVICES)
    for text in expected:
        assert text in str(error.value), str(error.value)


def test_the_default_config_passes_and_gives_the_dataset_counts(data_dir):
    info = check_config(config_with(data_dir), num_devices=DEVICES)
    assert (info.num_classes, info.num_train_examples) == (10, 1437)


def test_several_wrong_fields_are_reported_together(data_dir):
    config = config_with(data_dir, **{"input.batch_size": 60, "schedule.base_learning_rate": -1.0})
    with pytest.raises(ValueError, match="2 invalid field") as error:
        check_config(config, num_devices=DEVICES)
    assert "input.batch_size=60" in str(error.value) and "base_learning_rate=-1.0" in str(error.value)


def test_the_trainer_stops_before_compiling_anything(data_dir, tmp_path, caplog):
    config = config_with(data_dir, **{"input.eval_batch_size": 100})
    with jax.log_compiles(True), caplog.at_level(logging.DEBUG), pytest.raises(ValueError, match="eval_batch_size"):
        trainer.train_and_evaluate(config, str(tmp_path / "run"))
    assert not [r for r in caplog.records if "Compiling" in r.getMessage()]
