"""Where metrics go: `WORKDIR/metrics.jsonl` (one JSON object per line), TensorBoard events, and the console.

Only process 0 writes. Keys are `split/name` (`train/loss`, `eval/top1`, `eval_ema/top5`, ...).
"""
from __future__ import annotations

import json
import logging
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
    """Console progress lines: step, loss, accuracy, learning rate, images/s and ETA."""

    def __init__(self, total_steps: int, global_batch_size: int, start_step: int):
        self.total_steps, self.batch = total_steps, global_batch_size
        self.last_step, self.last_time = start_step, time.perf_counter()

    def images_per_second(self, step: int) -> float:
        now = time.perf_counter()
        rate = (step - self.last_step) * self.batch / max(now - self.last_time, 1e-9)
        self.last_step, self.last_time = step, now
        return rate

    def report(self, step: int, metrics: dict[str, float]) -> None:
        rate = metrics.get("train/img_per_sec", 0.0)
        eta = (self.total_steps - step) * self.batch / rate if rate else float("nan")
        logging.info("step %d/%d  loss %.4f  top1 %.3f  lr %.4g  %.1f img/s  ETA %s", step, self.total_steps,
                     metrics["train/loss"], metrics["train/top1"], metrics["train/lr"], rate,
                     time.strftime("%H:%M:%S", time.gmtime(eta)) if eta == eta else "--")
