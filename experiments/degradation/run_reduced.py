"""Reduced-scale degradation: plain-20/56 and ResNet-20/56 × seeds on digits, then curves.png and curves.csv here.

    python experiments/degradation/run_reduced.py [--seeds 0 1] [--epochs 30] [--root runs/degradation]
        [--networks plain20 plain56 resnet20 resnet56] [--out experiments/degradation]

curves.png is drawn like the paper's Figure 6: training error dashed, test error solid, plain networks on the
left and ResNets on the right, each line the mean over seeds.
"""

import argparse
import json
import os

import numpy as np

from inception_jax.plot import series
from inception_jax.runs import read_metrics
from inception_jax.train.sweep import load_config_file, log_progress, run_dir, run_sweep, write_curves_csv

HERE = os.path.dirname(os.path.abspath(__file__))


def mean_curve(run_dirs: list[str], key: str) -> tuple[list[int], np.ndarray]:
    """Steps and the mean over runs of `key` (eval accuracies as error rates, see `plot.series`), on the steps
    all runs logged."""
    curves = [dict(zip(*series(read_metrics(d), key))) for d in run_dirs]
    steps = sorted(set.intersection(*(set(c) for c in curves)))
    return steps, np.mean([[c[s] for s in steps] for c in curves], axis=0)


def plot_figure_6(runs_by_network: dict[str, list[str]], path: str) -> None:
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    kinds = [kind for kind in ("plain", "resnet") if any(n.startswith(kind) for n in runs_by_network)]
    fig, axes = plt.subplots(1, len(kinds), figsize=(5 * len(kinds), 3.8), sharey=True, squeeze=False)
    for ax, kind in zip(axes[0], kinds):
        networks = sorted((n for n in runs_by_network if n.startswith(kind)), key=lambda n: int(n[len(kind) :]))
        for colour, network in zip(("C0", "C3", "C2", "C1"), networks):
            steps, train_accuracy = mean_curve(runs_by_network[network], "train/top1")
            ax.plot(steps, 1.0 - train_accuracy, color=colour, linestyle="--", label=f"{network} train")
            steps, test_error = mean_curve(runs_by_network[network], "eval/top1")
            ax.plot(steps, test_error, color=colour, label=f"{network} test")
        ax.set(title="plain" if kind == "plain" else "ResNet", xlabel="step", yscale="log")
        ax.grid(alpha=0.3, which="both")
        ax.legend()
    axes[0, 0].set_ylabel("top-1 error (mean over seeds)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--epochs", type=float, default=30.0)
    parser.add_argument("--root", default="runs/degradation")
    parser.add_argument("--networks", nargs="+", default=None, help="default: all four")
    parser.add_argument("--out", default=HERE, help="where curves.png, curves.csv and results.json go")
    args = parser.parse_args(argv)
    log_progress()

    module = load_config_file(os.path.join(HERE, "config.py"))
    networks = args.networks or module.NETWORKS
    runs = {
        f"{model} seed {seed}": module.get_config(f"model={model},seed={seed},reduced=true,epochs={args.epochs}")
        for model in networks
        for seed in args.seeds
    }
    results = run_sweep(runs, args.root)
    directories = {label: run_dir(args.root, label) for label in runs}
    os.makedirs(args.out, exist_ok=True)
    write_curves_csv(directories, os.path.join(args.out, "curves.csv"))
    plot_figure_6(
        {model: [directories[f"{model} seed {seed}"] for seed in args.seeds] for model in networks},
        os.path.join(args.out, "curves.png"),
    )
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
