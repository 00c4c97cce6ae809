"""Test helpers: variables with random values built from shapes alone, without compiling `model.init`."""

import jax
import numpy as np

from inception_jax.summary import abstract_variables
from inception_jax.train.state import train_state_from_variables


def random_variables(model, image_size: int, seed: int = 0):
    """Variables shaped like `model.init`'s, filled with small random values (BN variances positive)."""
    rng = np.random.default_rng(seed)

    def fill(path, leaf):
        name = jax.tree_util.keystr(path)
        if "'var'" in name:
            return rng.uniform(0.5, 1.5, leaf.shape).astype(leaf.dtype)
        fan_in = np.prod(leaf.shape[:-1]) if leaf.ndim > 1 else 1
        return (rng.standard_normal(leaf.shape) * np.sqrt(1.0 / fan_in)).astype(leaf.dtype)

    return jax.tree_util.tree_map_with_path(fill, abstract_variables(model, image_size))


def random_train_state(model, tx, image_size: int, seed: int = 0):
    """A `TrainState` with `random_variables` weights: skips compiling `init`, which costs ~30 s on CPU."""

    return train_state_from_variables(random_variables(model, image_size, seed), tx)
