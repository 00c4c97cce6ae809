"""The dry run (`inception_jax.train.plan`, `main --dry_run`): its figures against the config and a compile of the
same step, and the refusals `main` gives."""

import os
import subprocess
import sys

import jax
import numpy as np
import pytest
from train_utils import QUICK, REPO, tiny_config, tiny_flags

from inception_jax import configs
from inception_jax.spec import model_spec_from_config
from inception_jax.train import mesh as mesh_lib
from inception_jax.train import plan, validation
from inception_jax.train.program import Program

DIGITS_TRAIN = 1437  # scikit-learn's digits, 80% (tests/test_data.py checks the split)


def expected_rate(config, steps_per_epoch, step):
    """The paper's staircase, from the config's fields: peak · decay^(boundaries passed), times the warmup ramp."""
    schedule = config.schedule
    peak = schedule.base_learning_rate * config.input.batch_size / schedule.reference_batch_size
    if schedule.boundaries_epochs:
        passed = sum(step >= round(epoch * steps_per_epoch) for epoch in schedule.boundaries_epochs)
    else:
        passed = step // round(schedule.epochs_per_decay * steps_per_epoch)
    warmup = round(schedule.warmup_epochs * steps_per_epoch)
    return peak * schedule.decay_rate**passed * (min(step / warmup, 1.0) if warmup else 1.0)


@pytest.mark.parametrize(
    "schedule",
    [
        {"schedule.epochs_per_decay": 2.0},
        {"schedule.boundaries_epochs": (3, 5), "schedule.decay_rate": 0.1, "schedule.warmup_epochs": 0.5},
    ],
)
def test_steps_and_the_schedules_boundaries_follow_the_config(data_dir, schedule):
    config = tiny_config(data_dir, total_steps=0, total_epochs=7.0, eval_every_steps=100, **QUICK, **schedule)
    result = plan.make_plan(config)
    steps_per_epoch = DIGITS_TRAIN // 16
    assert (result.steps_per_epoch, result.total_steps) == (steps_per_epoch, 7 * steps_per_epoch)
    assert (result.num_classes, result.num_train_examples, result.num_eval_examples) == (10, DIGITS_TRAIN, 360)
    assert (result.global_batch, result.per_device_batch, result.num_devices) == (16, 2, 8)
    if config.schedule.boundaries_epochs:  # the warmup's end, and the two boundaries
        inner = [round(0.5 * steps_per_epoch), 3 * steps_per_epoch, 5 * steps_per_epoch]
    else:  # every 2 epochs
        inner = [2 * steps_per_epoch, 4 * steps_per_epoch, 6 * steps_per_epoch]
    assert [step for step, _ in result.learning_rates] == [0, *inner, result.total_steps]
    for step, rate in result.learning_rates:
        assert rate == pytest.approx(expected_rate(config, steps_per_epoch, step), rel=1e-6), step
    # 7 epochs of 89 steps, a checkpoint every 2 and an evaluation every 100, and both at the last step.
    assert (result.checkpoints, result.evaluations) == (312, 7)
    summary = result.summary()
    assert f"Steps: {steps_per_epoch} per epoch, {result.total_steps} in all" in summary
    assert "16 global, 2 per device on a mesh of 8 cpu device(s)" in summary


def test_memory_is_a_compile_of_the_same_step_and_holds_the_state_and_batch(data_dir):
    config = tiny_config(data_dir, **QUICK)
    result = plan.make_plan(config)
    # The same step compiled from the trainer's own pieces, for concrete arrays of the same shapes.
    program = Program.build(model_spec_from_config(config, 10), config, steps_per_epoch=result.steps_per_epoch)
    state = program.init(jax.random.key(0))
    batch = {"image": np.zeros((16, 32, 32, 3), np.float32), "label": np.zeros(16, np.int32)}
    batch = jax.device_put(batch, mesh_lib.batch_sharding(program.mesh))  # as the input pipeline lays it out
    analysis = program.train_step.lower(state, batch, jax.random.key(1)).compile().memory_analysis()
    for field in plan.MEMORY_FIELDS:
        assert result.memory[field] == getattr(analysis, f"{field}_size_in_bytes"), field
    # The state is replicated and donated: each device holds all of it, and its buffers are reused for the output.
    state_bytes = sum(leaf.nbytes for leaf in jax.tree.leaves(state))
    batch_bytes_per_device = sum(array.addressable_shards[0].data.nbytes for array in batch.values())
    assert result.state_bytes == state_bytes
    assert result.memory["alias"] == state_bytes
    assert state_bytes + batch_bytes_per_device <= result.memory["argument"] <= state_bytes + 2 * batch_bytes_per_device
    assert (
        result.memory["peak"]
        == result.memory["argument"] + result.memory["output"] - state_bytes + result.memory["temp"]
    )
    assert result.flops and result.flops > 0


def test_a_batch_that_does_not_divide_the_8_devices_is_refused_as_main_refuses_it(data_dir):
    config = tiny_config(data_dir, **QUICK, **{"input.batch_size": 12})
    with pytest.raises(ValueError) as refused_by_main:
        validation.check_config(config)
    with pytest.raises(ValueError) as refused_by_plan:
        plan.make_plan(config)
    assert str(refused_by_plan.value) == str(refused_by_main.value)
    assert "input.batch_size=12 must be a positive multiple of the 8 devices; use 16" in str(refused_by_plan.value)


def test_imagenet_not_prepared_plans_from_its_published_sizes_and_others_say_to_prepare(tmp_path):
    config = configs.get_config("paper")
    (tmp_path / "tars").mkdir()  # where ILSVRC2012_img_*.tar would be; main checks that it exists
    config.input.update(data_dir=str(tmp_path / "tfds"), manual_dir=str(tmp_path / "tars"))
    assert plan.dataset_sizes(config) == (1000, 1_281_167, 50_000, "published sizes (not prepared in data_dir)")
    assert not (tmp_path / "tfds" / "imagenet2012").exists()  # nothing was prepared
    config.input.update(dataset="cifar10", eval_split="test")
    with pytest.raises(ValueError, match="cifar10 is not prepared in .* prepare it first"):
        plan.dataset_sizes(config)


def test_the_dry_run_plans_for_a_simulated_mesh_and_trains_nothing(data_dir, tmp_path):
    flags = tiny_flags(data_dir, str(tmp_path / "run"), **QUICK, **{"input.batch_size": 32})
    environment = {key: value for key, value in os.environ.items() if key != "XLA_FLAGS"}
    done = subprocess.run(
        [sys.executable, "-m", "inception_jax.main", *flags, "--dry_run", "--dry_run_devices=4"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**environment, "JAX_PLATFORMS": "cpu"},
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Batch: 32 global, 8 per device on a mesh of 4 cpu device(s)" in done.stdout
    assert f"Steps: {DIGITS_TRAIN // 32} per epoch, 6 in all" in done.stdout
    assert not (tmp_path / "run").exists()
