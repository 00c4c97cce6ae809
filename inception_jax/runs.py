"""Opens a training run's workdir for inspection: its spec, config and weights, without its dataset.

    run = load_run("runs/default")                  # the newest checkpoint, replicated on this host's devices
    logits = run.model.apply(run.ema_variables, images, train=False)
    records = read_metrics("runs/default")          # metrics.jsonl

The network is rebuilt from the run's `spec.json`, the config comes from the checkpoint, and neither TensorFlow
nor the trainer is imported (see `inception_jax.artifacts`).
"""

from __future__ import annotations

from inception_jax.artifacts import Run, restore_run
from inception_jax.train.metrics_file import METRICS_FILE, read_metrics

__all__ = ["Run", "load_run", "read_metrics", "METRICS_FILE"]


def load_run(workdir: str, step: int | None = None) -> Run:
    """The run in `workdir` at `step` (default: its newest checkpoint), replicated on every local device."""
    return restore_run(workdir, step)
