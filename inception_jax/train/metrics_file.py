"""A run's metrics.jsonl: one `{"step": ..., "train/loss": ..., ...}` record per line, written by `metrics.py`."""

from __future__ import annotations

import json
import os

METRICS_FILE = "metrics.jsonl"


def read_metrics(workdir: str) -> list[dict]:
    """All records of a run's metrics.jsonl, in order."""
    with open(os.path.join(workdir, METRICS_FILE)) as f:
        return [json.loads(line) for line in f if line.strip()]
