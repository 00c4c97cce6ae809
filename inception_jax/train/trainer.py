"""The trainer: `train_and_evaluate(config, workdir)` runs one experiment config from start (or resume) to end.

Read it top to bottom: mesh → input → model & optimizer → state (restore, init_from or init) → steps → loop.
Every run is resumable: rerunning the same command continues from the newest checkpoint in `workdir`, and
because batches and dropout depend only on (seed, step) the resumed run matches an uninterrupted one.
"""
from __future__ import annotations

import functools
import logging
import math

import flax
import jax
import ml_collections
import numpy as np
from flax import traverse_util

from inception_jax.data import pipeline
from inception_jax.models import create_model
from inception_jax.train import mesh as mesh_lib
from inception_jax.train.checkpoint import TrainCheckpoints, load_weights
from inception_jax.train.metrics import MetricWriter, Progress
from inception_jax.train.optimizer import learning_rate_schedule, make_optimizer
from inception_jax.train.state import TrainState, init_train_state
from inception_jax.train.steps import make_eval_step, make_train_step


def build_model(config: ml_collections.ConfigDict, num_classes: int):
    """The network named by `config.model_name` with `config.model` overrides; errors name the valid choices."""
    options = dict(config.get("model", {}))
    options.setdefault("num_classes", num_classes)
    model = create_model(config.model_name, **options)
    if config.input.image_size < model.min_size:
        raise ValueError(f"input.image_size={config.input.image_size} is below {config.model_name}'s minimum of "
                         f"{model.min_size}; set --config.input.image_size={model.min_size} or larger.")
    return model


