"""Where metrics go, on clu: `WORKDIR/metrics.jsonl`, TensorBoard events and the console, and progress reports.

Only process 0 writes files. Keys are `split/name` (`train/loss`, `eval/top1`, `eval_ema/top5`, ...); each
`write_scalars` call becomes one line of metrics.jsonl, `{"step": ..., key: value, ...}`.

    writer = create_writer(workdir, resume_step)       # clu MultiWriter: console, metrics.jsonl, TensorBoard
    progress = create_progress(total_steps)            # clu ReportProgress: steps/s, %, ETA in days
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import jax
from clu import metric_writers, periodic_actions

from inception_jax.train.metrics_file import METRICS_FILE, read_metrics


class JsonlWriter(metric_writers.MetricWriter):
    """A clu writer of scalars to metrics.jsonl, one line per `write_scalars` call; other summaries are not kept.

    A resumed run first drops the records past its step: a killed run redoes what it wrote after its last
    checkpoint.
    """

    def __init__(self, workdir: str, resume_step: int = 0):
        os.makedirs(workdir, exist_ok=True)
        self.path = os.path.join(workdir, METRICS_FILE)
        if os.path.exists(self.path):
            kept = [record for record in read_metrics(workdir) if record["step"] <= resume_step]
            with open(self.path, "w") as f:
                f.writelines(json.dumps(record) + "\n" for record in kept)

    def write_scalars(self, step: int, scalars: Mapping[str, Any]) -> None:
        with open(self.path, "a") as f:
            f.write(json.dumps({"step": int(step), **{key: float(value) for key, value in scalars.items()}}) + "\n")

    def write_summaries(self, step, values, metadata=None):
        del step, values, metadata

    def write_images(self, step, images):
        del step, images

    def write_videos(self, step, videos):
        del step, videos

    def write_audios(self, step, audios, *, sample_rate):
        del step, audios, sample_rate

    def write_texts(self, step, texts):
        del step, texts

    def write_histograms(self, step, arrays, num_buckets=None):
        del step, arrays, num_buckets

    def write_hparams(self, hparams):
        del hparams

    def flush(self):
        pass

    def close(self):
        pass


def create_writer(workdir: str, resume_step: int = 0) -> metric_writers.MetricWriter:
    """The console everywhere; metrics.jsonl and TensorBoard events in `workdir` on process 0 only."""
    writers = [metric_writers.LoggingWriter()]
    if jax.process_index() == 0:
        writers += [JsonlWriter(workdir, resume_step), metric_writers.SummaryWriter(workdir)]
    return metric_writers.MultiWriter(writers)


def create_progress(
    total_steps: int, every_steps: int | None = None, every_secs: float | None = 60.0, first_step: int = 0
) -> periodic_actions.ReportProgress:
    """clu's progress report (steps/s, percent, ETA with days, and the share of time in each `timed` part).

    Call it with each step done (`progress(step)`); it logs every `every_steps` steps or `every_secs` seconds,
    and at `total_steps`. `first_step` is where the count starts (a resumed run's step).
    """
    progress = periodic_actions.ReportProgress(
        num_train_steps=total_steps, every_steps=every_steps, every_secs=every_secs
    )
    progress(first_step)  # clu's first call only starts the clock: now every later step can report
    return progress
