"""The recipe's losses and averages against their definitions, computed by hand in float64: label smoothing, the
auxiliary-loss weights (the paper's 0.4, GoogLeNet's 0.3 as the lineage config sets it), the EMA's TF
`num_updates` warm-up, and weight decay on the kernels of a real network only."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import traverse_util
from model_utils import random_train_state, random_variables

from inception_jax import forward_with_endpoints
from inception_jax.configs import lineage, paper
from inception_jax.models import create_model
from inception_jax.models.layers import ENDPOINTS
from inception_jax.train.optimizer import make_optimizer, update_ema
from inception_jax.train.steps import cross_entropy, make_train_step


def smoothed_cross_entropy(logits, labels, smoothing: float) -> float:
    """−Σ_k t_k log softmax(z)_k with t = (1 − ε)·one_hot + ε/K, averaged over the batch (Szegedy et al. §7)."""
    logits = np.asarray(logits, np.float64)
    num_classes = logits.shape[-1]
    targets = (1 - smoothing) * np.eye(num_classes)[labels] + smoothing / num_classes
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_softmax = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    return float(-(targets * log_softmax).sum(axis=-1).mean())


def test_label_smoothing_loss_equals_the_definition():
    assert paper.get_config().loss.label_smoothing == 0.1
    logits = np.random.default_rng(0).normal(0.0, 3.0, (4, 10)).astype(np.float32)
    labels = np.array([0, 3, 9, 3])
    assert float(cross_entropy(logits, labels, 10, 0.1)) == pytest.approx(
        smoothed_cross_entropy(logits, labels, 0.1), rel=1e-6
    )
    # Smoothing moves the loss by more than the tolerance above: the comparison tells 0.1 from 0.
    assert abs(smoothed_cross_entropy(logits, labels, 0.1) - smoothed_cross_entropy(logits, labels, 0.0)) > 0.01


class AuxHeads(nn.Module):
    """A linear classifier with linear side classifiers, recorded as the networks record theirs (endpoints
    `AuxLogits`, `AuxLogits2`): the train step's loss sees exactly what it sees from the real networks, whose
    side classifiers are tested to run in training in test_models.py and test_lineage_models.py."""

    num_classes: int
    aux_names: tuple

    @nn.compact
    def __call__(self, images, train: bool = False):
        features = nn.Dropout(0.5, deterministic=not train)(images.reshape(images.shape[0], -1))
        endpoints = {name: nn.Dense(self.num_classes, name=name)(features) for name in self.aux_names}
        logits = endpoints["Logits"] = nn.Dense(self.num_classes, name="Logits")(features)
        self.sow(ENDPOINTS, "endpoints", endpoints, init_fn=lambda: None, reduce_fn=lambda _, new: new)
        return logits


# The paper's recipe (one aux head, weight 0.4), and GoogLeNet's two side classifiers as
# inception_jax/configs/lineage.py configures them (weight 0.3 each, §5 of its paper).
AUX_CASES = {
    "paper": (paper.get_config, ("AuxLogits",), 0.4),
    "googlenet": (lambda: lineage.get_config("model=googlenet"), ("AuxLogits", "AuxLogits2"), 0.3),
}


@pytest.mark.parametrize("case", list(AUX_CASES))
def test_train_loss_adds_each_aux_loss_with_its_weight(case):
    get_config, aux_names, weight = AUX_CASES[case]
    config = get_config()
    assert config.loss.aux_loss_weight == weight
    model = AuxHeads(num_classes=6, aux_names=aux_names)
    tx = make_optimizer(config.optimizer, optax.constant_schedule(0.01))
    state = random_train_state(model, tx, 4)
    images = np.random.default_rng(1).uniform(-1, 1, (4, 4, 4, 3)).astype(np.float32)
    labels = np.array([0, 1, 5, 1])
    rng = jax.random.key(3)
    new_state, metrics = jax.jit(
        make_train_step(model, tx, optax.constant_schedule(0.01), config.loss, config.ema.decay)
    )(state, {"image": images, "label": labels}, rng)

    # The same forward pass by hand: same variables, same dropout draws (the step folds its count into rng).
    variables = {"params": state.params, "batch_stats": state.batch_stats}
    logits, endpoints, _ = forward_with_endpoints(
        model, variables, images, train=True, rngs={"dropout": jax.random.fold_in(rng, state.step)}
    )
    smoothing = config.loss.label_smoothing
    expected = smoothed_cross_entropy(logits, labels, smoothing) + weight * sum(
        smoothed_cross_entropy(endpoints[name], labels, smoothing) for name in aux_names
    )
    assert float(metrics["train/loss"]) == pytest.approx(expected, rel=1e-6)

    # The EMA's first update (num_updates = 0): decay min(0.9999, 1/10) = 0.1, so it is 90% the new weights.
    old, new, ema = (
        np.asarray(tree["Logits"]["kernel"], np.float64)
        for tree in (state.ema_params, new_state.params, new_state.ema_params)
    )
    assert not np.allclose(old, new)
    np.testing.assert_allclose(ema, 0.1 * old + 0.9 * new, rtol=1e-6, atol=1e-7)


def test_ema_warm_up_follows_tfs_num_updates_formula():
    # TF's ExponentialMovingAverage(decay, num_updates=n): decay_n = min(decay, (1 + n) / (10 + n)),
    # shadow ← decay_n · shadow + (1 − decay_n) · value.
    rng = np.random.default_rng(4)
    values = rng.normal(size=(30, 5))
    ema = {"w": jnp.asarray(values[0], jnp.float32)}
    shadow = values[0].copy()
    # (1 + n) / (10 + n) reaches 0.9999 at n = 89,990: the decay is clamped from there on.
    for step in (0, 1, 2, 5, 20, 89, 90, 91, 10_000, 89_989, 89_991, 100_000, 1_000_000):
        value = rng.normal(size=5)
        decay = min(0.9999, (1 + step) / (10 + step))
        shadow = decay * shadow + (1 - decay) * value
        ema = update_ema(ema, {"w": jnp.asarray(value, jnp.float32)}, 0.9999, step)
        np.testing.assert_allclose(ema["w"], shadow, rtol=1e-5, atol=1e-6, err_msg=f"num_updates={step}")


def test_weight_decay_reaches_the_kernels_of_a_real_network_only():
    cfg = paper.get_config().optimizer
    cfg.update(name="sgd", momentum=0.0)  # the update is then −lr · (gradient + wd · kernel) exactly
    model = create_model(
        "inception_resnet_v2", width_multiplier=0.1, min_depth=4, block_counts=(1, 1, 1), num_classes=6, aux_head=True
    )
    params = random_variables(model, 75)["params"]
    tx = make_optimizer(cfg, optax.constant_schedule(0.5))
    zero = jax.tree.map(jnp.zeros_like, params)
    updates, _ = tx.update(zero, tx.init(params), params)
    kinds = {}
    for path, update in traverse_util.flatten_dict(updates).items():
        weight = np.asarray(traverse_util.flatten_dict(params)[path], np.float64)
        expected = -0.5 * cfg.weight_decay * weight if path[-1] == "kernel" else np.zeros_like(weight)
        np.testing.assert_allclose(update, expected, rtol=1e-6, atol=1e-12, err_msg="/".join(path))
        kinds.setdefault(path[-1], set()).add(path[-2])
    # Every kind of leaf was seen: conv and dense kernels (decayed), BatchNorm β, residual and classifier biases.
    assert kinds["kernel"] >= {"conv", "Conv2d_1x1", "Logits"} and kinds["bias"] >= {"bn", "Conv2d_1x1", "Logits"}
