"""Weights directories: a network's variables beside the spec that rebuilds and feeds it.

    save_weights("weights/v3", spec, variables)          # WEIGHTS/spec.json, WEIGHTS/variables/ (Orbax)
    module, variables, spec = load_weights("weights/v3")

The convert command writes them, `init_from` fine-tunes from them, evaluation and FID read them. Training runs'
checkpoints are `inception_jax.train.checkpoint`'s; `inception_jax.artifacts` is the face of both.
"""

from __future__ import annotations

import logging
import os

import flax.linen as nn
import jax
import numpy as np
import orbax.checkpoint as ocp

from inception_jax.spec import ModelSpec, read_spec

VARIABLES_DIR = "variables"


def save_weights(directory: str, spec: ModelSpec, variables) -> None:
    """Writes `variables` (params, batch_stats) and `spec` to `directory`, which `load_weights` reads."""
    directory = os.path.abspath(directory)
    variables = jax.tree.map(np.asarray, dict(variables))
    with ocp.StandardCheckpointer() as checkpointer:
        checkpointer.save(os.path.join(directory, VARIABLES_DIR), variables, force=True)
    spec.write(directory)
    logging.info("Saved %s weights to %s", spec.model_name, directory)


def load_weights(directory: str) -> tuple[nn.Module, dict, ModelSpec]:
    """Reads what `save_weights` wrote: `(module, variables, spec)`, variables as host numpy arrays."""
    directory = os.path.abspath(directory)
    spec = read_spec(directory)
    with ocp.StandardCheckpointer() as checkpointer:
        variables = checkpointer.restore(os.path.join(directory, VARIABLES_DIR))
    return spec.build(), variables, spec
