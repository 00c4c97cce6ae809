"""Reduced-scale residual vs plain: the four networks × seeds on digits, then curves.png and curves.csv here.

python experiments/residual_vs_plain/run_reduced.py [--seeds 0 1] [--root runs/residual_vs_plain]
"""

import argparse
import json
import os

from inception_jax.plot import plot_runs
from inception_jax.train.sweep import load_config_file, log_progress, run_dir, run_sweep, write_curves_csv

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--root", default="runs/residual_vs_plain")
    args = parser.parse_args()
    log_progress()

    module = load_config_file(os.path.join(HERE, "config.py"))
    runs = {
        f"{model} seed {seed}": module.get_config(f"model={model},seed={seed},reduced=true")
        for pair in module.PAIRS
        for model in pair
        for seed in args.seeds
    }
    results = run_sweep(runs, args.root)
    directories = {label: run_dir(args.root, label) for label in runs}
    write_curves_csv(directories, os.path.join(HERE, "curves.csv"))
    for pair in module.PAIRS:
        pair_labels = [label for label in runs if label.split(" seed")[0] in pair]
        plot_runs(
            [directories[label] for label in pair_labels],
            os.path.join(HERE, f"curves_{pair[0]}.png"),
            labels=pair_labels,
        )
    with open(os.path.join(HERE, "results.json"), "w") as f:
        json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
