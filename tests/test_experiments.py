"""Experiment runners end to end from their commands, on tiny settings (the committed results took minutes)."""

import csv
import json
import os
import subprocess
import sys

from train_utils import REPO


def test_degradation_runner_trains_plots_and_writes_results(tmp_path, data_dir):
    out = tmp_path / "out"
    command = [
        sys.executable,
        os.path.join("experiments", "degradation", "run_reduced.py"),
        "--epochs",
        "0.1",
        "--seeds",
        "0",
        "--networks",
        "plain20",
        "resnet20",
        "--root",
        str(tmp_path / "runs"),
        "--out",
        str(out),
    ]
    env = dict(os.environ, TFDS_DATA_DIR=data_dir)
    completed = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=900, check=False)
    assert completed.returncode == 0, completed.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert set(results) == {"plain20 seed 0", "resnet20 seed 0"}
    assert all(0.0 <= result["eval/top1"] <= 1.0 for result in results.values())
    with open(out / "curves.csv") as f:
        rows = list(csv.DictReader(f))
    assert {row["run"] for row in rows} == set(results) and all("train/top1" in row for row in rows)
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
