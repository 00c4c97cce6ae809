"""One process of the multi-process test: 3 train steps on a fixed global batch, this process feeding its half.
The network is model_utils.quick_recipe's, which compiles in seconds: the test is about the processes.

python tests/distributed_worker.py PROCESS_ID NUM_PROCESSES PORT OUT_JSON
"""

import json
import sys

import jax
import numpy as np
from model_utils import QUICK_IMAGE_SIZE, quick_recipe, random_train_state

from inception_jax.train import mesh as mesh_lib

GLOBAL_BATCH, IMAGE_SIZE, STEPS = 8, QUICK_IMAGE_SIZE, 3


def main(process_id: int, num_processes: int, port: int, out_path: str) -> None:
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    if num_processes > 1:
        mesh_lib.initialize_distributed(f"localhost:{port}", num_processes, process_id)
    model, tx, train_step = quick_recipe(GLOBAL_BATCH, bn_momentum=0.9)
    mesh = mesh_lib.make_mesh()
    state = jax.device_put(random_train_state(model, tx, IMAGE_SIZE), mesh_lib.replicated(mesh))
    step = jax.jit(train_step)

    data = np.random.default_rng(0)
    images = data.uniform(-1, 1, (STEPS, GLOBAL_BATCH, IMAGE_SIZE, IMAGE_SIZE, 3)).astype(np.float32)
    labels = data.integers(0, 10, (STEPS, GLOBAL_BATCH)).astype(np.int32)
    share = GLOBAL_BATCH // jax.process_count()
    local = slice(jax.process_index() * share, (jax.process_index() + 1) * share)
    sharding = mesh_lib.batch_sharding(mesh)
    losses = []
    for i in range(STEPS):
        batch = {
            "image": jax.make_array_from_process_local_data(sharding, images[i, local]),
            "label": jax.make_array_from_process_local_data(sharding, labels[i, local]),
        }
        state, metrics = step(state, batch, jax.random.key(1))
        losses.append(float(np.asarray(metrics["train/loss"].addressable_data(0))))
    if jax.process_index() == 0:
        with open(out_path, "w") as f:
            json.dump({"losses": losses, "devices": jax.device_count()}, f)


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
