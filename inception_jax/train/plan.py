"""A run's plan, before a pod is booked: `python -m inception_jax.main --dry_run` prints it and trains nothing.

    plan = make_plan(config)        # on the mesh of every device this process sees
    print(plan.summary())

The plan holds the dataset's sizes (read from the prepared dataset; for a known dataset not prepared yet, its
published sizes), steps per epoch and in all, the learning rate at the schedule's boundaries, the global and
per-device batch, the checkpoint and evaluation cadence, and the train step compiled ahead of time on abstract
shapes (nothing is allocated): XLA's memory per device and FLOPs per step. The config is checked as `main` checks
it, so a plan exists only for a config that would start. Figures that depend on the target hardware (step time,
images/s, the input cores it needs) are not guessed; compiled on another backend than the target's, the memory
is that backend's.
"""

from __future__ import annotations

import dataclasses
import math
import os

import jax
import ml_collections

from inception_jax import configs
from inception_jax.spec import model_spec_from_config, read_spec
from inception_jax.train import mesh as mesh_lib
from inception_jax.train import validation
from inception_jax.train.program import Program

# Classes and split sizes that publishers state, for datasets too large to prepare just to plan a run.
PUBLISHED_SIZES = {"imagenet2012": (1000, {"train": 1_281_167, "validation": 50_000})}
MEMORY_FIELDS = ("argument", "output", "alias", "temp", "generated_code")
SCHEDULE_ROWS_SHOWN = 8


@dataclasses.dataclass(frozen=True)
class Plan:
    """What a config will do on a mesh.

    Attributes:
      config: the resolved config.
      backend, num_devices: the platform the step was compiled for, and the mesh's size.
      num_classes, num_train_examples, num_eval_examples: the dataset's sizes; `sizes_from` says where from.
      steps_per_epoch, total_steps: as the trainer computes them.
      global_batch, per_device_batch: the train batch on the whole mesh and on each device.
      learning_rates: (step, learning rate) at step 0, the end of the warmup, each decay boundary and the last step.
      checkpoints, evaluations: how many the run writes and runs (every N steps, and at the last step).
      state_bytes: the train state (weights, optimizer, EMA) in all: about a checkpoint's size.
      memory: XLA's memory analysis of the compiled train step per device, in bytes (`MEMORY_FIELDS`), and
        "peak": arguments + outputs − aliased (donated) + temporaries.
      flops: XLA's cost analysis of the compiled train step (per device), or None where the backend gives none.
    """

    config: ml_collections.ConfigDict
    backend: str
    num_devices: int
    num_classes: int
    num_train_examples: int
    num_eval_examples: int
    sizes_from: str
    steps_per_epoch: int
    total_steps: int
    global_batch: int
    per_device_batch: int
    learning_rates: tuple[tuple[int, float], ...]
    checkpoints: int
    evaluations: int
    state_bytes: int
    memory: dict[str, int]
    flops: float | None

    def summary(self) -> str:
        """The plan as the dry run prints it."""
        config = self.config
        rates = self.learning_rates
        if len(rates) > SCHEDULE_ROWS_SHOWN:
            rates = (*rates[: SCHEDULE_ROWS_SHOWN - 2], None, rates[-1])
        schedule = "\n".join(
            "    …"
            if row is None
            else f"    step {row[0]:>9,d}  epoch {row[0] / self.steps_per_epoch:8.2f}  lr {row[1]:.6g}"
            for row in rates
        )
        memory = "  ".join(f"{field} {gib(self.memory[field])}" for field in (*MEMORY_FIELDS, "peak"))
        flops = f"{self.flops:.4g} per device" if self.flops is not None else "not reported by this backend"
        return "\n".join(
            [
                f"Plan of {config.model_name} on {config.input.dataset} (nothing is trained)",
                "Config:",
                *(f"    {line}" for line in str(config).rstrip().splitlines()),
                f"Dataset: {self.num_classes} classes, {self.num_train_examples:,d} train ({config.input.train_split}) "
                f"/ {self.num_eval_examples:,d} eval ({config.input.eval_split}) examples, from {self.sizes_from}",
                f"Steps: {self.steps_per_epoch:,d} per epoch, {self.total_steps:,d} in all "
                f"({self.total_steps / self.steps_per_epoch:.2f} epochs)",
                "Learning rate at the schedule's boundaries:",
                schedule,
                f"Batch: {self.global_batch} global, {self.per_device_batch} per device on a mesh of "
                f"{self.num_devices} {self.backend} device(s)",
                f"Train state: {gib(self.state_bytes)} in all (about a checkpoint's size)",
                f"Compiled train step, per device ({self.backend}): {memory}",
                f"FLOPs per train step: {flops}",
                f"Checkpoints: every {config.checkpoint_every_steps:,d} steps and at the last, "
                f"{self.checkpoints} in all, the newest {config.keep_checkpoints} kept",
                f"Evaluations: every {config.eval_every_steps:,d} steps and at the last, {self.evaluations} in all",
                "Not known without the target hardware: step time, images/s, and the input cores each accelerator "
                "needs (docs/performance.md has measured figures)"
                + ("; memory compiled for XLA:CPU differs from a TPU's or GPU's." if self.backend == "cpu" else "."),
            ]
        )


