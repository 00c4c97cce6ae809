"""The training system: recipe maths, sharding equivalence, multi-process, resume after SIGKILL, and errors."""

import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest
from model_utils import QUICK_IMAGE_SIZE, quick_program, quick_recipe, random_train_state, random_variables
from train_utils import QUICK, REPO, final_state, tiny_config, tiny_flags

from inception_jax import artifacts, configs
from inception_jax.configs import lineage, paper
from inception_jax.models import create_model
from inception_jax.runs import read_metrics
from inception_jax.train import mesh as mesh_lib
from inception_jax.train import preemption
from inception_jax.train import program as program_lib
from inception_jax.train import trainer as trainer_lib
from inception_jax.train.checkpoint import TrainCheckpoints
from inception_jax.train.optimizer import learning_rate_schedule, make_optimizer
from inception_jax.train.state import init_train_state
from inception_jax.train.steps import make_train_step
from inception_jax.train.sweep import load_config_file
from inception_jax.train.trainer import start_from_weights, train_and_evaluate

HERE = os.path.dirname(os.path.abspath(__file__))


def _run_main(args, **kwargs):
    return subprocess.Popen(
        [sys.executable, "-m", "inception_jax.main", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **kwargs,
    )


# ---------------------------------------------------------------- the recipe's maths


def test_learning_rate_on_both_sides_of_each_two_epoch_boundary():
    cfg = paper.get_config().schedule
    steps_per_epoch, batch = 10, 512  # batch/reference = 2
    schedule = learning_rate_schedule(cfg, batch, steps_per_epoch)
    for boundary_epoch in (2, 4, 6, 10):
        step = boundary_epoch * steps_per_epoch
        for s in (step - 1, step):
            expected = 0.045 * (512 / 256) * 0.94 ** math.floor(s / steps_per_epoch / 2)
            assert float(schedule(s)) == pytest.approx(expected, rel=1e-6)
    assert float(schedule(step - 1)) / float(schedule(step)) == pytest.approx(1 / 0.94, rel=1e-6)


def test_warmup_keeps_decay_boundaries_on_whole_epochs():
    cfg = paper.get_config().schedule
    cfg.warmup_epochs = 1.0
    schedule = learning_rate_schedule(cfg, 256, steps_per_epoch=10)
    assert float(schedule(0)) == 0.0 and float(schedule(5)) == pytest.approx(0.045 * 0.5)
    assert float(schedule(19)) == pytest.approx(0.045) and float(schedule(20)) == pytest.approx(0.045 * 0.94)


def _optimizer_steps(tx, seed: int, steps: int):
    """Random kernel and bias, `steps` random gradients, and the parameters after applying them with `tx`."""
    rng = np.random.default_rng(seed)
    params = {
        "conv": {"kernel": rng.standard_normal((3, 3, 2, 4)).astype(np.float32)},
        "bn": {"bias": rng.standard_normal(4).astype(np.float32)},
    }
    grads = [jax.tree.map(lambda p: rng.standard_normal(p.shape).astype(np.float32), params) for _ in range(steps)]
    state, current = tx.init(params), params
    for g in grads:
        updates, state = tx.update(g, state, current)
        current = optax.apply_updates(current, updates)
    return params, grads, current


def test_one_optimizer_step_equals_tf1_rmsprop_by_hand():
    cfg = paper.get_config().optimizer
    lr = 0.045
    params, grads, current = _optimizer_steps(make_optimizer(cfg, optax.constant_schedule(lr)), seed=0, steps=2)

    # TF1 RMSPropOptimizer: ms starts at 1; ms ← ρ·ms + (1-ρ)·g²; mom ← μ·mom + lr·g/√(ms+ε); w ← w - mom.
    # slim's L2 regulariser adds wd·w to kernel gradients only.
    expected = {}
    for path in (("conv", "kernel"), ("bn", "bias")):
        w = params[path[0]][path[1]].astype(np.float64)
        ms, mom = np.ones_like(w), np.zeros_like(w)
        for g in grads:
            g = g[path[0]][path[1]].astype(np.float64) + (cfg.weight_decay * w if path[1] == "kernel" else 0)
            ms = 0.9 * ms + 0.1 * g * g
            mom = 0.9 * mom + lr * g / np.sqrt(ms + 1.0)
            w = w - mom
        expected[path] = w
    for path, w in expected.items():
        np.testing.assert_allclose(current[path[0]][path[1]], w, rtol=1e-5, atol=1e-6)


def test_sgd_step_equals_momentum_sgd_by_hand():
    cfg = paper.get_config().optimizer
    cfg.update(name="sgd", momentum=0.9, weight_decay=1e-4)
    params, grads, current = _optimizer_steps(make_optimizer(cfg, optax.constant_schedule(0.1)), seed=1, steps=3)
    # PyTorch/Caffe SGD: v ← μ·v + (g + wd·w) (kernels only), w ← w − lr·v.
    for layer, leaf in (("conv", "kernel"), ("bn", "bias")):
        w, v = params[layer][leaf].astype(np.float64), 0.0
        for g in grads:
            v = 0.9 * v + g[layer][leaf] + (1e-4 * w if leaf == "kernel" else 0.0)
            w = w - 0.1 * v
        np.testing.assert_allclose(current[layer][leaf], w, rtol=1e-5, atol=1e-6)


def test_unknown_optimizer_name_lists_the_valid_ones():
    cfg = paper.get_config().optimizer
    cfg.name = "adamw"
    with pytest.raises(ValueError, match="rmsprop.*sgd"):
        make_optimizer(cfg, optax.constant_schedule(0.1))


def test_boundary_epochs_divide_the_rate_at_each_boundary_only():
    cfg = paper.get_config().schedule
    cfg.update(base_learning_rate=0.1, reference_batch_size=128, decay_rate=0.1, boundaries_epochs=(82, 123))
    schedule = learning_rate_schedule(cfg, 128, steps_per_epoch=391)
    for step, expected in (
        (0, 0.1),
        (82 * 391 - 1, 0.1),
        (82 * 391, 0.01),
        (123 * 391 - 1, 0.01),
        (123 * 391, 0.001),
        (64_000, 0.001),
    ):
        assert float(schedule(step)) == pytest.approx(expected, rel=1e-6), step


def test_lineage_config_uses_each_papers_recipe():
    googlenet = lineage.get_config("model=googlenet")
    assert googlenet.model.aux_head and googlenet.loss.aux_loss_weight == 0.3
    assert (googlenet.schedule.decay_rate, googlenet.schedule.epochs_per_decay) == (0.96, 8.0)
    cifar = lineage.get_config("model=plain56")
    assert (cifar.input.dataset, cifar.input.image_size, cifar.input.crop_padding) == ("cifar10", 32, 4)
    assert (cifar.optimizer.name, cifar.schedule.base_learning_rate, cifar.input.batch_size) == ("sgd", 0.1, 128)
    # 32k and 48k of 64k iterations at 391 steps per epoch.
    assert [round(e * 391, -3) for e in cifar.schedule.boundaries_epochs] == [32_000, 48_000]
    for name in ("alexnet", "zfnet", "nin", "vgg16", "resnet50", "preact_resnet101", "plain34"):
        config = lineage.get_config(f"model={name}")
        assert config.optimizer.name == "sgd" and not config.model.aux_head
        assert config.input.image_size == create_model(name).default_size
    with pytest.raises(ValueError, match="inception_jax:inception_v4"):
        lineage.get_config("model=inception_v3")


def test_the_initialiser_compiles_at_xla_cpus_level_0_on_a_cpu_mesh(monkeypatch):
    """On CPU the initialiser compiled for 37 s of `make run`'s 140 (docs/performance.md); the state is the same."""
    program = quick_program()
    assert program.init_compiler_options == {"xla_backend_optimization_level": 0}
    jit, options_seen = jax.jit, []

    def recording_jit(function, **kwargs):
        options_seen.append(kwargs.get("compiler_options"))
        return jit(function, **kwargs)

    monkeypatch.setattr(jax, "jit", recording_jit)
    state = program.init(jax.random.key(3))
    assert options_seen == [{"xla_backend_optimization_level": 0}]
    image_size = program.spec.input.image_size
    expected = jit(lambda key: init_train_state(program.model, program.tx, key, image_size))(jax.random.key(3))
    assert jax.tree.structure(state) == jax.tree.structure(expected)
    # The suite compiles everything at level 0 (conftest.py); at the default level the values differ by ~1e-7.
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6), state, expected)
    assert all(
        leaf.sharding == sharding
        for leaf, sharding in zip(jax.tree.leaves(state), jax.tree.leaves(program.shardings), strict=True)
    )


