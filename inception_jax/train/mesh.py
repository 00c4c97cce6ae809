"""The one place that starts multi-host JAX and builds the device mesh and shardings.

Data parallelism over a 1-D mesh axis `data`: batches are split on it, parameters are replicated, or, with
`fsdp=True`, large parameters are split on it too (ZeRO-3/FSDP style; XLA gathers them where they are used).
Steps are plain `jax.jit` functions with these shardings. BatchNorm statistics are then taken over the global
batch: the model's mean/variance reductions span the sharded axis, and XLA inserts the all-reduce.
"""

from __future__ import annotations

import logging
import math

import jax
import numpy as np
from jax.sharding import AxisType, NamedSharding
from jax.sharding import PartitionSpec as P

DATA_AXIS = "data"
# Parameters smaller than this many elements stay replicated under FSDP: splitting them saves nothing.
FSDP_MIN_SIZE = 2**18


def initialize_distributed(
    coordinator_address: str | None = None, num_processes: int | None = None, process_id: int | None = None
) -> None:
    """Connects the processes of a multi-host job (auto-detected on TPU pods and SLURM when args are None)."""
    jax.distributed.initialize(
        coordinator_address=coordinator_address, num_processes=num_processes, process_id=process_id
    )
    logging.info(
        "Process %d of %d; %d local / %d global devices",
        jax.process_index(),
        jax.process_count(),
        jax.local_device_count(),
        jax.device_count(),
    )


def define_distributed_flags() -> None:
    """The multi-host flags of the command-line tools (`--distributed` and its three overrides)."""
    from absl import flags  # noqa: PLC0415 (only the CLIs need absl)

    flags.DEFINE_bool("distributed", False, "Call jax.distributed.initialize() (multi-host GPU/TPU jobs).")
    flags.DEFINE_string("coordinator_address", None, "host:port of process 0, when not auto-detected.")
    flags.DEFINE_integer("num_processes", None, "Number of processes, when not auto-detected.")
    flags.DEFINE_integer("process_id", None, "This process's index, when not auto-detected.")


def initialize_from_flags(flag_values) -> None:
    """`initialize_distributed` with the values of `define_distributed_flags`, if `--distributed` is set."""
    if flag_values.distributed:
        initialize_distributed(flag_values.coordinator_address, flag_values.num_processes, flag_values.process_id)


def make_mesh(devices=None) -> jax.sharding.Mesh:
    """A 1-D mesh over `devices` (default: every device of every process).

    Auto axes: XLA propagates the batch sharding through the model code, which stays sharding-agnostic.
    """
    devices = jax.devices() if devices is None else list(devices)
    return jax.make_mesh((len(devices),), (DATA_AXIS,), axis_types=(AxisType.Auto,), devices=devices)


def batch_sharding(mesh) -> NamedSharding:
    """Leading (batch) dimension split over `data`."""
    return NamedSharding(mesh, P(DATA_AXIS))


def replicated(mesh) -> NamedSharding:
    return NamedSharding(mesh, P())


def state_shardings(abstract_state, mesh, fsdp: bool = False, min_size: int | None = None):
    """Shardings for a train-state tree: replicated, or FSDP on each large array's largest divisible axis.

    Under FSDP, arrays of fewer than `min_size` (default `FSDP_MIN_SIZE`) elements stay replicated.
    """
    devices = mesh.shape[DATA_AXIS]
    min_size = FSDP_MIN_SIZE if min_size is None else min_size

    def spec(leaf):
        shape = getattr(leaf, "shape", ())
        if not fsdp or math.prod(shape) < min_size:
            return replicated(mesh)
        for axis in sorted(range(len(shape)), key=lambda a: -shape[a]):
            if shape[axis] % devices == 0:
                parts = [None] * len(shape)
                parts[axis] = DATA_AXIS
                return NamedSharding(mesh, P(*parts))
        return replicated(mesh)

    return jax.tree.map(spec, abstract_state)


def laid_out(abstract, mesh, fsdp: bool = False):
    """`abstract`'s shape structs, each carrying its `state_shardings` sharding: what `jit(...).lower` and
    Orbax's restore take to place every array where training keeps it."""
    return jax.tree.map(
        lambda leaf, sharding: jax.ShapeDtypeStruct(leaf.shape, leaf.dtype, sharding=sharding),
        abstract,
        state_shardings(abstract, mesh, fsdp),
    )


def host_value(x) -> np.ndarray:
    """A replicated array's value on this host (works when the array spans several processes)."""
    return np.asarray(x.addressable_data(0)) if isinstance(x, jax.Array) else np.asarray(x)
