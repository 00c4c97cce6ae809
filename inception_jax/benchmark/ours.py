"""Our side of the benchmark: the project's real train step, or the eval-mode forward pass, compiled and timed.

    spec = ModelSpec.of_module("inception_v3", model, InputSpec(image_size=299))
    result = measure_ours(spec, mode="train", batch=8, **timing.Protocol().as_dict())

or, to time one compiled step several times (rounds taking turns with a peer),
`step = compile_ours(spec, mode="train", batch=8)` and then `time_ours(step, **protocol)` per round.

Parameters are random values in the shapes `model.init` would give, built on the host: compiling the initialiser
costs ~30 s per network on CPU and is not what is being measured. The step is compiled ahead of time, so
compilation is timed on its own and the compiled executable's memory and cost analyses come for free; the steps
are then timed by `timing.measure`.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from inception_jax.benchmark import profiling, timing
from inception_jax.configs import paper
from inception_jax.spec import ModelSpec
from inception_jax.summary import abstract_variables
from inception_jax.train import mesh as mesh_lib
from inception_jax.train.program import Program

# The learning-rate schedule needs an epoch length; it changes no cost.
STEPS_PER_EPOCH = 10_000


def random_variables(model, image_size: int, seed: int = 0):
    """Variables shaped like `model.init`'s: fan-in-scaled normal weights, BatchNorm variances in [0.5, 1.5]."""
    rng = np.random.default_rng(seed)

    def fill(path, leaf):
        if jax.tree_util.keystr(path).endswith("['var']"):
            return jnp.asarray(rng.uniform(0.5, 1.5, leaf.shape), leaf.dtype)
        fan_in = np.prod(leaf.shape[:-1]) if leaf.ndim > 1 else 1
        return jnp.asarray(rng.standard_normal(leaf.shape) / np.sqrt(fan_in), leaf.dtype)

    return jax.tree_util.tree_map_with_path(fill, abstract_variables(model, image_size))


def synthetic_batch(model, batch: int, image_size: int, seed: int = 0) -> dict:
    """Device-resident images in [-1, 1]-ish and labels, as the input pipeline would hand them over."""
    images_key, labels_key = jax.random.split(jax.random.key(seed))
    return {
        "image": jax.random.normal(images_key, (batch, image_size, image_size, 3), jnp.float32),
        "label": jax.random.randint(labels_key, (batch,), 0, model.num_classes),
    }


def _train_program(spec: ModelSpec, variables, batch: dict, donate: bool):
    """The jitted train step of the paper's recipe and its arguments (state, batch, rng), on the first device."""
    config = paper.get_config()
    config.input.batch_size = batch["label"].shape[0]
    # Donation lets XLA write the new state over the old one instead of holding both.
    program = Program.build(
        spec, config, mesh_lib.make_mesh(jax.devices()[:1]), steps_per_epoch=STEPS_PER_EPOCH, donate=donate
    )
    return program.train_step, (program.state_from_variables(variables), batch, jax.random.key(1))


def _program(spec: ModelSpec, mode: str, batch: int, donate: bool):
    """The jitted function that `mode` times and its arguments, on a synthetic batch of `batch` images."""
    model = spec.build()
    data = synthetic_batch(model, batch, spec.input.image_size)
    variables = random_variables(model, spec.input.image_size)
    if mode == "train":
        return _train_program(spec, variables, data, donate)
    forward = jax.jit(lambda variables, images: model.apply(variables, images, train=False))
    return forward, (variables, data["image"])


def compiled_memory(compiled) -> dict:
    """The compiled executable's own account of its buffers, in bytes (absent where the backend gives none)."""
    analysis = compiled.memory_analysis()
    if analysis is None:
        return {}
    fields = ("argument", "output", "alias", "temp", "generated_code")
    return {name: int(getattr(analysis, f"{name}_size_in_bytes")) for name in fields}


def resident_bytes(memory: dict) -> int:
    """What a compiled program holds at once: its arguments, temporaries, and outputs not written over inputs."""
    return memory["argument"] + memory["temp"] + memory["output"] - memory["alias"]


