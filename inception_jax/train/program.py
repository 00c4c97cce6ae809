"""What an experiment config compiles to: schedule → optimizer → sharded train state → jitted train and eval steps.

    program = Program.build(spec, config, mesh, steps_per_epoch)
    state = program.init(jax.random.key(config.seed))           # created already laid out on the mesh
    state, metrics = program.train_step(state, batch, rng)       # batch split on the mesh's `data` axis
    sums = program.eval_step(state.variables(ema=True), batch)

The trainer, a run's full restore (`inception_jax.artifacts`), the benchmarks, the experiments and the tests
build their training pieces here. Nothing is compiled or allocated until a step or `init` is called, so
`abstract_state` and `.lower(...)` serve ahead-of-time memory estimates for meshes of any size.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import optax

from inception_jax.spec import ModelSpec
from inception_jax.train import mesh as mesh_lib
from inception_jax.train.optimizer import learning_rate_schedule, make_optimizer
from inception_jax.train.state import TrainState, init_train_state, train_state_from_variables
from inception_jax.train.steps import make_eval_step, make_train_step

# The initialiser runs once, and XLA:CPU optimises its random draws (a threefry expansion per parameter) for far
# longer than it runs them: at the backend's level 0 the `make run` network's initialiser compiles in 8 s instead of
# 37 and runs in 0.12 s instead of 0.05 (docs/performance.md#the-initialiser-at-xlacpus-level-0). Measured on CPUs
# only, so other backends compile it as they compile everything else.
CPU_INIT_COMPILER_OPTIONS = {"xla_backend_optimization_level": 0}


@dataclasses.dataclass(frozen=True)
class Program:
    """A network's training program on one mesh.

    Attributes:
      spec: the network and its input contract.
      model: the Flax module `spec` builds.
      schedule, tx: the learning-rate schedule and the optax optimizer of the config's recipe.
      mesh: the device mesh the state and batches are laid out on.
      batch_size: the global batch the schedule scales its learning rate by.
      abstract_state: the train state's shapes and dtypes, each leaf carrying its sharding (FSDP or replicated).
      step_function: `train_step` before jit: `(state, batch, rng) -> (state, metrics)`.
      train_step: `step_function` jitted with the state's shardings; it donates its input state.
      eval_step: the jitted `(variables, batch) -> sums` of loss, top-1/top-5 hits and examples.
    """

    spec: ModelSpec
    model: nn.Module
    schedule: optax.Schedule
    tx: optax.GradientTransformation
    mesh: jax.sharding.Mesh
    batch_size: int
    abstract_state: TrainState
    step_function: Callable
    train_step: Callable
    eval_step: Callable

    @classmethod
    def build(
        cls,
        spec: ModelSpec,
        config: ml_collections.ConfigDict,
        mesh: jax.sharding.Mesh | None = None,
        steps_per_epoch: int = 1,
        *,
        donate: bool = True,
    ) -> Program:
        """The program of `config` (its `schedule`, `optimizer`, `loss`, `ema`, `input.batch_size`, `fsdp` and
        `grad_accum_steps`) for the network `spec`, on `mesh` (default: every device).

        `steps_per_epoch` places the schedule's epoch boundaries; the state's structure does not depend on it.
        `donate=False` keeps the input state's buffers alive across a step (for measuring what donation saves).
        """
        mesh = mesh or mesh_lib.make_mesh()
        model = spec.build()
        schedule = learning_rate_schedule(config.schedule, config.input.batch_size, steps_per_epoch)
        tx = make_optimizer(config.optimizer, schedule)
        abstract = mesh_lib.laid_out(
            jax.eval_shape(lambda rng: init_train_state(model, tx, rng, spec.input.image_size), jax.random.key(0)),
            mesh,
            config.get("fsdp", False),
        )
        shardings = jax.tree.map(lambda leaf: leaf.sharding, abstract)
        step_function = make_train_step(
            model, tx, schedule, config.loss, config.ema.decay, config.get("grad_accum_steps", 1)
        )
        replicated = mesh_lib.replicated(mesh)
        train_step = jax.jit(step_function, out_shardings=(shardings, replicated), donate_argnums=0 if donate else ())
        eval_step = jax.jit(make_eval_step(model), out_shardings=replicated)
        return cls(
            spec, model, schedule, tx, mesh, config.input.batch_size, abstract, step_function, train_step, eval_step
        )

    @property
    def shardings(self) -> TrainState:
        """The sharding of every leaf of the train state."""
        return jax.tree.map(lambda leaf: leaf.sharding, self.abstract_state)

    @property
    def init_compiler_options(self) -> dict | None:
        """The XLA options `init` compiles with: `CPU_INIT_COMPILER_OPTIONS` on a CPU mesh, none on others."""
        return dict(CPU_INIT_COMPILER_OPTIONS) if self.mesh.devices.flat[0].platform == "cpu" else None

    def init(self, rng: jax.Array) -> TrainState:
        """A fresh train state (network initialisation, optimizer, EMA at the weights), created sharded."""
        image_size = self.spec.input.image_size
        return jax.jit(
            lambda key: init_train_state(self.model, self.tx, key, image_size),
            out_shardings=self.shardings,
            compiler_options=self.init_compiler_options,
        )(rng)

    def state_from_variables(self, variables) -> TrainState:
        """The state at step 0 from given `{'params', 'batch_stats'}`, laid out on the mesh.

        Every leaf gets a buffer of its own (the EMA starts as a copy of the weights), so the state can be donated.
        """
        state = train_state_from_variables(variables, self.tx)
        state = state.replace(
            ema_params=jax.tree.map(jnp.copy, state.ema_params),
            ema_batch_stats=jax.tree.map(jnp.copy, state.ema_batch_stats),
        )
        return jax.device_put(state, self.shardings)

    def abstract_batch(self, batch_size: int | None = None) -> dict[str, jax.ShapeDtypeStruct]:
        """A batch's shapes, split on the mesh's `data` axis: what `train_step.lower(...)` compiles for."""
        size = self.spec.input.image_size
        batch_size = batch_size or self.batch_size
        sharding = mesh_lib.batch_sharding(self.mesh)
        return {
            "image": jax.ShapeDtypeStruct((batch_size, size, size, 3), jnp.float32, sharding=sharding),
            "label": jax.ShapeDtypeStruct((batch_size,), jnp.int32, sharding=sharding),
        }
