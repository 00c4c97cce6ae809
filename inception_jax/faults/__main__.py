"""Kills a short training run with SIGKILL at random moments (saves included), reruns it, and checks each rerun
ends bitwise equal to an uninterrupted run; prints a table and exits 1 if any run was lost.

    python -m inception_jax.faults --trials=50 --root=/tmp/faults
    python -m inception_jax.faults --trials=4 --steps=8 --data_dir=$TFDS_DIR --json=faults.json

The logic is `inception_jax.faults.run_trials`.
"""

import dataclasses
import json
import sys
import tempfile

from absl import flags

from inception_jax import cli, faults

flags.DEFINE_integer("trials", 10, "Runs to kill and rerun; odd-numbered ones are killed as a save starts.")
flags.DEFINE_integer("steps", 12, "Steps of each run (a checkpoint every 2).")
flags.DEFINE_string("root", None, "Directory for the runs (default: a new temporary directory).")
flags.DEFINE_string("data_dir", None, "TFDS data directory holding (or to hold) the embedded digits.")
flags.DEFINE_integer("seed", 0, "Seed of the kill delays.")
flags.DEFINE_string("json", None, "Also write each trial and the summary here.")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    root = FLAGS.root or tempfile.mkdtemp(prefix="inception_jax_faults_")
    print(f"Runs in {root}", flush=True)
    results = faults.run_trials(
        FLAGS.trials,
        root,
        steps=FLAGS.steps,
        data_dir=FLAGS.data_dir,
        seed=FLAGS.seed,
        progress=lambda line: print(line, flush=True),
    )
    print(faults.table(results))
    if FLAGS.json:
        with open(FLAGS.json, "w") as file:
            json.dump(
                {"trials": [dataclasses.asdict(t) for t in results], "table": faults.table(results)}, file, indent=1
            )
    if not all(t.resumed_exactly for t in results):
        sys.exit(1)


if __name__ == "__main__":
    cli.run(main)