# ---------------------------------------------------------------- parallelism


def test_sharded_step_over_8_devices_equals_one_device_step():
    assert jax.device_count() == 8, "conftest.py sets 8 CPU devices"
    # The sharding, not the network, is under test: QUICK's ResNet-20 (batch norm, whose statistics must span the
    # global batch).
    model, tx, train_step = quick_recipe(bn_momentum=0.9)
    state = random_train_state(model, tx, QUICK_IMAGE_SIZE)
    rng = np.random.default_rng(0)
    batch = {
        "image": rng.uniform(-1, 1, (16, QUICK_IMAGE_SIZE, QUICK_IMAGE_SIZE, 3)).astype(np.float32),
        "label": rng.integers(0, 10, 16).astype(np.int32),
    }
    results = []
    for devices in (jax.devices()[:1], jax.devices()):
        mesh = mesh_lib.make_mesh(devices)
        step = jax.jit(train_step, out_shardings=(mesh_lib.replicated(mesh), mesh_lib.replicated(mesh)))
        sharded_batch = jax.device_put(batch, mesh_lib.batch_sharding(mesh))
        new_state, metrics = step(jax.device_put(state, mesh_lib.replicated(mesh)), sharded_batch, jax.random.key(1))
        assert len(sharded_batch["image"].sharding.device_set) == len(devices)
        results.append(jax.device_get((metrics["train/loss"], new_state.params, new_state.batch_stats)))
    (loss1, params1, stats1), (loss8, params8, stats8) = results
    assert loss8 == pytest.approx(loss1, rel=1e-5)
    # Updates are up to lr·1 = 0.045; reduction order moves them by ~1e-5.
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=5e-5), params1, params8)
    # Batch statistics over the global batch: the same on 1 and 8 devices.
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5), stats1, stats8)


