"""Training and evaluation curves of one or more runs on one figure.

    python -m inception_jax.plot runs/a runs/b --out=curves.png [--labels=plain,residual]

Each run directory holds the `metrics.jsonl` the trainer writes; each run gets one colour, used in every panel.
"""

from __future__ import annotations

import os

from inception_jax.runs import read_metrics

# (panel title, metric keys drawn in it; the first key is solid, the others dashed).
PANELS = (
    ("training loss", ("train/loss",)),
    ("eval top-1 error (dashed: EMA)", ("eval/top1", "eval_ema/top1")),
    ("eval top-5 error (dashed: EMA)", ("eval/top5", "eval_ema/top5")),
    ("learning rate", ("train/lr",)),
)
ERROR_OF = ("eval/top1", "eval_ema/top1", "eval/top5", "eval_ema/top5")


def series(records: list[dict], key: str) -> tuple[list[int], list[float]]:
    """Steps and values of `key`; accuracies become error rates, as the paper plots them."""
    points = [(r["step"], r[key]) for r in records if key in r]
    return [s for s, _ in points], [1.0 - v if key in ERROR_OF else v for _, v in points]


def plot_runs(run_dirs: list[str], out_path: str, labels: list[str] | None = None) -> None:
    """Draws every run's curves into `out_path` (PNG, PDF or SVG, by extension)."""
    import matplotlib  # noqa: PLC0415 (plotting is optional for the library)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    labels = labels or [os.path.basename(os.path.normpath(d)) for d in run_dirs]
    fig, axes = plt.subplots(1, len(PANELS), figsize=(4.5 * len(PANELS), 3.6))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for index, (run_dir, label) in enumerate(zip(run_dirs, labels)):
        records = read_metrics(run_dir)
        colour = colours[index % len(colours)]
        for ax, (_, keys) in zip(axes, PANELS):
            for key_index, key in enumerate(keys):
                steps, values = series(records, key)
                if steps:
                    ax.plot(
                        steps,
                        values,
                        color=colour,
                        linestyle="-" if key_index == 0 else "--",
                        marker="o" if len(steps) < 20 else None,
                        markersize=3,
                        label=label if key_index == 0 else None,
                    )
    for ax, (title, _) in zip(axes, PANELS):
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(out_path, dpi=120)
    plt.close(fig)


def main(argv) -> None:
    from absl import app, flags  # noqa: PLC0415 (the command line only)

    run_dirs = argv[1:]
    if not run_dirs:
        raise app.UsageError("Name the runs to plot: python -m inception_jax.plot runs/a runs/b --out=curves.png")
    labels = flags.FLAGS.labels
    if labels and len(labels) != len(run_dirs):
        raise app.UsageError(f"--labels gives {len(labels)} labels for {len(run_dirs)} runs.")
    plot_runs(run_dirs, flags.FLAGS.out, labels)
    print(f"wrote {flags.FLAGS.out}")


if __name__ == "__main__":
    from absl import flags

    from inception_jax import cli

    flags.DEFINE_string("out", "curves.png", "Output image (PNG, PDF or SVG, by extension).")
    flags.DEFINE_list("labels", None, "Legend labels, comma-separated (default: the directory names).")
    cli.run(main)
