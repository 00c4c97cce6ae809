"""The train state: one pytree that the jitted step maps to its successor.

Checkpoints keep it as two items: its weights (`weights_of`: raw and EMA parameters and BatchNorm statistics),
which evaluation reads alone, and the optimizer's progress (`optimizer_of`: step and optimizer state).
"""

from __future__ import annotations

from typing import Any

import flax
import jax
import jax.numpy as jnp
import optax

WEIGHT_FIELDS = ("params", "batch_stats", "ema_params", "ema_batch_stats")
OPTIMIZER_FIELDS = ("step", "opt_state")


@flax.struct.dataclass
class TrainState:
    step: jax.Array
    params: Any
    batch_stats: Any
    opt_state: optax.OptState
    ema_params: Any
    ema_batch_stats: Any

    def variables(self, ema: bool = False) -> dict:
        """The model variables for `apply`, raw or averaged."""
        return variables_of(weights_of(self), ema)


def weights_of(state: TrainState) -> dict:
    """The state's weights: `{"params", "batch_stats", "ema_params", "ema_batch_stats"}`."""
    return {field: getattr(state, field) for field in WEIGHT_FIELDS}


def optimizer_of(state: TrainState) -> dict:
    """The state's optimizer progress: `{"step", "opt_state"}`."""
    return {field: getattr(state, field) for field in OPTIMIZER_FIELDS}


def variables_of(weights: dict, ema: bool = False) -> dict:
    """The `{'params', 'batch_stats'}` for `apply` of a `weights_of` dict, raw or averaged."""
    if ema:
        return {"params": weights["ema_params"], "batch_stats": weights["ema_batch_stats"]}
    return {"params": weights["params"], "batch_stats": weights["batch_stats"]}


def init_train_state(model, tx: optax.GradientTransformation, rng: jax.Array, image_size: int) -> TrainState:
    """Initialises the network and optimizer; jit this with `out_shardings` to create it already sharded."""
    return train_state_from_variables(init_variables(model, rng, image_size), tx)


def init_variables(model, rng: jax.Array, image_size: int) -> dict:
    """The network's fresh `{'params', 'batch_stats'}`."""
    return model.init(rng, jnp.zeros((1, image_size, image_size, 3), model.dtype), train=False)


def abstract_weights(model, image_size: int) -> dict:
    """Shapes and dtypes of the `weights_of` dict of `model`'s train state, with no optimizer and no compute."""
    variables = jax.eval_shape(lambda rng: init_variables(model, rng, image_size), jax.random.key(0))
    params, batch_stats = variables["params"], variables.get("batch_stats", {})
    return {"params": params, "batch_stats": batch_stats, "ema_params": params, "ema_batch_stats": batch_stats}


def train_state_from_variables(variables, tx: optax.GradientTransformation) -> TrainState:
    """The state at step 0 of training from `variables`: a fresh optimizer, and an EMA that starts at them."""
    params, batch_stats = variables["params"], variables.get("batch_stats", {})  # networks before BN have none
    return TrainState(
        step=jnp.zeros((), jnp.int32),
        params=params,
        batch_stats=batch_stats,
        opt_state=tx.init(params),
        ema_params=params,
        ema_batch_stats=batch_stats,
    )