def gib(size: int) -> str:
    return f"{size / 2**30:.3f} GiB"


def use_simulated_cpu_devices(count: int) -> None:
    """Makes JAX see `count` CPU devices, to plan for a mesh larger than this machine; call before JAX starts."""
    flags = [
        flag for flag in os.environ.get("XLA_FLAGS", "").split() if "xla_force_host_platform_device_count" not in flag
    ]
    os.environ["XLA_FLAGS"] = " ".join([*flags, f"--xla_force_host_platform_device_count={count}"])
    os.environ["JAX_PLATFORMS"] = "cpu"
    if jax.device_count() != count:
        raise RuntimeError(
            f"JAX had started with {jax.device_count()} devices before the plan asked for {count}; "
            "run the dry run in a fresh process."
        )


def dataset_sizes(config: ml_collections.ConfigDict) -> tuple[int, int, int, str]:
    """(classes, train examples, eval examples, where they come from), without preparing a dataset."""
    info = validation.check_config(config, prepare=False)
    if info is not None:
        return info.num_classes, info.num_train_examples, info.num_eval_examples, "the prepared dataset"
    cfg = config.input
    classes, splits = PUBLISHED_SIZES.get(cfg.dataset, (None, {}))
    if cfg.train_split not in splits or cfg.eval_split not in splits:
        raise ValueError(
            f"{cfg.dataset} is not prepared in {cfg.data_dir}, and its split sizes ({cfg.train_split}, "
            f"{cfg.eval_split}) are not published here (inception_jax.train.plan.PUBLISHED_SIZES); prepare it "
            "first to plan the run."
        )
    return classes, splits[cfg.train_split], splits[cfg.eval_split], "published sizes (not prepared in data_dir)"


def boundary_steps(schedule_config, steps_per_epoch: int, total_steps: int) -> list[int]:
    """Step 0, the warmup's end, each step where the rate decays, and the last step."""
    steps = {0, total_steps}
    if schedule_config.get("warmup_epochs"):
        steps.add(round(schedule_config.warmup_epochs * steps_per_epoch))
    if schedule_config.get("boundaries_epochs"):
        steps.update(round(epoch * steps_per_epoch) for epoch in schedule_config.boundaries_epochs)
    else:
        every = max(1, round(schedule_config.epochs_per_decay * steps_per_epoch))
        steps.update(range(every, total_steps + 1, every))
    return sorted(step for step in steps if step <= total_steps)


def make_plan(config: ml_collections.ConfigDict) -> Plan:
    """The plan of `config` on the mesh of every device; raises the config's problems as `main` does."""
    config = configs.resolve_moved_fields(config)
    num_classes, num_train, num_eval, sizes_from = dataset_sizes(config)
    steps_per_epoch = num_train // config.input.batch_size
    total_steps = config.total_steps or math.ceil(config.total_epochs * steps_per_epoch)

    mesh = mesh_lib.make_mesh()
    weights = read_spec(config.init_from) if config.get("init_from") else None
    spec = model_spec_from_config(config, num_classes, weights)
    program = Program.build(spec, config, mesh, steps_per_epoch)
    compiled = program.train_step.lower(program.abstract_state, program.abstract_batch(), jax.random.key(0)).compile()
    analysis = compiled.memory_analysis()
    memory = {field: int(getattr(analysis, f"{field}_size_in_bytes", 0)) for field in MEMORY_FIELDS}
    memory["peak"] = memory["argument"] + memory["output"] - memory["alias"] + memory["temp"]
    costs = compiled.cost_analysis()
    costs = costs[0] if isinstance(costs, list | tuple) else costs
    flops = float(costs["flops"]) if costs and "flops" in costs else None

    def count(every: int) -> int:
        return total_steps // every + (1 if total_steps % every else 0)

    state_bytes = sum(leaf.size * leaf.dtype.itemsize for leaf in jax.tree.leaves(program.abstract_state))
    return Plan(
        config=config,
        backend=jax.default_backend(),
        num_devices=mesh.size,
        num_classes=num_classes,
        num_train_examples=num_train,
        num_eval_examples=num_eval,
        sizes_from=sizes_from,
        steps_per_epoch=steps_per_epoch,
        total_steps=total_steps,
        global_batch=config.input.batch_size,
        per_device_batch=config.input.batch_size // mesh.size,
        learning_rates=tuple(
            (step, float(program.schedule(step)))
            for step in boundary_steps(config.schedule, steps_per_epoch, total_steps)
        ),
        checkpoints=count(config.checkpoint_every_steps),
        evaluations=count(config.eval_every_steps),
        state_bytes=int(state_bytes),
        memory=memory,
        flops=flops,
    )
