"""BatchNorm on residual sums: train-step memory at full size, and accuracy at reduced scale.

    python experiments/bn_on_summations/run_reduced.py [--batch 32] [--root runs/bn_on_summations]

Memory: the compiled Inception-ResNet-v2 train step (299 px, fp32, paper optimizer) for BN on/off × remat
none/block, from XLA's memory analysis of the compiled step (arguments + temporaries + outputs − aliased), so it
needs no accelerator and no run. Accuracy: the digits recipe with and without BN on the sums. Remat recomputes
the same function (its gradients equal the plain ones, see tests/test_models.py), so it cannot change accuracy.
Writes memory.json, memory.png, curves.png, curves.csv and results.json into this folder.
"""

import argparse
import json
import logging
import os

import jax

from inception_jax.configs import paper
from inception_jax.models import create_model
from inception_jax.plot import plot_runs
from inception_jax.spec import InputSpec, ModelSpec
from inception_jax.train import mesh as mesh_lib
from inception_jax.train.program import Program
from inception_jax.train.sweep import load_config_file, log_progress, run_dir, run_sweep, write_curves_csv

HERE = os.path.dirname(os.path.abspath(__file__))


def train_step_memory(bn_on_summations: bool, remat: str, batch: int, image_size: int = 299) -> dict[str, float]:
    """GiB XLA reserves for one compiled train step, from abstract shapes (nothing is allocated or run)."""
    model = create_model("inception_resnet_v2", aux_head=True, bn_on_summations=bn_on_summations, remat=remat)
    spec = ModelSpec.of_module("inception_resnet_v2", model, InputSpec(image_size=image_size))
    config = paper.get_config()
    config.input.batch_size = batch
    program = Program.build(spec, config, mesh_lib.make_mesh(jax.devices()[:1]))
    compiled = program.train_step.lower(program.abstract_state, program.abstract_batch(), jax.random.key(0)).compile()
    analysis = compiled.memory_analysis()
    gib = 2.0**30
    return {
        "arguments_gib": analysis.argument_size_in_bytes / gib,
        "temporaries_gib": analysis.temp_size_in_bytes / gib,
        "peak_gib": (
            analysis.argument_size_in_bytes
            + analysis.temp_size_in_bytes
            + analysis.output_size_in_bytes
            - analysis.alias_size_in_bytes
        )
        / gib,
    }


def plot_memory(memory: dict[str, dict], path: str) -> None:
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig, ax = plt.subplots(figsize=(6, 3.6))
    labels = list(memory)
    ax.bar(labels, [memory[k]["peak_gib"] for k in labels], color=["C0", "C1", "C2", "C3"])
    ax.set(title="Inception-ResNet-v2 train step, batch 32 at 299 px, XLA:CPU", ylabel="GiB (compiled)")
    ax.tick_params(axis="x", labelrotation=15)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--root", default="runs/bn_on_summations")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    args = parser.parse_args()
    log_progress()

    memory = {}
    for bn in (False, True):
        for remat in ("none", "block"):
            label = f"{'BN on sums' if bn else 'no BN on sums'}, remat {remat}"
            logging.info("compiling the train step: %s", label)
            memory[label] = train_step_memory(bn, remat, args.batch)
            logging.info("%s: %.2f GiB", label, memory[label]["peak_gib"])
    with open(os.path.join(HERE, "memory.json"), "w") as f:
        json.dump({"batch": args.batch, "image_size": 299, **memory}, f, indent=2)
    plot_memory(memory, os.path.join(HERE, "memory.png"))

    module = load_config_file(os.path.join(HERE, "config.py"))
    runs = {
        f"bn {bn}, seed {seed}": module.get_config(f"bn={bn},reduced=true,seed={seed}")
        for bn in (False, True)
        for seed in args.seeds
    }
    results = run_sweep(runs, args.root)
    directories = {label: run_dir(args.root, label) for label in runs}
    write_curves_csv(directories, os.path.join(HERE, "curves.csv"))
    plot_runs(list(directories.values()), os.path.join(HERE, "curves.png"), labels=list(directories))
    with open(os.path.join(HERE, "results.json"), "w") as f:
        json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
