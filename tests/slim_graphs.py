"""Google's own graph code, tf-slim's `nets/inception_v1/v2/v3`, built under `tf.compat.v1` with random values in
every variable (weights, β, biases, moving statistics), saved as a real checkpoint, and run.

TensorFlow 2.21 builds slim's layers through tf-keras's legacy layers, which it imports as
`tf_keras.legacy_tf_layers.*`; tf-keras 2.21 keeps them under `tf_keras.src.legacy_tf_layers.*`, so those
modules are registered under the old names first (`alias_legacy_layers`).
"""

from __future__ import annotations

import dataclasses
import importlib
import sys

import numpy as np

_LEGACY_LAYERS = ("", ".base", ".convolutional", ".core", ".normalization", ".pooling", ".variable_scope_shim")


@dataclasses.dataclass(frozen=True)
class Graph:
    """One slim network: its builder in `tf_slim.nets`, input size and class count."""

    module: str
    function: str
    arg_scope: str
    image_size: int
    num_classes: int
    aux_logits: bool = False


GRAPHS = {
    "inception_v3": Graph("inception_v3", "inception_v3", "inception_v3_arg_scope", 299, 1001, aux_logits=True),
    "bn_inception": Graph("inception_v2", "inception_v2", "inception_v2_arg_scope", 224, 1000),
    "googlenet": Graph("inception_v1", "inception_v1", "inception_v1_arg_scope", 224, 1000),
}


def alias_legacy_layers() -> None:
    for suffix in _LEGACY_LAYERS:
        sys.modules.setdefault(
            f"tf_keras.legacy_tf_layers{suffix}", importlib.import_module(f"tf_keras.src.legacy_tf_layers{suffix}")
        )


def _value(name: str, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Well-scaled random values, so that the logits stay O(1) and every variable matters."""
    if name.endswith("moving_variance"):
        values = rng.uniform(0.75, 1.75, shape)
    elif name.endswith(("beta", "moving_mean")):
        values = rng.normal(0.0, 0.1, shape)
    elif name.endswith("biases"):
        values = rng.normal(0.0, 0.05, shape)
    elif name.endswith("depthwise_weights"):  # per input channel: fan-in of its window alone
        values = rng.normal(0.0, np.sqrt(1.0 / np.prod(shape[:2])), shape)
    else:  # weights (HWIO), He-scaled for the ReLU that follows; the classifiers' too, harmlessly
        values = rng.normal(0.0, np.sqrt(2.0 / np.prod(shape[:-1])), shape)
    return values.astype(np.float32)


def build_and_run(name: str, prefix: str, images: np.ndarray, seed: int = 0) -> dict[str, np.ndarray]:
    """Builds slim's network for `name` (eval mode) with random variables, saves them as a checkpoint at
    `prefix` with `tf.compat.v1.train.Saver`, and returns its logits (and aux logits) on NHWC `images`."""
    import tensorflow as tf  # noqa: PLC0415

    alias_legacy_layers()
    import tf_slim  # noqa: PLC0415

    graph = GRAPHS[name]
    nets = importlib.import_module(f"tf_slim.nets.{graph.module}")
    rng = np.random.default_rng(seed)
    with tf.Graph().as_default():  # graph mode here only: the rest of the process stays eager
        inputs = tf.compat.v1.placeholder(tf.float32, (None, *images.shape[1:]))
        with tf_slim.arg_scope(getattr(nets, graph.arg_scope)()):
            logits, endpoints = getattr(nets, graph.function)(inputs, num_classes=graph.num_classes, is_training=False)
        outputs = {"Logits": logits, **({"AuxLogits": endpoints["AuxLogits"]} if graph.aux_logits else {})}
        variables = tf.compat.v1.global_variables()
        with tf.compat.v1.Session() as session:
            # Each initializer assigns its initial value, which can be fed: one run sets every variable.
            session.run(
                [variable.initializer for variable in variables],
                {
                    variable.initial_value: _value(variable.op.name, tuple(variable.shape), rng)
                    for variable in variables
                },
            )
            tf.compat.v1.train.Saver(variables).save(session, prefix, write_meta_graph=False)
            return session.run(outputs, {inputs: images})