def host_value(x) -> np.ndarray:
    """A replicated array's value on this host (works when the array spans several processes)."""
    return np.asarray(x.addressable_data(0)) if isinstance(x, jax.Array) else np.asarray(x)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict[str, float]:
    """Trains and evaluates `config` in `workdir`; returns the last evaluation's metrics."""
    logging.info("JAX %s, Flax %s; process %d/%d; devices: %s", jax.__version__, flax.__version__,
                 jax.process_index(), jax.process_count(), jax.devices())

    # ------------------------------------------------------------------ Mesh
    mesh = mesh_lib.make_mesh()
    data_sharding, replicated = mesh_lib.batch_sharding(mesh), mesh_lib.replicated(mesh)

    # ------------------------------------------------------------------ Input
    info = pipeline.dataset_info(config.input)
    steps_per_epoch = info.num_train_examples // config.input.batch_size
    if steps_per_epoch == 0:
        raise ValueError(f"input.batch_size={config.input.batch_size} exceeds the {info.num_train_examples} "
                         f"training examples; use a smaller batch.")
    total_steps = config.total_steps or math.ceil(config.total_epochs * steps_per_epoch)
    logging.info("%d classes, %d train / %d eval examples, %d steps per epoch, %d steps", info.num_classes,
                 info.num_train_examples, info.num_eval_examples, steps_per_epoch, total_steps)

    # ------------------------------------------------------------------ Model & optimizer
    model = build_model(config, info.num_classes)
    schedule = learning_rate_schedule(config.schedule, config.input.batch_size, steps_per_epoch)
    tx = make_optimizer(config.optimizer, schedule)

    # ------------------------------------------------------------------ State: restore, init_from, or init
    init_fn = functools.partial(init_train_state, model, tx, image_size=config.input.image_size)
    rng = jax.random.key(config.seed)
    init_rng, step_rng = jax.random.split(rng)
    abstract_state = jax.eval_shape(init_fn, init_rng)
    shardings = mesh_lib.state_shardings(abstract_state, mesh, config.get("fsdp", False))
    checkpoints = TrainCheckpoints(workdir, config.keep_checkpoints)
    if checkpoints.latest_step() is not None:
        target = jax.tree.map(lambda a, s: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=s), abstract_state,
                              shardings)
        state, meta = checkpoints.restore(target)
        logging.info("Resumed from %s at step %d", checkpoints.directory, meta["step"])
    else:
        logging.info("Initialising %s (compiling the initialiser takes a while on CPU)", config.model_name)
        state = jax.jit(init_fn, out_shardings=shardings)(init_rng)
        if config.get("init_from"):
            state = jax.device_put(start_from_weights(state, tx, config.init_from), shardings)
    start_step = int(host_value(state.step))

    # ------------------------------------------------------------------ Steps
    train_step = jax.jit(
        make_train_step(model, tx, schedule, config.optimizer, config.get("grad_accum_steps", 1)),
        out_shardings=(shardings, replicated), donate_argnums=0)
    eval_step = jax.jit(make_eval_step(model), out_shardings=replicated)

    def evaluate(state: TrainState) -> dict[str, float]:
        sums = {}
        for batch in pipeline.eval_iterator(config.input, data_sharding):
            for prefix, ema in (("eval", False), ("eval_ema", True)):
                for key, value in eval_step(state.variables(ema), batch).items():
                    sums[(prefix, key)] = sums.get((prefix, key), 0.0) + value
        sums = {key: float(host_value(value)) for key, value in sums.items()}
        return {f"{prefix}/{key}": sums[(prefix, key)] / sums[(prefix, "count")]
                for prefix, key in sums if key != "count"}

    # ------------------------------------------------------------------ Train loop
    writer = MetricWriter(workdir, resume_step=start_step)
    progress = Progress(total_steps, config.input.batch_size, start_step)
    batches = pipeline.train_iterator(config.input, data_sharding, seed=config.seed, start_step=start_step)
    pending: list[tuple[int, dict]] = []  # Metrics still on device: fetching every step would stall dispatch.
    eval_metrics: dict[str, float] = {}

    def flush() -> dict[str, float]:
        """Fetches pending metrics, stops on a non-finite loss or parameters, returns the interval's mean.

        Checkpoints are saved only after a flush, so every saved state has finite parameters.
        """
        fetched = [(step, {k: float(host_value(v)) for k, v in m.items()}) for step, m in pending]
        pending.clear()
        for step, metrics in fetched:
            loss, param_norm = metrics["train/loss"], metrics["train/param_norm"]
            if not (math.isfinite(loss) and math.isfinite(param_norm)):
                checkpoints.wait()
                raise FloatingPointError(
                    f"Training diverged at step {step} (loss {loss}, parameter norm {param_norm}); stopped. The "
                    f"last good checkpoint (step {checkpoints.latest_step()}) is kept in {checkpoints.directory}. "
                    f"Lower the learning rate or set --config.optimizer.grad_clip_norm.")
        mean = {k: float(np.mean([m[k] for _, m in fetched])) for k in fetched[-1][1]} if fetched else {}
        if fetched:
            mean["train/lr"] = fetched[-1][1]["train/lr"]
        return mean

    try:
        for step in range(start_step + 1, total_steps + 1):
            with jax.profiler.StepTraceAnnotation("train", step_num=step):
                state, metrics = train_step(state, next(batches), step_rng)
            pending.append((step, metrics))
            last = step == total_steps
            if step % config.log_every_steps == 0 or last:
                metrics = flush()
                metrics["train/img_per_sec"] = progress.images_per_second(step)
                metrics["train/epoch"] = step / steps_per_epoch
                progress.report(step, metrics)
                writer.write(step, metrics)
            if step % config.eval_every_steps == 0 or last:
                flush()
                eval_metrics = evaluate(state)
                logging.info("step %d  %s", step, "  ".join(f"{k} {v:.4f}" for k, v in sorted(eval_metrics.items())))
                writer.write(step, eval_metrics)
            if step % config.checkpoint_every_steps == 0 or last:
                flush()
                checkpoints.save(step, state, {"step": step, "data_step": step, "config": config.to_dict()})
    finally:
        checkpoints.close()
        writer.close()
    if not eval_metrics and start_step >= total_steps:
        logging.info("%s already holds a finished run (step %d); evaluating it.", workdir, start_step)
        eval_metrics = evaluate(state)
    return eval_metrics


def start_from_weights(state: TrainState, tx, weights_dir: str) -> TrainState:
    """Copies every parameter and BatchNorm statistic of `weights_dir` whose path and shape match.

    Leaves that differ (e.g. the classifier when fine-tuning to a new number of classes) keep their fresh
    initialisation and are logged. The optimizer state and EMA restart from the loaded weights.
    """
    _, loaded = load_weights(weights_dir)
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
        logging.info("init_from %s: %d leaves kept their initialisation: %s", weights_dir, len(skipped),
                     ", ".join(skipped[:10]))
    return state.replace(params=params, batch_stats=batch_stats, opt_state=tx.init(params),
                         ema_params=params, ema_batch_stats=batch_stats)

