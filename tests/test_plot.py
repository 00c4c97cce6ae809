"""The curves command draws several runs' metrics.jsonl into one image."""

import json
import subprocess
import sys

from inception_jax.plot import series


def _write_run(directory, offset):
    directory.mkdir()
    with open(directory / "metrics.jsonl", "w") as f:
        for step in (10, 20, 30):
            f.write(json.dumps({"step": step, "train/loss": 2.0 / step + offset, "train/lr": 0.045}) + "\n")
        f.write(json.dumps({"step": 30, "eval/top1": 0.9 - offset, "eval/top5": 0.99, "eval_ema/top1": 0.91}) + "\n")


def test_plot_command_writes_one_figure_for_several_runs(tmp_path):
    _write_run(tmp_path / "plain", 0.1)
    _write_run(tmp_path / "residual", 0.0)
    out = tmp_path / "curves.png"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "inception_jax.plot",
            str(tmp_path / "plain"),
            str(tmp_path / "residual"),
            "--out",
            str(out),
        ],
        check=True,
    )
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000


def test_accuracies_are_plotted_as_error_rates():
    records = [{"step": 5, "eval/top1": 0.75}, {"step": 6, "train/loss": 1.0}]
    assert series(records, "eval/top1") == ([5], [0.25])
    assert series(records, "train/loss") == ([6], [1.0])
