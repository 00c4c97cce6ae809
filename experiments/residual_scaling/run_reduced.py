"""Reduced-scale residual scaling: Inception-ResNet-v2 (1040-filter residuals) at scales 1.0, 0.3 and 0.1.

    python experiments/residual_scaling/run_reduced.py [--scales 1.0 0.3 0.1] [--root runs/residual_scaling]

Writes curves.png (the library's training curves), died.png (the "died" signal over training), curves.csv and
results.json into this folder.
"""

import argparse
import json
import os

from inception_jax.plot import plot_runs, series
from inception_jax.runs import read_metrics
from inception_jax.train.sweep import load_config_file, log_progress, run_dir, run_sweep, write_curves_csv

HERE = os.path.dirname(os.path.abspath(__file__))


def plot_died(directories: dict[str, str], path: str) -> None:
    """The fraction of zero activations before pooling, per run, against step."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig, ax = plt.subplots(figsize=(5, 3.6))
    for label, directory in directories.items():
        ax.plot(*series(read_metrics(directory), "eval/died"), marker="o", markersize=3, label=label)
    ax.set(title="zero activations before average pooling", xlabel="step", ylabel="fraction", ylim=(0, 1))
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=float, nargs="+", default=[1.0, 0.3, 0.1])
    parser.add_argument("--root", default="runs/residual_scaling")
    args = parser.parse_args()
    log_progress()

    module = load_config_file(os.path.join(HERE, "config.py"))
    runs = {f"scale {scale}": module.get_config(f"scale={scale},reduced=true") for scale in args.scales}
    results = run_sweep(runs, args.root)
    directories = {label: run_dir(args.root, label) for label in runs}
    write_curves_csv(directories, os.path.join(HERE, "curves.csv"))
    plot_runs(list(directories.values()), os.path.join(HERE, "curves.png"), labels=list(directories))
    plot_died(directories, os.path.join(HERE, "died.png"))
    with open(os.path.join(HERE, "results.json"), "w") as f:
        json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
