"""Loads what an evaluation compares: a training run's raw and EMA weights, or converted weights.

A training workdir (`python -m inception_jax.main`) gives up to two networks from one checkpoint, its raw and its
EMA variables, rebuilt from the run's stored config. A converted-weights directory (`python -m inception_jax.convert`)
gives one. Variables are placed on the mesh as the trainer places them.
"""
from __future__ import annotations

import dataclasses
import functools
from typing import Any

import flax.linen as nn
import jax
import ml_collections

from inception_jax.train import mesh as mesh_lib
from inception_jax.train.checkpoint import TrainCheckpoints, load_weights
from inception_jax.train.optimizer import learning_rate_schedule, make_optimizer
from inception_jax.train.state import init_train_state
from inception_jax.train.trainer import build_model

RAW, EMA, CONVERTED = "raw", "ema", "converted"


@dataclasses.dataclass(frozen=True)
class LoadedNetwork:
    """A Flax module with one set of its variables, ready to evaluate."""

    name: str  # What the results table calls it.
    model: nn.Module
    variables: Any  # {'params', 'batch_stats'} on the mesh.
    kind: str  # RAW or EMA (from a training run), or CONVERTED.


def stored_config(workdir: str, step: int | None = None) -> tuple[ml_collections.ConfigDict, int]:
    """The config a training run stored with its checkpoint at `step` (default: latest), and that step."""
    checkpoints = TrainCheckpoints.of_existing_run(workdir)
    try:
        step = checkpoints.resolve_step(step)
        # Only the JSON record, not the state: the state's structure depends on this config.
        meta = checkpoints.read_meta(step)
    finally:
        checkpoints.close()
    return ml_collections.ConfigDict(meta["config"]), step


def load_run(workdir: str, num_classes: int, mesh: jax.sharding.Mesh, step: int | None = None,
             kinds: tuple[str, ...] = (RAW, EMA)) -> list[LoadedNetwork]:
    """The raw and/or EMA networks of the checkpoint at `step` (default: latest) of a training run."""
    config, step = stored_config(workdir, step)
    model = build_model(config, num_classes)
    # Restoring needs the optimizer state's structure only; the schedule's values do not matter.
    tx = make_optimizer(config.optimizer, learning_rate_schedule(config.schedule, config.input.batch_size, 1))
    abstract_state = jax.eval_shape(
        functools.partial(init_train_state, model, tx, image_size=config.input.image_size), jax.random.key(0))
    shardings = mesh_lib.state_shardings(abstract_state, mesh, config.get("fsdp", False))
    target = jax.tree.map(lambda a, s: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=s), abstract_state, shardings)
    checkpoints = TrainCheckpoints.of_existing_run(workdir)
    try:
        state, _ = checkpoints.restore(target, step)
    except ValueError as error:
        raise ValueError(f"Cannot evaluate {workdir} on a dataset of {num_classes} classes: {error}") from error
    finally:
        checkpoints.close()
    return [LoadedNetwork(f"{config.model_name} ({workdir}, step {step}{', EMA' if kind == EMA else ''})", model,
                          state.variables(ema=kind == EMA), kind) for kind in kinds]


def load_converted(directory: str, num_classes: int, mesh: jax.sharding.Mesh) -> LoadedNetwork:
    """The network in a directory written by `python -m inception_jax.convert`."""
    model, variables = load_weights(directory)
    if model.num_classes != num_classes:
        raise ValueError(f"The weights in {directory} predict {model.num_classes} classes but the evaluation "
                         f"dataset has {num_classes}; pass the --config of the dataset they were trained on "
                         f"(e.g. experiments/configs/inception_v4.py for ImageNet).")
    return LoadedNetwork(f"{type(model).__name__} ({directory})", model,
                         jax.device_put(variables, mesh_lib.replicated(mesh)), CONVERTED)
