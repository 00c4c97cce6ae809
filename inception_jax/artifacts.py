"""Everything saved, and everything rebuilt from it: the face of the artifact layer.

A network is saved as its `ModelSpec` (which network, its exact options, and the input it expects) beside its
variables; a training run as its spec beside Orbax checkpoints of its weights, its optimizer and its config.

    WEIGHTS/spec.json, WEIGHTS/variables/     save_weights / load_weights (inception_jax.weights)
    WORKDIR/spec.json, WORKDIR/checkpoints/   written by the trainer (inception_jax.train.checkpoint); restore_run

    spec = ModelSpec.of_module("inception_v3", module, InputSpec(image_size=299))
    save_weights("weights/v3", spec, variables)
    module, variables, spec = load_weights("weights/v3")
    run = restore_run("runs/default")         # run.spec, run.config, run.variables, run.ema_variables, run.step
    logits = run.model.apply(run.ema_variables, run.spec.input.normalize(pixels), train=False)

Restoring a run reads its weights alone: no optimizer is built unless `Run.state`, the whole train state, is
asked for. The plain values (`InputSpec`, `ModelSpec`, ...) live in `inception_jax.spec` and are re-exported
here, as are the weights directories' and checkpoint records' functions: every name this module exported before
still works. It imports neither TensorFlow nor the trainer.
"""

from __future__ import annotations

import dataclasses
import functools
import os

import flax.linen as nn
import jax
import ml_collections

from inception_jax import configs
from inception_jax.spec import (  # noqa: F401  (re-exported: the names this module has always exported)
    CONFIG_INPUT_FIELDS,
    CROP_MODES,
    IMAGENET_MEAN,
    IMAGENET_STD,
    INCEPTION_INPUT,
    INCEPTION_MEAN,
    INCEPTION_STD,
    INTERPOLATIONS,
    SPEC_FILE,
    TORCHVISION_INPUT,
    InputSpec,
    ModelSpec,
    input_overrides,
    input_spec_from_config,
    model_spec_from_config,
    read_spec,
)
from inception_jax.spec import decode as _decode  # noqa: F401
from inception_jax.spec import encode as _encode  # noqa: F401
from inception_jax.train import mesh as mesh_lib
from inception_jax.train.checkpoint import (  # noqa: F401
    TrainCheckpoints,
    checkpoint_record,
    config_from_record,
    data_step_from_record,
)
from inception_jax.train.program import Program
from inception_jax.train.state import TrainState, abstract_weights, variables_of
from inception_jax.weights import VARIABLES_DIR, load_weights, save_weights  # noqa: F401


def abstract_train_state(
    spec: ModelSpec, config: ml_collections.ConfigDict, mesh: jax.sharding.Mesh | None = None
) -> TrainState:
    """The shapes, dtypes and shardings of the train state the trainer builds for `spec` and `config`.

    Parameters are laid out on `mesh` as the trainer lays them out (sharded with `config.fsdp`); without a mesh,
    on every device. Nothing is computed or allocated. (`Program.build(...).abstract_state`.)
    """
    return Program.build(spec, config, mesh).abstract_state


@dataclasses.dataclass(frozen=True)
class Run:
    """A training run restored at one checkpoint: its spec, config and weights."""

    workdir: str
    step: int
    spec: ModelSpec
    config: ml_collections.ConfigDict
    weights: dict  # `{'params', 'batch_stats', 'ema_params', 'ema_batch_stats'}` on `mesh`
    mesh: jax.sharding.Mesh = dataclasses.field(compare=False, repr=False)

    @property
    def model(self) -> nn.Module:
        return self.spec.build()

    @property
    def variables(self) -> dict:
        """The raw weights' `{'params', 'batch_stats'}`."""
        return variables_of(self.weights, ema=False)

    @property
    def ema_variables(self) -> dict:
        """The EMA weights' `{'params', 'batch_stats'}`."""
        return variables_of(self.weights, ema=True)

    @functools.cached_property
    def state(self) -> TrainState:
        """The whole train state at this step, optimizer included, restored on first use (builds the optimizer)."""
        program = Program.build(
            self.spec, configs.resolve_moved_fields(self.config.copy_and_resolve_references()), self.mesh
        )
        checkpoints = TrainCheckpoints.of_existing_run(self.workdir)
        try:
            state, _ = checkpoints.restore(program.abstract_state, self.step)
        finally:
            checkpoints.close()
        return state


def read_run_config(workdir: str, step: int | None = None) -> tuple[ml_collections.ConfigDict, int]:
    """The config a training run saved with its checkpoint at `step` (default: its latest), and that step."""
    checkpoints = TrainCheckpoints.of_existing_run(workdir)
    try:
        step = checkpoints.resolve_step(step)
        return config_from_record(checkpoints.read_meta(step)), step
    finally:
        checkpoints.close()


def restore_run(workdir: str, step: int | None = None, mesh: jax.sharding.Mesh | None = None) -> Run:
    """The run in `workdir` at `step` (default: its newest checkpoint), its weights laid out on `mesh` as it
    trained (default: every device).

    Needs neither the run's config file nor its dataset: the config is stored with each checkpoint, the spec
    beside them. Only the weights are read; `Run.state` reads the rest when asked.
    """
    mesh = mesh or mesh_lib.make_mesh()
    checkpoints = TrainCheckpoints.of_existing_run(workdir)
    try:
        step = checkpoints.resolve_step(step)
        config = config_from_record(checkpoints.read_meta(step))
        if os.path.exists(os.path.join(workdir, SPEC_FILE)):
            spec = read_spec(workdir)
        else:  # Runs written before specs: the classifier's width comes from the checkpoint, not the dataset.
            num_classes = checkpoints.weights_metadata(step)["params"]["Logits"]["kernel"].shape[-1]
            spec = model_spec_from_config(config, num_classes)
        layout = mesh_lib.laid_out(
            abstract_weights(spec.build(), spec.input.image_size), mesh, config.get("fsdp", False)
        )
        weights = checkpoints.restore_weights(layout, step)
    finally:
        checkpoints.close()
    return Run(os.path.abspath(workdir), step, spec, config, weights, mesh)