def test_gradient_accumulation_averages_the_micro_batch_gradients():
    config = paper.get_config()
    # The accumulation, not the network, is under test: QUICK's ResNet-20 (batch norm, no dropout).
    model = create_model("resnet20", num_classes=10, block_counts=(1, 1, 1), dropout_rate=0.0)
    tx, schedule = optax.sgd(1.0), optax.constant_schedule(1.0)  # linear in the gradient
    state = random_train_state(model, tx, 32)
    rng = np.random.default_rng(0)
    batch = {
        "image": rng.uniform(-1, 1, (8, 32, 32, 3)).astype(np.float32),
        "label": rng.integers(0, 10, 8).astype(np.int32),
    }
    halves = [jax.tree.map(lambda x, i=i: x[4 * i : 4 * (i + 1)], batch) for i in range(2)]
    single = jax.jit(make_train_step(model, tx, schedule, config.loss, config.ema.decay))
    accumulated = jax.jit(make_train_step(model, tx, schedule, config.loss, config.ema.decay, grad_accum_steps=2))

    per_half = [single(state, half, jax.random.key(0)) for half in halves]
    both, metrics = accumulated(state, batch, jax.random.key(0))
    assert float(metrics["train/loss"]) == pytest.approx(
        np.mean([float(m["train/loss"]) for _, m in per_half]), rel=1e-5
    )
    mean_params = jax.tree.map(lambda a, b: (a + b) / 2, per_half[0][0].params, per_half[1][0].params)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5), both.params, mean_params)


def test_networks_without_batchnorm_train():
    config = paper.get_config()
    model = create_model("nin", num_classes=10, width_multiplier=0.1, min_depth=4)
    schedule = optax.constant_schedule(0.01)
    tx = make_optimizer(config.optimizer, schedule)
    state = random_train_state(model, tx, 64)
    assert state.batch_stats == {}
    batch = {"image": np.zeros((4, 64, 64, 3), np.float32), "label": np.arange(4, dtype=np.int32)}
    new_state, metrics = jax.jit(make_train_step(model, tx, schedule, config.loss, config.ema.decay))(
        state, batch, jax.random.key(0)
    )
    assert np.isfinite(float(metrics["train/loss"])) and int(new_state.step) == 1


