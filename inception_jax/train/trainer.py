"""The trainer: `train_and_evaluate(config, workdir)` runs one experiment config from start (or resume) to end.

Read it top to bottom: mesh → input → model & program → state (restore, init_from or init) → loop. The
schedule, optimizer, sharded state and jitted steps come from `train.program.Program`.
Every run is resumable: rerunning the same command continues from the newest checkpoint in `workdir` that reads
back, and because batches and dropout depend only on (seed, step) the resumed run matches an uninterrupted one.
A rerun with a config that would change that is refused, as is a second run on a workdir in use
(docs/reliability.md, Faults).
"""

from __future__ import annotations

import contextlib
import logging
import math
import time

import flax
import jax
import ml_collections
import numpy as np
from flax import traverse_util

from inception_jax import configs
from inception_jax.data import pipeline
from inception_jax.spec import model_spec_from_config, read_spec
from inception_jax.train import mesh as mesh_lib
from inception_jax.train import metrics as metrics_lib
from inception_jax.train import preemption as preemption_lib
from inception_jax.train import validation, workdir_lock
from inception_jax.train.checkpoint import (
    TrainCheckpoints,
    checkpoint_record,
    config_from_record,
    data_step_from_record,
)
from inception_jax.train.mesh import host_value
from inception_jax.train.program import Program
from inception_jax.train.state import TrainState, train_state_from_variables
from inception_jax.weights import load_weights

# sysexits.h's EX_DATAERR, which `main` exits with on `Diverged`: unlike preemption's 75, not a failure to retry,
# since the same command would resume from the same checkpoint and diverge again.
DIVERGED_EXIT_CODE = 65


class Diverged(FloatingPointError):
    """A non-finite loss or parameter norm stopped the run; the last good checkpoint is kept."""


def train_and_evaluate(
    config: ml_collections.ConfigDict, workdir: str, *, allow_config_change: bool = False
) -> dict[str, float]:
    """Trains and evaluates `config` in `workdir`; returns the last evaluation's metrics.

    Resuming refuses a config that differs from the checkpoint's in a field that changes the run
    (`validation.check_resume`) unless `allow_config_change`; a second run on a workdir in use is refused.
    """
    with workdir_lock.hold(workdir):
        return _train_and_evaluate(config, workdir, allow_config_change)


