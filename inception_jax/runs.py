"""Opens a training run's workdir for inspection: its spec, config and train state, without its dataset.

    run = load_run("runs/default")                  # the newest checkpoint, replicated on this host's devices
    logits = run.model.apply(run.ema_variables, images, train=False)
    records = read_metrics("runs/default")          # metrics.jsonl

The network is rebuilt from the run's `spec.json`, the config comes from the checkpoint, and neither TensorFlow
nor the trainer is imported (see `inception_jax.artifacts`).
"""

from __future__ import annotations

import json
import os

from inception_jax.artifacts import Run, restore_run

METRICS_FILE = "metrics.jsonl"  # written by inception_jax.train.metrics


def load_run(workdir: str, step: int | None = None) -> Run:
    """The run in `workdir` at `step` (default: its newest checkpoint), replicated on every local device."""
    return restore_run(workdir, step)


def read_metrics(workdir: str) -> list[dict]:
    """All records of a run's metrics.jsonl, in order: `{"step": ..., "train/loss": ..., ...}` per line."""
    with open(os.path.join(workdir, METRICS_FILE)) as f:
        return [json.loads(line) for line in f if line.strip()]