def test_fsdp_shards_large_parameters_over_the_data_axis():
    mesh = mesh_lib.make_mesh()
    abstract = {
        "big": jax.ShapeDtypeStruct((1024, 1024), jnp.float32),
        "small": jax.ShapeDtypeStruct((8,), jnp.float32),
    }
    shardings = mesh_lib.state_shardings(abstract, mesh, fsdp=True)
    assert shardings["big"].spec == jax.sharding.PartitionSpec("data", None)
    assert shardings["small"].spec == jax.sharding.PartitionSpec()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def test_two_processes_train_like_one_process_with_the_same_global_batch(tmp_path):
    worker = os.path.join(HERE, "distributed_worker.py")
    port = _free_port()
    two = [
        subprocess.Popen([sys.executable, worker, str(i), "2", str(port), str(tmp_path / "two.json")]) for i in range(2)
    ]
    assert all(p.wait(timeout=600) == 0 for p in two)
    subprocess.run(
        [sys.executable, worker, "0", "1", str(_free_port()), str(tmp_path / "one.json")], check=True, timeout=600
    )
    two_procs, one_proc = (json.loads((tmp_path / f).read_text()) for f in ("two.json", "one.json"))
    assert two_procs["devices"] == 2 and one_proc["devices"] == 1
    # Step 1 agrees to ~1e-6; later steps carry the ~1e-5 reduction-order differences of the updates.
    np.testing.assert_allclose(two_procs["losses"][0], one_proc["losses"][0], rtol=1e-5)
    np.testing.assert_allclose(two_procs["losses"], one_proc["losses"], rtol=5e-4)


# ---------------------------------------------------------------- checkpoints and resume


RESUME_RUN = {**QUICK, "total_steps": 40, "checkpoint_every_steps": 4, "eval_every_steps": 20, "log_every_steps": 4}


@pytest.fixture(scope="module")
def uninterrupted_run(tmp_path_factory, data_dir):
    """The workdir of a 40-step run that nothing interrupted, which the resumed runs must equal."""
    workdir = tmp_path_factory.mktemp("uninterrupted")
    run = _run_main(tiny_flags(data_dir, str(workdir), **RESUME_RUN))
    assert run.wait(timeout=900) == 0, run.stdout.read()
    return workdir


def _signal_after_first_checkpoint(args, workdir, signum):
    """Starts `main` with `args`; sends `signum` once its first checkpoint is on disk; returns the process."""
    run = _run_main(args)
    first_checkpoint = workdir / "checkpoints" / "4"
    while not first_checkpoint.exists():
        assert run.poll() is None, "the run ended before its first checkpoint"
        time.sleep(0.02)
    run.send_signal(signum)
    return run


def test_sigkill_then_same_command_resumes_and_matches_an_uninterrupted_run(tmp_path, data_dir, uninterrupted_run):
    args = tiny_flags(data_dir, str(tmp_path / "b"), **RESUME_RUN)
    killed = _signal_after_first_checkpoint(args, tmp_path / "b", signal.SIGKILL)
    killed.wait()
    assert len(read_metrics(str(tmp_path / "b"))) < len(read_metrics(str(uninterrupted_run)))

    resumed = _run_main(args)
    output = resumed.communicate(timeout=900)[0]
    assert resumed.returncode == 0, output
    assert "Resumed from" in output

    strip = lambda records: [{k: v for k, v in r.items() if k != "train/img_per_sec"} for r in records]  # noqa: E731
    assert strip(read_metrics(str(tmp_path / "b"))) == strip(read_metrics(str(uninterrupted_run)))
    final_a, final_b = final_state(str(uninterrupted_run)), final_state(str(tmp_path / "b"))
    assert int(final_b["step"]) == 40
    assert any(name.startswith("events.out.tfevents") for name in os.listdir(tmp_path / "b"))  # TensorBoard
    jax.tree.map(np.testing.assert_array_equal, final_a, final_b)  # bitwise on CPU


def test_sigterm_saves_the_current_step_exits_75_and_the_rerun_matches_an_uninterrupted_run(
    tmp_path, data_dir, uninterrupted_run
):
    args = tiny_flags(data_dir, str(tmp_path / "b"), **RESUME_RUN)
    preempted = _signal_after_first_checkpoint(args, tmp_path / "b", signal.SIGTERM)
    output = preempted.communicate(timeout=900)[0]
    assert preempted.returncode == preemption.EXIT_CODE == 75, output
    stopped = int(re.search(r"Preempted \(SIGTERM\): stopped after step (\d+)", output).group(1))
    assert 4 <= stopped < 40
    assert TrainCheckpoints(str(tmp_path / "b")).latest_step() == stopped  # the step it stopped at, saved
    assert read_metrics(str(tmp_path / "b"))[-1]["step"] == stopped  # its last metrics were written too

    resumed = _run_main(args)
    output = resumed.communicate(timeout=900)[0]
    assert resumed.returncode == 0, output
    assert f"at step {stopped}" in output
    final_a, final_b = final_state(str(uninterrupted_run)), final_state(str(tmp_path / "b"))
    assert int(final_b["step"]) == 40
    jax.tree.map(np.testing.assert_array_equal, final_a, final_b)  # bitwise on CPU
    final_eval = lambda workdir: {  # noqa: E731
        key: value for r in read_metrics(str(workdir)) if r["step"] == 40 for key, value in r.items() if "eval" in key
    }
    assert final_eval(uninterrupted_run) and final_eval(tmp_path / "b") == final_eval(uninterrupted_run)


