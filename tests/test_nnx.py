"""NNX users: any registered network through `flax.nnx.bridge.ToNNX`, trained with `nnx.Optimizer` on the recipe."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from flax.nnx import bridge

import inception_jax
from inception_jax.configs import paper
from inception_jax.summary import abstract_variables
from inception_jax.train.optimizer import make_optimizer


def linen_variables(model: nnx.Module) -> dict:
    """The wrapped network's variables as Linen's `{'params', 'batch_stats'}`."""
    return {
        "params": nnx.to_pure_dict(nnx.state(model, nnx.Param)),
        "batch_stats": nnx.to_pure_dict(nnx.state(model, nnx.BatchStat)),
    }


def test_a_network_wrapped_for_nnx_trains_with_nnx_optimizer_and_evaluates_like_the_linen_module():
    linen = inception_jax.create_model("inception_v3", num_classes=10, width_multiplier=0.1, min_depth=4, aux_head=True)
    images = jnp.asarray(np.random.default_rng(0).uniform(-1, 1, (4, 75, 75, 3)), jnp.float32)
    labels = jnp.array([1, 2, 3, 4])
    model = bridge.ToNNX(linen, rngs=nnx.Rngs(0))
    bridge.lazy_init(model, images[:1], train=False)
    initial = linen_variables(model)
    assert jax.tree.structure(initial) == jax.tree.structure(abstract_variables(linen, 75))

    optimizer = nnx.Optimizer(
        model, make_optimizer(paper.get_config().optimizer, optax.constant_schedule(0.01)), wrt=nnx.Param
    )

    @nnx.jit
    def train_step(model, optimizer, images, labels):
        def loss_fn(model):
            logits = model(images, train=True, mutable=["batch_stats"], rngs=nnx.Rngs(dropout=1))
            return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()

        loss, grads = nnx.value_and_grad(loss_fn)(model)
        optimizer.update(model, grads)
        return loss

    losses = [float(train_step(model, optimizer, images, labels)) for _ in range(3)]
    assert all(np.isfinite(losses)), losses
    trained = linen_variables(model)
    for collection in ("params", "batch_stats"):  # the steps changed the weights and the statistics
        # The aux head's BatchNorm β gets no gradient from this loss on the logits alone.
        trunk = [name for name in initial[collection] if name != "AuxLogits"]
        changed = jax.tree.map(
            lambda a, b: not np.array_equal(a, b),
            {name: initial[collection][name] for name in trunk},
            {name: trained[collection][name] for name in trunk},
        )
        assert all(jax.tree.leaves(changed)), collection
    np.testing.assert_array_equal(model(images, train=False), linen.apply(trained, images, train=False))
