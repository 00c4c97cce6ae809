"""What FSDP saves per device: the compiled train step's memory analysis, replicated against FSDP.

    python -m inception_jax.benchmark.fsdp_memory --model=inception_v4 --devices=8 --batch=16   # CPU devices
    python -m inception_jax.benchmark.fsdp_memory --model=inception_v3 --model.width_multiplier=0.25 \
        --image_size=75 --devices=2 --batch=4                                                 # a reduced network

Compiles (does not run) the real train step (RMSProp, EMA, donated state) for a mesh of `--devices` CPU devices,
which stand in for the accelerators, and prints XLA's per-device figures: the arguments (train state and batch),
the temporaries (activations and gradients), the outputs, the outputs written over arguments (donated), and the
peak they add up to; the last line is the record as JSON. Nothing is timed.
"""

from __future__ import annotations

import json

import jax
from absl import app, flags

from inception_jax import cli
from inception_jax.benchmark.ours import compiled_memory, resident_bytes
from inception_jax.configs import paper
from inception_jax.models import create_model
from inception_jax.spec import INCEPTION_INPUT, ModelSpec
from inception_jax.train import mesh as mesh_lib
from inception_jax.train.program import Program

MIB = 2**20
# The record's names for `compiled_memory`'s fields.
FIGURES = {"arguments_mib": "argument", "temporaries_mib": "temp", "outputs_mib": "output", "aliased_mib": "alias"}

cli.define_model_flags(default="inception_v4")
flags.DEFINE_integer("devices", 8, "CPU devices standing in for the accelerators of one mesh.")
flags.DEFINE_integer("batch", 16, "Global batch.")
flags.DEFINE_integer("image_size", None, "Input side (default: 299).")
FLAGS = flags.FLAGS


def per_device_mib(compiled) -> dict:
    """A compiled step's per-device buffers in MiB, and the peak they add up to."""
    memory = compiled_memory(compiled)
    figures = {name: memory[field] / MIB for name, field in FIGURES.items()}
    figures["peak_estimate_mib"] = resident_bytes(memory) / MIB
    return figures


def main(argv) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments {argv[1:]}; every input is a --flag=value.")
    jax.config.update("jax_num_cpu_devices", FLAGS.devices)  # before the backend starts
    config = paper.get_config()
    config.model_name = FLAGS.model
    config.input.batch_size = FLAGS.batch
    model = create_model(FLAGS.model, **{"num_classes": 1000, "aux_head": True, **cli.model_options()})
    spec = ModelSpec.of_module(FLAGS.model, model, INCEPTION_INPUT.replace(image_size=FLAGS.image_size))
    mesh = mesh_lib.make_mesh()
    size = spec.input.image_size
    record = {"model": FLAGS.model, "devices": FLAGS.devices, "global_batch": FLAGS.batch, "image_size": size}
    for fsdp in (False, True):
        config.fsdp = fsdp
        program = Program.build(spec, config, mesh, steps_per_epoch=1000)
        compiled = program.train_step.lower(
            program.abstract_state, program.abstract_batch(), jax.random.key(0)
        ).compile()
        figures = per_device_mib(compiled)
        record["fsdp" if fsdp else "replicated"] = figures
        print(("FSDP      " if fsdp else "replicated"), {k: round(v, 1) for k, v in figures.items()}, flush=True)
    print(json.dumps(record))


if __name__ == "__main__":
    cli.run(main)
