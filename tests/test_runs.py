"""load_run rebuilds a run's network and config from its checkpoint and restores the exact train state."""
import jax
import numpy as np
import optax
import pytest

from inception_jax.runs import load_run
from inception_jax.train.checkpoint import TrainCheckpoints
from inception_jax.train.optimizer import make_optimizer
from inception_jax.train.trainer import build_model
from model_utils import random_train_state
from train_utils import tiny_config


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    """A workdir with checkpoints at steps 3 and 5 written the way the trainer writes them (no training)."""
    workdir = str(tmp_path_factory.mktemp("run"))
    config = tiny_config("/nonexistent/tfds")  # inspecting a run must not need its dataset
    model = build_model(config, num_classes=10)
    tx = make_optimizer(config.optimizer, optax.constant_schedule(0.1))
    states = {step: random_train_state(model, tx, config.input.image_size, seed=step).replace(step=step)
              for step in (3, 5)}
    checkpoints = TrainCheckpoints(workdir)
    for step, state in states.items():
        checkpoints.save(step, state, {"step": step, "data_step": step, "config": config.to_dict()})
    checkpoints.close()
    return workdir, config, states


def test_newest_checkpoint_is_restored_exactly_with_its_config_and_network(saved_run):
    workdir, config, states = saved_run
    model, restored_config, state = load_run(workdir)
    assert restored_config.to_dict() == config.to_dict()  # tuples such as block_counts come back as tuples
    assert (type(model).__name__, model.num_classes, model.block_counts) == ("InceptionResNetV2", 10, (1, 1, 1))
    assert int(state.step) == 5
    jax.tree.map(np.testing.assert_array_equal, jax.device_get(state), jax.device_get(states[5]))


def test_an_older_step_can_be_chosen_and_a_missing_one_names_the_kept_steps(saved_run):
    workdir, _, states = saved_run
    run = load_run(workdir, step=3)
    jax.tree.map(np.testing.assert_array_equal, jax.device_get(run.state.ema_params), states[3].ema_params)
    with pytest.raises(ValueError, match=r"no checkpoint at step 4; its steps are \[3, 5\]"):
        load_run(workdir, step=4)


def test_a_workdir_without_checkpoints_says_how_to_make_one_and_is_left_alone(tmp_path):
    with pytest.raises(FileNotFoundError, match="holds no training checkpoints.*python -m inception_jax.main"):
        load_run(str(tmp_path / "typo"))
    assert not (tmp_path / "typo").exists()