def _train_and_evaluate(config: ml_collections.ConfigDict, workdir: str, allow_config_change: bool) -> dict[str, float]:
    config = configs.resolve_moved_fields(config)
    logging.info(
        "JAX %s, Flax %s; process %d/%d; devices: %s",
        jax.__version__,
        flax.__version__,
        jax.process_index(),
        jax.process_count(),
        jax.devices(),
    )

    # ------------------------------------------------------------------ Config check, before anything compiles
    info = validation.check_config(config)

    # ------------------------------------------------------------------ Mesh
    mesh = mesh_lib.make_mesh()
    data_sharding = mesh_lib.batch_sharding(mesh)

    # ------------------------------------------------------------------ Input
    steps_per_epoch = info.num_train_examples // config.input.batch_size
    total_steps = config.total_steps or math.ceil(config.total_epochs * steps_per_epoch)
    logging.info(
        "%d classes, %d train / %d eval examples, %d steps per epoch, %d steps",
        info.num_classes,
        info.num_train_examples,
        info.num_eval_examples,
        steps_per_epoch,
        total_steps,
    )

    # ------------------------------------------------------------------ Model & program
    # The spec (network, options, input contract) is what the run's checkpoints can be rebuilt from.
    weights = read_spec(config.init_from) if config.get("init_from") else None
    spec = model_spec_from_config(config, info.num_classes, weights)
    spec.write(workdir)
    logging.info("Input: %s", spec.input)
    program = Program.build(spec, config, mesh, steps_per_epoch)
    train_step, eval_step = program.train_step, program.eval_step

    # ------------------------------------------------------------------ State: restore, init_from, or init
    rng = jax.random.key(config.seed)
    init_rng, step_rng = jax.random.split(rng)
    checkpoints = TrainCheckpoints(workdir, config.keep_checkpoints)
    if checkpoints.latest_step() is not None:
        state, record = checkpoints.restore_newest_intact(
            program.abstract_state,
            lambda record: validation.check_resume(config_from_record(record), config, allow_config_change),
        )
        data_step = data_step_from_record(record)
        logging.info("Resumed from %s at step %d", checkpoints.directory, record["step"])
    else:
        logging.info("Initialising %s (compiling the initialiser takes a while on CPU)", config.model_name)
        state = program.init(init_rng)
        if config.get("init_from"):
            state = jax.device_put(start_from_weights(state, program.tx, config.init_from), program.shardings)
        data_step = 0
    start_step = int(host_value(state.step))

    def evaluate(state: TrainState) -> dict[str, float]:
        sums = {}
        for batch in pipeline.eval_iterator(config.input, spec.input, data_sharding):
            for prefix, ema in (("eval", False), ("eval_ema", True)):
                for key, value in eval_step(state.variables(ema), batch).items():
                    sums[(prefix, key)] = sums.get((prefix, key), 0.0) + value
        sums = {key: float(host_value(value)) for key, value in sums.items()}
        return {
            f"{prefix}/{key}": sums[(prefix, key)] / sums[(prefix, "count")] for prefix, key in sums if key != "count"
        }

    # ------------------------------------------------------------------ Train loop
    writer = metrics_lib.create_writer(workdir, resume_step=start_step)
    preemption = preemption_lib.PreemptionWatch()
    progress = metrics_lib.create_progress(total_steps, every_steps=config.log_every_steps, first_step=start_step)
    batches = pipeline.train_iterator(config.input, spec.input, data_sharding, seed=config.seed, start_step=data_step)
    pending: list[tuple[int, dict]] = []  # Metrics still on device: fetching every step would stall dispatch.
    window: list[tuple[int, dict]] = []  # Fetched since the last log line; each step lands in exactly one.
    window_start, paused = time.perf_counter(), 0.0  # Time outside train steps (eval, checkpoints) is not counted.
    eval_metrics: dict[str, float] = {}

    def fetch() -> None:
        """Moves pending metrics to the host window; stops on a non-finite loss or parameters.

        Checkpoints are saved only after a fetch, so every saved state has finite parameters.
        """
        fetched = [(step, {k: float(host_value(v)) for k, v in m.items()}) for step, m in pending]
        pending.clear()
        for step, metrics in fetched:
            loss, param_norm = metrics["train/loss"], metrics["train/param_norm"]
            if not (math.isfinite(loss) and math.isfinite(param_norm)):
                checkpoints.wait()
                raise Diverged(
                    f"Training diverged at step {step} (loss {loss}, parameter norm {param_norm}); stopped. The "
                    f"last good checkpoint (step {checkpoints.latest_step()}) is kept in {checkpoints.directory}. "
                    f"Lower the learning rate or set --config.optimizer.grad_clip_norm."
                )
        window.extend(fetched)

    @contextlib.contextmanager
    def paused_for(name: str):
        """Times a pause in training (evaluation, checkpoint) to leave it out of the images/s."""
        nonlocal paused
        fetch()  # also waits for the steps before the pause, which belong to the window
        start = time.perf_counter()
        with progress.timed(name, wait_jax_async_dispatch=False):
            yield
        paused += time.perf_counter() - start

    preempted_at = None
    try:
        for step in range(start_step + 1, total_steps + 1):
            with jax.profiler.StepTraceAnnotation("train", step_num=step):
                state, metrics = train_step(state, next(batches), step_rng)
            pending.append((step, metrics))
            progress(step)
            last = step == total_steps
            stopping = preemption.reached(step)  # SIGTERM: log and checkpoint this step, then stop
            if step % config.log_every_steps == 0 or last or stopping:
                fetch()
                now = time.perf_counter()
                mean = {key: float(np.mean([m[key] for _, m in window])) for key in window[-1][1]}
                mean["train/lr"] = window[-1][1]["train/lr"]
                mean["train/img_per_sec"] = (
                    len(window) * config.input.batch_size / max(now - window_start - paused, 1e-9)
                )
                mean["train/epoch"] = step / steps_per_epoch
                writer.write_scalars(step, mean)
                window.clear()
                window_start, paused = now, 0.0
            if step % config.eval_every_steps == 0 or last:
                with paused_for("eval"):
                    eval_metrics = evaluate(state)
                writer.write_scalars(step, eval_metrics)
            if step % config.checkpoint_every_steps == 0 or last or stopping:
                with paused_for("checkpoint"):
                    checkpoints.save(step, state, checkpoint_record(step, data_step + step - start_step, config))
            if stopping and not last:
                preempted_at = step
                break
    finally:
        preemption.close()
        checkpoints.close()  # waits for the last save
        writer.close()
    if preempted_at is not None:
        raise preemption_lib.Preempted(preempted_at, checkpoints.directory)
    if not eval_metrics and start_step >= total_steps:
        logging.info("%s already holds a finished run (step %d); evaluating it.", workdir, start_step)
        eval_metrics = evaluate(state)
    return eval_metrics


def start_from_weights(state: TrainState, tx, weights_dir: str) -> TrainState:
    """Copies every parameter and BatchNorm statistic of `weights_dir` whose path and shape match.

    Leaves that differ (e.g. the classifier when fine-tuning to a new number of classes) keep their fresh
    initialisation and are logged. The optimizer state and EMA restart from the loaded weights.
    """
    _, loaded, _ = load_weights(weights_dir)
    skipped = []

    def merge(fresh, pretrained):
        fresh_flat = traverse_util.flatten_dict(flax.core.unfreeze(fresh))
        pretrained_flat = traverse_util.flatten_dict(dict(pretrained))
        for path, value in fresh_flat.items():
            if path in pretrained_flat and pretrained_flat[path].shape == value.shape:
                fresh_flat[path] = np.asarray(pretrained_flat[path], value.dtype)
            else:
                skipped.append("/".join(path))
        return traverse_util.unflatten_dict(fresh_flat)

    params = merge(jax.device_get(state.params), loaded["params"])
    batch_stats = merge(jax.device_get(state.batch_stats), loaded.get("batch_stats", {}))
    if skipped:
        logging.info(
            "init_from %s: %d leaves kept their initialisation: %s", weights_dir, len(skipped), ", ".join(skipped[:10])
        )
    return train_state_from_variables({"params": params, "batch_stats": batch_stats}, tx)