def device_capacity_bytes() -> int:
    """What the first device's allocator may hand out (JAX's preallocated pool on a GPU); a CPU's physical RAM."""
    stats = jax.devices()[0].memory_stats() or {}
    if "bytes_limit" in stats:
        return int(stats["bytes_limit"])
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def largest_batch(spec: ModelSpec, *, mode: str, ceiling: int, probe: int = 16, fill: float = 0.85) -> dict:
    """The largest power-of-two batch up to `ceiling` whose step on `spec`'s network and input size is predicted
    to fit in `fill` of the device.

    One compile at the `probe` batch (without GPU autotuning, which changes speed, not buffers) gives the fixed
    buffers (state, outputs) and the temporaries, which grow with the batch; the prediction scales those
    linearly. The caller runs the step at the answer and halves it if the device still runs out of memory.
    """
    probe = max(1, min(probe, ceiling))
    function, arguments = _program(spec, mode, probe, donate=True)
    options = {"xla_gpu_autotune_level": 0} if jax.devices()[0].platform == "gpu" else None
    memory = compiled_memory(function.lower(*arguments).compile(options))
    if not memory:
        raise RuntimeError(f"{jax.devices()[0].platform} gives no memory analysis; pass a fixed --batch instead.")
    per_image = memory["temp"] / probe
    fixed = resident_bytes(memory) - memory["temp"]
    capacity = device_capacity_bytes()
    budget = fill * capacity
    batch = 1 << (ceiling.bit_length() - 1)  # the largest power of two up to the ceiling
    while batch > 1 and fixed + per_image * batch > budget:
        batch //= 2
    return {
        "batch": batch,
        "ceiling": ceiling,
        "probe_batch": probe,
        "probe_memory": memory,
        "capacity_bytes": capacity,
        "fill": fill,
        "predicted_bytes": fixed + per_image * batch,
    }


@dataclasses.dataclass
class CompiledStep:
    """Our train step or forward pass compiled for one batch size, ready to be timed any number of times."""

    compiled: Any  # jax.stages.Compiled
    run_steps: Callable[[int], None]  # runs n steps (a train step carries its donated state on) and waits
    compile_s: float  # tracing, lowering and XLA compilation
    batch: int


def compile_ours(
    spec: ModelSpec, *, mode: str, batch: int, donate: bool = True, hlo_path: str | None = None
) -> CompiledStep:
    """Compiles our train step (`mode="train"`) or forward pass (`"infer"`) of `spec`'s network on synthetic data
    of its input size; returns a `CompiledStep`.

    `donate=False` keeps the train state's buffers alive across the step (for measuring what donation saves).
    With `hlo_path` the optimised HLO is written there.
    """
    function, arguments = _program(spec, mode, batch, donate)
    timing.log(f"[ours] compiling the {mode} step (tracing, lowering, XLA)")
    compiled, compile_s = timing.timed(lambda: function.lower(*arguments).compile())
    timing.log(f"[ours] compiled in {compile_s:.1f} s")
    if hlo_path:
        with open(hlo_path, "w") as hlo_file:
            hlo_file.write(compiled.as_text())

    if mode == "train":
        state, *inputs = arguments

        def run_steps(n):
            nonlocal state
            for _ in range(n):
                state, _ = compiled(state, *inputs)
            jax.block_until_ready(state)
    else:

        def run_steps(n):
            jax.block_until_ready([compiled(*arguments) for _ in range(n)])

    return CompiledStep(compiled, run_steps, compile_s, batch)


def time_ours(
    step: CompiledStep, *, steps: int, repeats: int, warmup: int, min_window_s: float, profile_dir: str | None = None
) -> dict:
    """Times a `CompiledStep` with the protocol's settings (`steps`, ...: see `timing`) and adds its compile time
    and the compiled executable's memory and cost analyses. With `profile_dir` one more window of steps is traced
    with `jax.profiler` into it, and the result gets the most expensive HLO instructions of that trace.
    """
    result = timing.measure(
        step.run_steps,
        batch=step.batch,
        steps=steps,
        repeats=repeats,
        warmup=warmup,
        min_window_s=min_window_s,
        label="ours",
    )
    memory = compiled_memory(step.compiled)
    result.update(
        compile_s=step.compile_s,
        compiled_memory=memory,
        compiled_peak_bytes=resident_bytes(memory) if memory else None,
        device_peak_bytes=(jax.devices()[0].memory_stats() or {}).get("peak_bytes_in_use"),
    )
    cost = step.compiled.cost_analysis() or {}
    if "flops" in cost:
        result["xla_flops_per_step"] = float(cost["flops"])
    if profile_dir:
        result["profile"] = profiling.profile_steps(
            step.run_steps, result["steps"], profile_dir, step.compiled.as_text()
        )
    return result


def measure_ours(
    spec: ModelSpec,
    *,
    mode: str,
    batch: int,
    steps: int,
    repeats: int,
    warmup: int,
    min_window_s: float,
    donate: bool = True,
    hlo_path: str | None = None,
    profile_dir: str | None = None,
) -> dict:
    """`compile_ours`, then `time_ours`: one measurement of our step, compilation included in the record."""
    step = compile_ours(spec, mode=mode, batch=batch, donate=donate, hlo_path=hlo_path)
    return time_ours(
        step, steps=steps, repeats=repeats, warmup=warmup, min_window_s=min_window_s, profile_dir=profile_dir
    )
