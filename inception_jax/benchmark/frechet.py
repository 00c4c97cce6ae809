"""Seconds per Fréchet distance by each method of `fid.frechet_distance`, measured in one run, taking turns.

    python -m inception_jax.benchmark.frechet --dims=2048 --rounds=3 --json=frechet.json

The covariances are random and full rank (`--dims` features of 2 × `--dims` samples each), so both methods take
their usual path; the record holds every round's seconds, the medians, the relative difference of the two
distances, and the CPU and its load.
"""

from __future__ import annotations

import shlex
import statistics
import sys
import time

import numpy as np
from absl import app, flags

from inception_jax import cli
from inception_jax.benchmark import report, timing
from inception_jax.fid import distance

flags.DEFINE_integer("dims", 2048, "Feature dimensions (2048: the pool features of FID).")
flags.DEFINE_integer("rounds", 3, "Alternating rounds; medians are reported.")
flags.DEFINE_string("json", None, "Write the record as JSON to this path.")
FLAGS = flags.FLAGS


def random_statistics(dims: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The mean and full-rank covariance of 2 × `dims` random samples with unequal scales."""
    rng = np.random.default_rng(seed)
    samples = rng.standard_normal((2 * dims, dims)) * rng.uniform(0.5, 2.0, dims)
    return distance.statistics(samples)


def main(argv) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments {argv[1:]}; every input is a --flag=value.")
    first, second = random_statistics(FLAGS.dims, 0), random_statistics(FLAGS.dims, 1)
    values = {}

    def seconds(method: str) -> float:
        start = time.perf_counter()
        values[method] = distance.frechet_distance(*first, *second, method=method)
        return time.perf_counter() - start

    record = {
        "command": shlex.join(["python", "-m", "inception_jax.benchmark.frechet", *sys.argv[1:]]),
        "hardware": timing.host(),
        "dims": FLAGS.dims,
    }
    rounds = timing.alternate(
        {method: lambda m=method: seconds(m) for method in distance.FRECHET_METHODS}, FLAGS.rounds
    )
    record["hardware"]["load_average_after"] = timing.load_average()
    record["seconds"] = rounds
    record["median_seconds"] = {method: statistics.median(times) for method, times in rounds.items()}
    record["relative_difference"] = abs(values["eigh"] - values["sqrtm"]) / abs(values["sqrtm"])
    medians = record["median_seconds"]
    print(f"Fréchet distance at {FLAGS.dims} dimensions, median of {FLAGS.rounds} alternating rounds:")
    for method, times in rounds.items():
        print(f"  {method:6s} {medians[method]:.2f} s  (rounds: {', '.join(f'{t:.2f}' for t in times)})")
    speedup, difference = medians["sqrtm"] / medians["eigh"], record["relative_difference"]
    print(f"  sqrtm / eigh: {speedup:.1f}×; the distances differ by {difference:.1e} relative")
    if FLAGS.json:
        report.write_json(record, FLAGS.json)


if __name__ == "__main__":
    cli.run(main)
