"""One process of the data-sharding test: saves this process's rows of the first training batches.

python tests/distributed_batches.py PROCESS_ID NUM_PROCESSES PORT DATA_DIR OUT_NPZ [IMAGENET_MANUAL_DIR]

With IMAGENET_MANUAL_DIR, DATA_DIR holds TFDS's imagenet2012 prepared from the miniature archives there (batch 8),
else the digits (batch 16).

Augmentation is off, so each row is an example's own image and the test can tell which examples a process read.
"""

import sys

import jax
import numpy as np
from train_utils import tiny_config

from inception_jax import artifacts
from inception_jax.data import pipeline
from inception_jax.train import mesh as mesh_lib

STEPS, START_STEP = 3, 5


def local_rows(array: jax.Array) -> np.ndarray:
    """This process's rows of a batch-sharded global array, in batch order."""
    shards = sorted(array.addressable_shards, key=lambda shard: shard.index[0].start or 0)
    return np.concatenate([np.asarray(shard.data) for shard in shards])


def main(process_id: int, num_processes: int, port: int, data_dir: str, out_path: str, imagenet: str = "") -> None:
    if num_processes > 1:
        mesh_lib.initialize_distributed(f"localhost:{port}", num_processes, process_id)
    config = tiny_config(data_dir, **{"input.data_shards": 2})
    if imagenet:
        config.input.update(dataset="imagenet2012", manual_dir=imagenet, train_split="train", batch_size=8)
    config.input.update(random_crop=False, flip=False, color_distortion=False)
    spec = artifacts.input_spec_from_config(config.input)
    sharding = mesh_lib.batch_sharding(mesh_lib.make_mesh())
    batches = pipeline.train_iterator(config.input, spec, sharding, seed=0, start_step=START_STEP)
    rows = [jax.tree.map(local_rows, next(batches)) for _ in range(STEPS)]
    np.savez(
        out_path,
        image=np.stack([r["image"] for r in rows]),
        label=np.stack([r["label"] for r in rows]),
        devices=jax.device_count(),
    )


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), *sys.argv[4:])
