"""FSDP for real: steps equal replicated training in float64, checkpoints reshard both ways, runs resume bitwise.

The tiny test network has no array of `FSDP_MIN_SIZE` elements, so these tests shard every array of 256 or more.
"""

import jax
import jax.numpy as jnp
import numpy as np
from model_utils import QUICK_IMAGE_SIZE, quick_recipe, random_train_state, tiny_recipe
from train_utils import QUICK, tiny_config

from inception_jax.train import mesh as mesh_lib
from inception_jax.train.checkpoint import TrainCheckpoints
from inception_jax.train.trainer import train_and_evaluate

MIN_SIZE = 256


def sharded_leaves(state) -> int:
    return sum(not leaf.sharding.is_fully_replicated for leaf in jax.tree.leaves(state))


def test_fsdp_steps_equal_replicated_steps_in_float64():
    mesh = mesh_lib.make_mesh()
    assert mesh.shape[mesh_lib.DATA_AXIS] == 8
    rng = np.random.default_rng(0)
    with jax.enable_x64(True):
        # Computes in float64 too: the layers cast to their dtype. The sharding, not the network, is under test:
        # QUICK's ResNet-20.
        model, tx, step = quick_recipe(dtype=jnp.float64, param_dtype=jnp.float64)
        state = jax.tree.map(
            lambda x: x.astype(np.float64) if np.issubdtype(x.dtype, np.floating) else x,
            jax.device_get(random_train_state(model, tx, QUICK_IMAGE_SIZE)),
        )
        batches = [
            {
                "image": rng.uniform(-1, 1, (16, QUICK_IMAGE_SIZE, QUICK_IMAGE_SIZE, 3)),
                "label": rng.integers(0, 10, 16).astype(np.int32),
            }
            for _ in range(3)
        ]
        results = {}
        for fsdp in (False, True):
            shardings = mesh_lib.state_shardings(state, mesh, fsdp=fsdp, min_size=MIN_SIZE)
            train_step = jax.jit(step, out_shardings=(shardings, mesh_lib.replicated(mesh)))
            current = jax.device_put(state, shardings)
            for batch in batches:
                current, _ = train_step(
                    current, jax.device_put(batch, mesh_lib.batch_sharding(mesh)), jax.random.key(1)
                )
            assert jax.tree.leaves(current.params)[0].dtype == jnp.float64
            results[fsdp] = (sharded_leaves(current), jax.device_get(current))
    (replicated_count, replicated), (fsdp_count, fsdp) = results[False], results[True]
    assert replicated_count == 0 and fsdp_count >= 10  # kernels, their RMS and momentum slots and their EMA
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10), replicated, fsdp)


def test_checkpoints_reshard_on_restore_both_ways(tmp_path):
    mesh = mesh_lib.make_mesh()
    model, tx, _ = tiny_recipe()
    state = random_train_state(model, tx, 75)
    layouts = {fsdp: mesh_lib.state_shardings(state, mesh, fsdp=fsdp, min_size=MIN_SIZE) for fsdp in (False, True)}
    for saved_with, restored_into in ((True, False), (False, True)):
        checkpoints = TrainCheckpoints(str(tmp_path / f"saved_fsdp_{saved_with}"))
        checkpoints.save(1, jax.device_put(state, layouts[saved_with]), {"step": 1})
        checkpoints.wait()
        abstract = jax.tree.map(
            lambda leaf, sharding: jax.ShapeDtypeStruct(leaf.shape, leaf.dtype, sharding=sharding),
            state,
            layouts[restored_into],
        )
        restored, _ = checkpoints.restore(abstract)
        checkpoints.close()
        assert jax.tree.map(lambda leaf: leaf.sharding, restored) == layouts[restored_into]
        jax.tree.map(np.testing.assert_array_equal, jax.device_get(restored), jax.device_get(state))


def test_an_fsdp_run_resumes_bitwise(tmp_path, data_dir, monkeypatch):
    monkeypatch.setattr(mesh_lib, "FSDP_MIN_SIZE", MIN_SIZE)
    common = {**QUICK, "fsdp": True, "checkpoint_every_steps": 2, "eval_every_steps": 4, "log_every_steps": 2}
    train_and_evaluate(tiny_config(data_dir, total_steps=4, **common), str(tmp_path / "uninterrupted"))
    train_and_evaluate(tiny_config(data_dir, total_steps=2, **common), str(tmp_path / "resumed"))
    train_and_evaluate(tiny_config(data_dir, total_steps=4, **common), str(tmp_path / "resumed"))  # from step 2

    def final(workdir):
        checkpoints = TrainCheckpoints(str(workdir))
        state = checkpoints.read_saved(4, mesh_lib.replicated(mesh_lib.make_mesh()))
        record = checkpoints.read_meta(4)
        checkpoints.close()
        return jax.device_get(state), record

    (uninterrupted, _), (resumed, record) = final(tmp_path / "uninterrupted"), final(tmp_path / "resumed")
    assert record["step"] == 4
    jax.tree.map(np.testing.assert_array_equal, uninterrupted, resumed)
