"""Several training runs as one experiment: train each (resumably), then export their curves.

    results = run_sweep({"v3 seed 0": config_a, "IR-v1 seed 0": config_b}, root="runs/residual_vs_plain")
    write_curves_csv(run_dirs(configs, root), "curves.csv")

Every run lives in `root/<label>`; rerunning a sweep resumes unfinished runs and re-evaluates finished ones.
"""

from __future__ import annotations

import csv
import importlib.util
import logging
import os
import re
import time

import ml_collections

from inception_jax.train.metrics_file import read_metrics
from inception_jax.train.trainer import train_and_evaluate


def load_config_file(path: str):
    """Imports an experiment's config.py (a `get_config(arg)` module) from its path."""
    spec = importlib.util.spec_from_file_location(os.path.splitext(os.path.basename(path))[0], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def log_progress() -> None:
    """Shows the trainer's progress lines in a script (TensorFlow may have configured logging already)."""
    logging.basicConfig(format="%(asctime)s %(message)s")
    logging.getLogger().setLevel(logging.INFO)
    logging.getLogger("absl").setLevel(logging.WARNING)  # Orbax's per-save internals


def run_dir(root: str, label: str) -> str:
    """The workdir of run `label` under `root` (label made filesystem-safe)."""
    return os.path.join(root, re.sub(r"[^A-Za-z0-9_.-]+", "_", label).strip("_"))


def run_sweep(runs: dict[str, ml_collections.ConfigDict], root: str) -> dict[str, dict[str, float]]:
    """Trains every run in turn; returns each run's final evaluation metrics by label."""
    results = {}
    for index, (label, config) in enumerate(runs.items(), 1):
        logging.info("=== run %d/%d: %s", index, len(runs), label)
        start = time.perf_counter()
        results[label] = train_and_evaluate(config, run_dir(root, label))
        results[label]["wall_seconds"] = time.perf_counter() - start
    return results


def write_curves_csv(run_dirs: dict[str, str], path: str) -> None:
    """One row per (run, step) with every metric the run logged at that step, for plotting elsewhere."""
    rows, keys = [], set()
    for label, directory in run_dirs.items():
        merged: dict[int, dict] = {}
        for record in read_metrics(directory):
            merged.setdefault(record["step"], {}).update(record)
        for step in sorted(merged):
            rows.append({"run": label, **merged[step]})
            keys.update(merged[step])
    columns = ["run", "step"] + sorted(keys - {"step"})
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, columns)
        writer.writeheader()
        writer.writerows(rows)
