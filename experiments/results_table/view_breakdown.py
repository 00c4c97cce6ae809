"""Which of the 144 views help on digits: top-1 error of the softmax averaged over subsets of the views.

    python experiments/results_table/view_breakdown.py runs/default [runs/results_table_seed1 ...] \
        [--json experiments/results_table/view_breakdown.json]

For each training run (EMA weights) every image's 144 views are scored once; the subsets below are then averaged
on the host, so "unmirrored" is the 144-crop protocol without its flips, "unmirrored, center square, whole" the
closest multi-view relative of the single crop, and so on. Prints a markdown table; the evaluation data is the
run's stored input config.
"""

from __future__ import annotations

import argparse
import json

import jax
import jax.numpy as jnp
import numpy as np

from inception_jax import artifacts
from inception_jax.data import pipeline
from inception_jax.evaluation import crops, inputs, networks
from inception_jax.train import mesh as mesh_lib

LAYOUT = crops.view_layout(144)
SUBSETS = {
    "all 144 (the protocol)": lambda view: True,
    "unmirrored (72)": lambda view: not view.mirrored,
    "mirrored (72)": lambda view: view.mirrored,
    "unmirrored, whole squares (12)": lambda view: not view.mirrored and view.crop == "whole",
    "unmirrored, center crops (12)": lambda view: not view.mirrored and view.crop == "center",
    "unmirrored, corner crops (48)": lambda view: not view.mirrored and view.crop not in ("center", "whole"),
    "unmirrored, center square, whole, 1st scale (1)": lambda view: (
        not view.mirrored and view.crop == "whole" and view.square == "center" and view.scale_side_at_224 == 256
    ),
}


def per_view_probabilities(workdir: str) -> tuple[np.ndarray, np.ndarray]:
    """[images, 144, classes] softmax of every view of every eval image (EMA weights), and the labels."""
    config, _ = artifacts.read_run_config(workdir)
    mesh = mesh_lib.make_mesh()
    (network,) = networks.load_run(workdir, pipeline.num_classes(config.input), mesh, kinds=(networks.EMA,))

    @jax.jit
    def softmax_per_view(variables, views):
        images, num_views = views.shape[:2]
        logits = network.model.apply(variables, views.reshape(images * num_views, *views.shape[2:]), train=False)
        return jax.nn.softmax(logits.astype(jnp.float32)).reshape(images, num_views, -1)

    probabilities, labels = [], []
    for batch in inputs.multiview_batches(config.input, [network.spec.input], 144, mesh_lib.batch_sharding(mesh)):
        keep = np.asarray(batch["mask"])
        probabilities.append(np.asarray(softmax_per_view(network.variables, batch["views"][0]))[keep])
        labels.append(np.asarray(batch["label"])[keep])
    return np.concatenate(probabilities), np.concatenate(labels)


def subset_errors(probabilities: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Top-1 error of the softmax averaged over each subset's views."""
    errors = {}
    for name, chosen in SUBSETS.items():
        indices = [index for index, view in enumerate(LAYOUT) if chosen(view)]
        predicted = probabilities[:, indices].mean(axis=1).argmax(axis=-1)
        errors[name] = float(np.mean(predicted != labels))
    return errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workdirs", nargs="+", help="training runs (their EMA weights are scored)")
    parser.add_argument("--json", help="also write the errors to this file")
    args = parser.parse_args()
    errors = {workdir: subset_errors(*per_view_probabilities(workdir)) for workdir in args.workdirs}
    print("| Views averaged | " + " | ".join(f"{workdir} top-1 error" for workdir in args.workdirs) + " |")
    print("|---|" + "---:|" * len(args.workdirs))
    for name in SUBSETS:
        print(f"| {name} | " + " | ".join(f"{100 * errors[w][name]:.2f}%" for w in args.workdirs) + " |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(errors, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
