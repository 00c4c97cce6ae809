"""What an evaluation compares: a training run's raw and EMA weights, or converted weights, with their specs.

A training workdir (`python -m inception_jax.main`) gives up to two networks from one checkpoint, its raw and its
EMA variables; a converted-weights directory (`python -m inception_jax.convert`) gives one. Both come from
`artifacts`, with the spec that says how each network's input is prepared; variables are placed on the mesh as
the trainer places them.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import flax.linen as nn
import jax

from inception_jax import artifacts
from inception_jax.train import mesh as mesh_lib

RAW, EMA, CONVERTED = "raw", "ema", "converted"


@dataclasses.dataclass(frozen=True)
class LoadedNetwork:
    """A Flax module with one set of its variables and its spec, ready to evaluate."""

    name: str  # What the results table calls it.
    model: nn.Module
    variables: Any  # {'params', 'batch_stats'} on the mesh.
    kind: str  # RAW or EMA (from a training run), or CONVERTED.
    spec: artifacts.ModelSpec

    def with_input(self, **overrides) -> LoadedNetwork:
        """The same network fed as its spec says, with the given InputSpec fields overridden (None: kept)."""
        spec = dataclasses.replace(self.spec, input=self.spec.input.replace(**overrides))
        return dataclasses.replace(self, spec=spec)


def load_run(
    workdir: str,
    num_classes: int,
    mesh: jax.sharding.Mesh,
    step: int | None = None,
    kinds: tuple[str, ...] = (RAW, EMA),
) -> list[LoadedNetwork]:
    """The raw and/or EMA networks of the checkpoint at `step` (default: latest) of a training run."""
    run = artifacts.restore_run(workdir, step, mesh)
    _check_classes(run.spec, num_classes, workdir)
    model = run.model
    return [
        LoadedNetwork(
            f"{run.spec.model_name} ({workdir}, step {run.step}{', EMA' if kind == EMA else ''})",
            model,
            run.ema_variables if kind == EMA else run.variables,
            kind,
            run.spec,
        )
        for kind in kinds
    ]


def load_converted(directory: str, num_classes: int, mesh: jax.sharding.Mesh) -> LoadedNetwork:
    """The network in a directory written by `python -m inception_jax.convert`."""
    model, variables, spec = artifacts.load_weights(directory)
    _check_classes(spec, num_classes, directory)
    return LoadedNetwork(
        f"{spec.model_name} ({directory})", model, jax.device_put(variables, mesh_lib.replicated(mesh)), CONVERTED, spec
    )


def _check_classes(spec: artifacts.ModelSpec, num_classes: int, source: str) -> None:
    if spec.num_classes != num_classes:
        raise ValueError(
            f"The network in {source} predicts {spec.num_classes} classes but the evaluation dataset "
            f"has {num_classes}; pass the --config of the dataset it was trained on "
            f"(e.g. inception_jax:inception_v4 for ImageNet)."
        )
