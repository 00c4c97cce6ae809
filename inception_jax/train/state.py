"""The train state: one pytree that the jitted step maps to its successor and Orbax saves whole."""

from __future__ import annotations

from typing import Any

import flax
import jax
import jax.numpy as jnp
import optax


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
        if ema:
            return {"params": self.ema_params, "batch_stats": self.ema_batch_stats}
        return {"params": self.params, "batch_stats": self.batch_stats}


def init_train_state(model, tx: optax.GradientTransformation, rng: jax.Array, image_size: int) -> TrainState:
    """Initialises the network and optimizer; jit this with `out_shardings` to create it already sharded."""
    variables = model.init(rng, jnp.zeros((1, image_size, image_size, 3), model.dtype), train=False)
    return train_state_from_variables(variables, tx)


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