def test_every_step_lands_in_one_logged_average_and_images_per_second_leave_out_evaluation(
    tmp_path, data_dir, monkeypatch
):
    """The default's intervals (log every 20, evaluate and checkpoint every 90); the loss is the step's number."""
    real_step = program_lib.make_train_step

    def step_numbered(*args, **kwargs):
        step = real_step(*args, **kwargs)

        def train_step(state, batch, rng):
            new_state, metrics = step(state, batch, rng)
            return new_state, {**metrics, "train/loss": (state.step + 1).astype(jnp.float32)}

        return train_step

    real_evaluation = trainer_lib.pipeline.eval_iterator

    def slow_evaluation(*args, **kwargs):
        time.sleep(8.0)  # far longer than 20 steps of the tiny network
        return real_evaluation(*args, **kwargs)

    monkeypatch.setattr(program_lib, "make_train_step", step_numbered)
    monkeypatch.setattr(trainer_lib.pipeline, "eval_iterator", slow_evaluation)
    config = tiny_config(
        data_dir, total_steps=100, log_every_steps=20, eval_every_steps=90, checkpoint_every_steps=90, **QUICK
    )
    train_and_evaluate(config, str(tmp_path))
    logged = [record for record in read_metrics(str(tmp_path)) if "train/loss" in record]
    assert [record["step"] for record in logged] == [20, 40, 60, 80, 100]
    for record, first in zip(logged, (1, 21, 41, 61, 81)):  # steps 81–90 are in the same average as 91–100
        assert record["train/loss"] == pytest.approx(np.mean(np.arange(first, record["step"] + 1)))
    rates = {record["step"]: record["train/img_per_sec"] for record in logged}
    # Counting the 8 s evaluation would divide the last window's rate by 10 or more.
    assert rates[100] > rates[80] / 3, rates


def test_checkpoint_of_another_model_names_the_mismatched_leaves(tmp_path, data_dir):
    # The checkpoint check, not the network, is under test: QUICK's ResNet-20, then one with a second conv2 block.
    train_and_evaluate(tiny_config(data_dir, total_steps=2, eval_every_steps=2, **QUICK), str(tmp_path))
    other = tiny_config(data_dir, total_steps=2, **{**QUICK, "model.block_counts": (2, 1, 1)})
    with pytest.raises(ValueError, match=r"does not fit this model.*conv2_2"):  # past the config check (test_faults)
        train_and_evaluate(other, str(tmp_path), allow_config_change=True)


def test_non_finite_loss_stops_naming_the_step_and_keeps_the_last_good_checkpoint(tmp_path, data_dir):
    # Warmup makes step 1 use lr 0 (a good state) and step 2 use an absurd rate that overflows the parameters.
    config = tiny_config(
        data_dir,
        total_steps=6,
        checkpoint_every_steps=1,
        log_every_steps=1,
        **{"schedule.base_learning_rate": 1e35, "schedule.warmup_epochs": 2 / 89},
        **QUICK,
    )
    with pytest.raises(FloatingPointError, match="diverged at step 2"):
        train_and_evaluate(config, str(tmp_path))
    checkpoints = TrainCheckpoints(str(tmp_path))
    assert checkpoints.latest_step() == 1
    assert all(np.isfinite(leaf).all() for leaf in jax.tree.leaves(final_state(str(tmp_path))["params"]))


