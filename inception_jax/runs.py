"""Opens a training run's workdir for inspection: its config, its network and its train state.

    model, config, state = load_run("runs/default")
    logits = model.apply(state.variables(ema=True), images, train=False)

Everything comes from the newest (or a chosen) checkpoint, which stores the config next to the state, so a run
can be inspected without its config file and without its dataset.
"""
from __future__ import annotations

import functools
from typing import NamedTuple

import flax.linen as nn
import jax
import ml_collections

from inception_jax.train import mesh as mesh_lib
# The item names the trainer saves under; TrainCheckpoints restores both items at once, and the config is
# needed first, to build the state it restores into.
from inception_jax.train.checkpoint import TrainCheckpoints
from inception_jax.train.optimizer import learning_rate_schedule, make_optimizer
from inception_jax.train.state import TrainState, init_train_state
from inception_jax.train.trainer import build_model


class Run(NamedTuple):
    """A restored run; unpacks as `model, config, state`."""

    model: nn.Module
    config: ml_collections.ConfigDict
    state: TrainState


def load_run(workdir: str, step: int | None = None) -> Run:
    """Restores the run in `workdir` at `step` (default: its newest checkpoint), replicated on every device."""
    checkpoints = TrainCheckpoints.of_existing_run(workdir)
    try:
        step = checkpoints.resolve_step(step)
        config = _stored_config(checkpoints, step)
        # The classifier's width comes from the checkpoint, so that no dataset has to be opened.
        num_classes = checkpoints.state_metadata(step)["params"]["Logits"]["kernel"].shape[-1]
        model = build_model(config, num_classes)
        state, _ = checkpoints.restore(abstract_train_state(model, config), step)
    finally:
        checkpoints.close()
    return Run(model, config, state)


def _stored_config(checkpoints: TrainCheckpoints, step: int) -> ml_collections.ConfigDict:
    """The config saved with checkpoint `step`, with JSON's lists turned back into the tuples configs use."""
    meta = checkpoints.read_meta(step)
    return ml_collections.ConfigDict(_lists_to_tuples(meta["config"]))


def abstract_train_state(model: nn.Module, config: ml_collections.ConfigDict) -> TrainState:
    """The shapes, dtypes and (replicated) shardings of the train state the trainer builds for `config`."""
    # The optimizer state's structure does not depend on the schedule's values, so one step per epoch will do.
    schedule = learning_rate_schedule(config.schedule, config.input.batch_size, steps_per_epoch=1)
    init_fn = functools.partial(init_train_state, model, make_optimizer(config.optimizer, schedule),
                                image_size=config.input.image_size)
    abstract = jax.eval_shape(init_fn, jax.random.key(config.seed))
    replicated = mesh_lib.replicated(mesh_lib.make_mesh())
    return jax.tree.map(lambda leaf: jax.ShapeDtypeStruct(leaf.shape, leaf.dtype, sharding=replicated), abstract)


def _lists_to_tuples(tree):
    if isinstance(tree, dict):
        return {key: _lists_to_tuples(value) for key, value in tree.items()}
    if isinstance(tree, list):
        return tuple(_lists_to_tuples(value) for value in tree)
    return tree
