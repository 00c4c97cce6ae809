"""What FSDP saves per device: the compiled train step's memory analysis, replicated against FSDP.

    python benchmarks/fsdp_memory.py --model=inception_v4 --devices=8 --batch=16   # CPU devices stand in for chips

Compiles (does not run) the real train step (RMSProp, EMA, donated state) for a mesh of `--devices` devices and
prints XLA's per-device figures: the arguments (train state and batch), the temporaries (activations and
gradients) and their sum.
"""

from __future__ import annotations

import json

import jax
from absl import flags

from inception_jax import cli
from inception_jax.configs import paper
from inception_jax.models import create_model
from inception_jax.spec import INCEPTION_INPUT, ModelSpec
from inception_jax.train import mesh as mesh_lib
from inception_jax.train.program import Program

flags.DEFINE_string("model", "inception_v4", "Network name.")
flags.DEFINE_integer("devices", 8, "CPU devices standing in for the accelerators of one mesh.")
flags.DEFINE_integer("batch", 16, "Global batch.")
FLAGS = flags.FLAGS


def main(argv) -> None:
    del argv
    jax.config.update("jax_num_cpu_devices", FLAGS.devices)  # before the backend starts
    args = FLAGS
    config = paper.get_config()
    config.model_name = args.model
    config.input.batch_size = args.batch
    spec = ModelSpec.of_module(args.model, create_model(args.model, num_classes=1000, aux_head=True), INCEPTION_INPUT)
    mesh = mesh_lib.make_mesh()
    size = spec.input.image_size
    record = {"model": args.model, "devices": args.devices, "global_batch": args.batch, "image_size": size}
    for fsdp in (False, True):
        config.fsdp = fsdp
        program = Program.build(spec, config, mesh, steps_per_epoch=1000)
        compiled = program.train_step.lower(
            program.abstract_state, program.abstract_batch(), jax.random.key(0)
        ).compile()
        memory = compiled.memory_analysis()
        figures = {
            "arguments_mib": memory.argument_size_in_bytes / 2**20,
            "temporaries_mib": memory.temp_size_in_bytes / 2**20,
            "outputs_mib": memory.output_size_in_bytes / 2**20,
            "aliased_mib": memory.alias_size_in_bytes / 2**20,
        }
        figures["peak_estimate_mib"] = (
            figures["arguments_mib"] + figures["temporaries_mib"] + figures["outputs_mib"] - figures["aliased_mib"]
        )
        record["fsdp" if fsdp else "replicated"] = figures
        print(("FSDP      " if fsdp else "replicated"), {k: round(v, 1) for k, v in figures.items()}, flush=True)
    print(json.dumps(record))


if __name__ == "__main__":
    cli.run(main)
