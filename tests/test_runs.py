"""restore_run / load_run rebuild a run's network, spec and config from what it saved, and its exact train state."""

import os

import jax
import numpy as np
import optax
import orbax.checkpoint as ocp
import pytest
from model_utils import random_train_state
from process_utils import python_output_lines
from train_utils import tiny_config

from inception_jax import artifacts
from inception_jax.evaluation import networks
from inception_jax.runs import load_run
from inception_jax.train import mesh as mesh_lib
from inception_jax.train.checkpoint import TrainCheckpoints
from inception_jax.train.optimizer import make_optimizer


def write_run(workdir: str, config, steps=(3, 5), legacy: bool = False):
    """Checkpoints at `steps` written the way the trainer writes them (no training); `legacy`: as before specs."""
    spec = artifacts.model_spec_from_config(config, num_classes=10)
    tx = make_optimizer(config.optimizer, optax.constant_schedule(0.1))
    states = {
        step: random_train_state(spec.build(), tx, config.input.image_size, seed=step).replace(step=step)
        for step in steps
    }
    checkpoints = TrainCheckpoints(workdir)
    for step, state in states.items():
        record = (
            {"step": step, "data_step": step, "config": config.to_dict()}
            if legacy
            else artifacts.checkpoint_record(step, step, config)
        )
        checkpoints.save(step, state, record)
    checkpoints.close()
    if not legacy:
        spec.write(workdir)
    return spec, states


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp("run"))
    config = tiny_config("/nonexistent/tfds")  # inspecting a run must not need its dataset
    spec, states = write_run(workdir, config)
    return workdir, config, spec, states


def test_newest_checkpoint_is_restored_exactly_with_its_spec_config_and_network(saved_run):
    workdir, config, spec, states = saved_run
    run = load_run(workdir)
    assert run.config.to_dict() == config.to_dict()  # tuples such as block_counts come back as tuples
    assert run.spec == spec and run.spec.input == artifacts.InputSpec(image_size=75)
    assert (type(run.model).__name__, run.model.num_classes, run.model.block_counts) == (
        "InceptionResNetV2",
        10,
        (1, 1, 1),
    )
    assert run.step == 5 and int(run.state.step) == 5
    jax.tree.map(np.testing.assert_array_equal, jax.device_get(run.state), jax.device_get(states[5]))
    jax.tree.map(
        np.testing.assert_array_equal,
        jax.device_get(run.ema_variables),
        {"params": states[5].ema_params, "batch_stats": states[5].ema_batch_stats},
    )


def test_an_older_step_can_be_chosen_and_a_missing_one_names_the_kept_steps(saved_run):
    workdir, _, _, states = saved_run
    run = load_run(workdir, step=3)
    jax.tree.map(np.testing.assert_array_equal, jax.device_get(run.state.ema_params), states[3].ema_params)
    with pytest.raises(ValueError, match=r"no checkpoint at step 4; its steps are \[3, 5\]"):
        load_run(workdir, step=4)


def test_a_run_saved_before_specs_is_rebuilt_from_its_config(tmp_path):
    config = tiny_config("/nonexistent/tfds")
    spec, states = write_run(str(tmp_path), config, steps=(2,), legacy=True)
    run = artifacts.restore_run(str(tmp_path))
    assert not (tmp_path / "spec.json").exists() and run.spec == spec and run.config.to_dict() == config.to_dict()
    jax.tree.map(np.testing.assert_array_equal, jax.device_get(run.state.params), states[2].params)


def test_a_workdir_without_checkpoints_says_how_to_make_one_and_is_left_alone(tmp_path):
    with pytest.raises(FileNotFoundError, match="holds no training checkpoints.*python -m inception_jax.main"):
        load_run(str(tmp_path / "typo"))
    assert not (tmp_path / "typo").exists()


def test_inspecting_a_run_imports_neither_tensorflow_nor_the_trainer(saved_run):
    code = (
        f"import sys; from inception_jax import artifacts; from inception_jax.runs import load_run; "
        f"load_run({saved_run[0]!r}); "
        f"print(sorted({{'tensorflow', 'inception_jax.train.trainer', 'inception_jax.data'}} & set(sys.modules)))"
    )
    assert python_output_lines(code)[-1] == "[]"


def test_restoring_a_runs_weights_for_evaluation_builds_no_optimizer(saved_run, no_optimizer):
    workdir, _, _, states = saved_run
    raw, ema = networks.load_run(workdir, 10, mesh_lib.make_mesh())
    jax.tree.map(np.testing.assert_array_equal, jax.device_get(raw.variables["params"]), states[5].params)
    jax.tree.map(np.testing.assert_array_equal, jax.device_get(ema.variables["batch_stats"]), states[5].ema_batch_stats)
    with pytest.raises(AssertionError, match="an optimizer was built"):
        load_run(workdir).state  # the whole train state is what needs one


def test_a_run_saved_with_its_whole_state_in_one_item_restores_and_saves_in_the_new_layout(tmp_path):
    config = tiny_config("/nonexistent/tfds")
    spec = artifacts.model_spec_from_config(config, num_classes=10)
    tx = make_optimizer(config.optimizer, optax.constant_schedule(0.1))
    state = random_train_state(spec.build(), tx, config.input.image_size, seed=7).replace(step=4)
    # The layout runs were saved in before the weights had an item of their own.
    legacy = ocp.CheckpointManager(
        os.path.join(tmp_path, "checkpoints"),
        options=ocp.CheckpointManagerOptions(create=True),
        item_handlers={"state": ocp.StandardCheckpointHandler(), "meta": ocp.JsonCheckpointHandler()},
    )
    record = artifacts.checkpoint_record(4, 4, config)
    legacy.save(4, args=ocp.args.Composite(state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(record)))
    legacy.wait_until_finished()
    legacy.close()
    spec.write(str(tmp_path))

    run = artifacts.restore_run(str(tmp_path))
    jax.tree.map(np.testing.assert_array_equal, jax.device_get(run.ema_variables["params"]), state.ema_params)
    jax.tree.map(np.testing.assert_array_equal, jax.device_get(run.state), jax.device_get(state))  # the optimizer too
    checkpoints = TrainCheckpoints(str(tmp_path))
    checkpoints.save(5, run.state.replace(step=5), artifacts.checkpoint_record(5, 5, config))
    checkpoints.close()
    items = set(os.listdir(tmp_path / "checkpoints" / "5"))
    assert {"meta", "optimizer", "weights"} <= items and "state" not in items