def test_init_from_weights_copies_every_matching_leaf_and_keeps_a_new_classifier(tmp_path):
    options = dict(width_multiplier=0.1, min_depth=4, block_counts=(1, 1, 1), aux_head=True)
    model = create_model("inception_resnet_v2", num_classes=10, **options)
    tx = make_optimizer(paper.get_config().optimizer, optax.constant_schedule(0.1))
    fresh = random_train_state(model, tx, 75, seed=0)
    pretrained_model = create_model("inception_resnet_v2", num_classes=1000, **options)
    pretrained = random_variables(pretrained_model, 75, seed=1)
    artifacts.save_weights(
        str(tmp_path), artifacts.ModelSpec.of_module("inception_resnet_v2", pretrained_model), pretrained
    )

    state = start_from_weights(fresh, tx, str(tmp_path))
    np.testing.assert_array_equal(
        state.params["Mixed_6a"]["Branch_0"]["Conv2d_1a_3x3"]["conv"]["kernel"],
        pretrained["params"]["Mixed_6a"]["Branch_0"]["Conv2d_1a_3x3"]["conv"]["kernel"],
    )
    np.testing.assert_array_equal(
        state.batch_stats["Block8"]["Branch_0"]["Conv2d_0a_1x1"]["bn"]["var"],
        pretrained["batch_stats"]["Block8"]["Branch_0"]["Conv2d_0a_1x1"]["bn"]["var"],
    )
    # 1000-class heads do not fit 10 classes: they keep their fresh initialisation.
    np.testing.assert_array_equal(state.params["Logits"]["kernel"], fresh.params["Logits"]["kernel"])
    np.testing.assert_array_equal(
        state.params["AuxLogits"]["Logits"]["bias"], fresh.params["AuxLogits"]["Logits"]["bias"]
    )
    jax.tree.map(np.testing.assert_array_equal, state.ema_params, state.params)


# ---------------------------------------------------------------- errors that tell the user what to do


def test_unknown_model_and_dataset_list_the_valid_names(data_dir):
    with pytest.raises(ValueError, match="inception_resnet_v2"):
        artifacts.model_spec_from_config(tiny_config(data_dir, model_name="inception_v5"), 10)
    with pytest.raises(ValueError, match="sklearn_digits"):
        train_and_evaluate(tiny_config(data_dir, **{"input.dataset": "not_a_dataset"}), "/tmp/unused")


def test_image_size_below_the_model_minimum_says_what_to_set(data_dir):
    with pytest.raises(ValueError, match=r"input.image_size=64 is below .* minimum of 75"):
        artifacts.model_spec_from_config(tiny_config(data_dir, **{"input.image_size": 64}), 10)


def test_global_batch_not_divisible_by_device_count(tmp_path, data_dir):
    with pytest.raises(ValueError, match="multiple of the 8 devices"):
        train_and_evaluate(tiny_config(data_dir, **{"input.batch_size": 12}), str(tmp_path))


# ---------------------------------------------------------------- configs

# Every config a command line documents: the packaged ones by name, the experiments' by path.
CONFIGS = sorted(
    [f"inception_jax:{name}" for name in configs.CONFIGS]
    + [
        os.path.join("experiments", d, "config.py")
        for d in os.listdir(os.path.join(REPO, "experiments"))
        if os.path.exists(os.path.join(REPO, "experiments", d, "config.py"))
    ]
)
REQUIRED_FIELDS = (
    "model_name",
    "seed",
    "total_steps",
    "log_every_steps",
    "eval_every_steps",
    "checkpoint_every_steps",
    "input",
    "optimizer",
    "schedule",
    "loss",
    "ema",
)


def test_moved_fields_still_work_for_one_release_and_warn_with_the_new_name():
    config = configs.get_config("default")
    config.optimizer.label_smoothing, config.optimizer.ema_decay = 0.2, 0.5
    with pytest.warns(FutureWarning, match=r"config.optimizer.label_smoothing is deprecated.*config.loss.label_smooth"):
        configs.resolve_moved_fields(config)
    assert (config.loss.label_smoothing, config.ema.decay, config.loss.aux_loss_weight) == (0.2, 0.5, 0.4)
    assert config.optimizer.label_smoothing is None  # moved, so a second resolve warns no more


@pytest.mark.parametrize("path", CONFIGS)
def test_every_experiment_config_has_the_contract_fields(path):
    module = load_config_file(configs.resolve(path) if path.startswith(configs.PREFIX) else os.path.join(REPO, path))
    assert "python -m inception_jax.main" in module.__doc__ or path == "inception_jax:paper"
    # Experiment folders' configs take `reduced=true` for their CPU-scale runs; the packaged ones take none.
    arguments = [None] if path.startswith(configs.PREFIX) else [None, "reduced=true"]
    for argument in arguments:
        config = module.get_config(argument)
        assert isinstance(config, ml_collections.ConfigDict)
        for field in REQUIRED_FIELDS:
            assert field in config, f"{path} lacks {field}"
        create_model(config.model_name, **{"num_classes": 10, **config.model})  # every option it sets exists
