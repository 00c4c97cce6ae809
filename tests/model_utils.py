"""Test helpers: variables with random values built from shapes alone (without compiling `model.init`), and
tiny networks with the paper's recipe."""

import jax
import numpy as np

from inception_jax.configs import paper
from inception_jax.models import create_model
from inception_jax.spec import InputSpec, ModelSpec
from inception_jax.summary import abstract_variables
from inception_jax.train import mesh as mesh_lib
from inception_jax.train.program import Program
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


def signal_keeping_variables(model, image_size: int, seed: int = 0):
    """Variables under which the logits depend on the image: He-scaled kernels, batch norm as the identity, zero
    biases. (`random_variables`' fan-in scaling shrinks the signal at every ReLU: a reduced network's logits then
    barely change with the input, too little for tests of preprocessing.)"""
    rng = np.random.default_rng(seed)

    def fill(path, leaf):
        name = jax.tree_util.keystr(path)
        if any(f"'{field}'" in name for field in ("var", "scale")):
            return np.ones(leaf.shape, leaf.dtype)
        if any(f"'{field}'" in name for field in ("mean", "bias")):
            return np.zeros(leaf.shape, leaf.dtype)
        return (rng.standard_normal(leaf.shape) * np.sqrt(2.0 / np.prod(leaf.shape[:-1]))).astype(leaf.dtype)

    return jax.tree_util.tree_map_with_path(fill, abstract_variables(model, image_size))


def random_train_state(model, tx, image_size: int, seed: int = 0):
    """A `TrainState` with `random_variables` weights: skips compiling `init`, which costs ~30 s on CPU."""

    return train_state_from_variables(random_variables(model, image_size, seed), tx)


def tiny_recipe(batch_size: int = 16, **model_overrides):
    """A reduced Inception-ResNet-v2 (10 classes, 75 px) with the paper's optimizer and train step, for step-level
    tests.

    Returns (model, tx, train_step), train_step not jitted; `model_overrides` are `create_model` options (e.g.
    dtype, aux_head).
    """
    options = {"width_multiplier": 0.1, "min_depth": 4, "block_counts": (1, 1, 1)}
    return _recipe("inception_resnet_v2", 75, batch_size, {**options, **model_overrides})


# The network of train_utils.QUICK, for tests of processes rather than networks: it compiles in seconds.
QUICK_IMAGE_SIZE = 32


def quick_recipe(batch_size: int = 16, **model_overrides):
    """`tiny_recipe` on ResNet-20 cut to one block per stage (10 classes, `QUICK_IMAGE_SIZE` px)."""
    program = quick_program(batch_size, **model_overrides)
    return program.model, program.tx, program.step_function


def quick_program(batch_size: int = 16, **model_overrides) -> Program:
    """The whole `Program` of `quick_recipe`, on every device."""
    return _program("resnet20", QUICK_IMAGE_SIZE, batch_size, {"block_counts": (1, 1, 1), **model_overrides})


def _recipe(name: str, image_size: int, batch_size: int, options: dict):
    program = _program(name, image_size, batch_size, options)
    return program.model, program.tx, program.step_function


def _program(name: str, image_size: int, batch_size: int, options: dict) -> Program:
    config = paper.get_config()
    config.input.batch_size = batch_size
    model = create_model(name, **{"num_classes": 10, **options})
    spec = ModelSpec.of_module(name, model, InputSpec(image_size=image_size))
    return Program.build(spec, config, mesh_lib.make_mesh(), steps_per_epoch=100)
