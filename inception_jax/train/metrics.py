"""Where metrics go: `WORKDIR/metrics.jsonl` (one JSON object per line), TensorBoard events, and the console.

Only process 0 writes. Keys are `split/name` (`train/loss`, `eval/top1`, `eval_ema/top5`, ...).
"""
from __future__ import annotations

import json
import logging
import math
import os
import time

import jax

METRICS_FILE = "metrics.jsonl"


def read_metrics(workdir: str) -> list[dict]:
    """All records of a run's metrics.jsonl, in order."""
    with open(os.path.join(workdir, METRICS_FILE)) as f:
        return [json.loads(line) for line in f if line.strip()]


class MetricWriter:
    """Appends metric records to metrics.jsonl and TensorBoard; a resumed run first drops records past its step."""

    def __init__(self, workdir: str, resume_step: int = 0):
        self.enabled = jax.process_index() == 0
        self.path = os.path.join(workdir, METRICS_FILE)
        self._tensorboard = None
        if not self.enabled:
            return
        os.makedirs(workdir, exist_ok=True)
        if os.path.exists(self.path):  # Records a killed run wrote after its last checkpoint are redone.
            kept = [r for r in read_metrics(workdir) if r["step"] <= resume_step]
            with open(self.path, "w") as f:
                f.writelines(json.dumps(r) + "\n" for r in kept)
        from tensorboardX import SummaryWriter  # noqa: PLC0415 (only process 0 needs it)
        self._tensorboard = SummaryWriter(workdir)

    def write(self, step: int, metrics: dict[str, float]) -> None:
        if not self.enabled:
            return
        record = {"step": int(step), **{k: float(v) for k, v in metrics.items()}}
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")
        for key, value in metrics.items():
            self._tensorboard.add_scalar(key, float(value), int(step))
        self._tensorboard.flush()

    def close(self) -> None:
        if self._tensorboard is not None:
            self._tensorboard.close()


class Progress:
    """Console progress of the trainer and the evaluation: work done of total, its rate and the ETA."""

    def __init__(self, name: str, total: int, unit: str, done: int = 0):
        self.name, self.total, self.unit = name, total, unit
        self.done, self.rate = done, float("nan")
        self.last_time = time.perf_counter()

    def advance_to(self, done: int) -> float:
        """Records that `done` units are finished; returns the units per second since the previous call."""
        now = time.perf_counter()
        self.rate = (done - self.done) / max(now - self.last_time, 1e-9)
        self.done, self.last_time = done, now
        return self.rate

    def report(self, details: str = "") -> None:
        eta = (self.total - self.done) / self.rate if self.rate > 0 else float("nan")
        logging.info("%s: %d/%d %s (%.0f%%)  %.3g %s/s  ETA %s%s", self.name, self.done, self.total, self.unit,
                     100 * self.done / max(self.total, 1), self.rate, self.unit, format_duration(eta),
                     f"  {details}" if details else "")


def format_duration(seconds: float) -> str:
    """`1d 02:03:04`, `02:03:04`, or `--` when unknown; never wraps at 24 hours."""
    if not math.isfinite(seconds):
        return "--"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    return f"{f'{days}d ' if days else ''}{hours:02d}:{minutes:02d}:{secs:02d}"
