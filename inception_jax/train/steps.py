"""The jitted train and eval steps: losses, gradient accumulation, the optimizer update and the EMA."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from inception_jax.models.layers import ENDPOINTS
from inception_jax.train.optimizer import update_ema
from inception_jax.train.state import TrainState


def cross_entropy(logits, labels, num_classes: int, label_smoothing: float = 0.0):
    """Mean softmax cross-entropy against (optionally smoothed) one-hot labels, computed in float32."""
    targets = optax.smooth_labels(jax.nn.one_hot(labels, num_classes), label_smoothing)
    return optax.softmax_cross_entropy(logits.astype(jnp.float32), targets).mean()


def make_train_step(model, tx, schedule, loss_config, ema_decay: float, grad_accum_steps: int = 1):
    """Returns `train_step(state, batch, rng) -> (state, metrics)`; jit it with the mesh's shardings.

    The loss is cross-entropy on the logits, smoothed by `loss_config.label_smoothing`, plus
    `loss_config.aux_loss_weight` times the same on each auxiliary classifier's logits (endpoints `AuxLogits`, and
    GoogLeNet's `AuxLogits2`). Parameters and BatchNorm statistics are averaged with `ema_decay` (TF's num_updates
    warm-up). With `grad_accum_steps` k > 1 the global batch is split into k micro-batches whose gradients are
    averaged (BatchNorm then normalises over each micro-batch).
    """
    cfg = loss_config
    num_classes = model.num_classes

    def loss_fn(params, batch_stats, images, labels, rng):
        logits, new_state = model.apply(
            {"params": params, "batch_stats": batch_stats},
            images,
            train=True,
            mutable=["batch_stats", ENDPOINTS],
            rngs={"dropout": rng},
        )
        loss = cross_entropy(logits, labels, num_classes, cfg.label_smoothing)
        total = loss
        for name, aux_logits in new_state[ENDPOINTS]["endpoints"].items():
            if name in model.aux_names and cfg.aux_loss_weight:
                total = total + cfg.aux_loss_weight * cross_entropy(
                    aux_logits, labels, num_classes, cfg.label_smoothing
                )
        top1 = jnp.mean(jnp.argmax(logits, -1) == labels)
        return total, (new_state.get("batch_stats", {}), top1)  # networks before BatchNorm have none

    grad_fn = jax.value_and_grad(loss_fn, has_aux=True)

    def gradients(state: TrainState, images, labels, rng):
        if grad_accum_steps == 1:
            (loss, (batch_stats, top1)), grads = grad_fn(state.params, state.batch_stats, images, labels, rng)
            return loss, top1, batch_stats, grads

        def micro_step(carry, micro):
            grads_sum, batch_stats, index = carry
            (loss, (batch_stats, top1)), grads = grad_fn(
                state.params, batch_stats, *micro, jax.random.fold_in(rng, index)
            )
            return (jax.tree.map(jnp.add, grads_sum, grads), batch_stats, index + 1), (loss, top1)

        split = lambda x: x.reshape(grad_accum_steps, -1, *x.shape[1:])  # noqa: E731
        zeros = jax.tree.map(jnp.zeros_like, state.params)
        (grads, batch_stats, _), (losses, top1s) = jax.lax.scan(
            micro_step, (zeros, state.batch_stats, 0), (split(images), split(labels))
        )
        grads = jax.tree.map(lambda g: g / grad_accum_steps, grads)
        return losses.mean(), top1s.mean(), batch_stats, grads

    def train_step(state: TrainState, batch, rng):
        rng = jax.random.fold_in(rng, state.step)
        loss, top1, batch_stats, grads = gradients(state, batch["image"], batch["label"], rng)
        updates, opt_state = tx.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        new_state = state.replace(
            step=state.step + 1,
            params=params,
            batch_stats=batch_stats,
            opt_state=opt_state,
            ema_params=update_ema(state.ema_params, params, ema_decay, state.step),
            ema_batch_stats=update_ema(state.ema_batch_stats, batch_stats, ema_decay, state.step),
        )
        metrics = {
            "train/loss": loss,
            "train/top1": top1,
            "train/lr": schedule(state.step),
            "train/grad_norm": optax.tree.norm(grads),
            "train/param_norm": optax.tree.norm(params),
        }
        return new_state, metrics

    return train_step


def hit_counts(log_probabilities, labels, mask) -> dict[str, jax.Array]:
    """Top-1 and top-5 hits and the example count over unmasked rows of [N, classes] log-probabilities.

    The one accuracy counter: the trainer's evaluation and the multi-crop evaluation both sum these, on
    log-probabilities, where float32 softmax outputs would tie at 0 and 1 for confident networks.
    """
    ranked = jax.lax.top_k(log_probabilities, min(5, log_probabilities.shape[-1]))[1]
    mask = mask.astype(jnp.float32)
    return {
        "top1": jnp.sum((ranked[:, 0] == labels) * mask),
        "top5": jnp.sum(jnp.any(ranked == labels[:, None], axis=-1) * mask),
        "count": jnp.sum(mask),
    }


def make_eval_step(model):
    """Returns `eval_step(variables, batch) -> sums` over unmasked rows of loss, top-1/top-5 hits, examples, and
    `died`: the fraction of exactly-zero activations before average pooling (section 3.3's dead network)."""

    def eval_step(variables, batch):
        logits, state = model.apply(variables, batch["image"], train=False, mutable=[ENDPOINTS])
        logits = logits.astype(jnp.float32)
        labels, mask = batch["label"], batch["mask"].astype(jnp.float32)
        pre_pool = state[ENDPOINTS]["endpoints"]["PrePool"]
        zero_fraction = jnp.mean((pre_pool == 0).astype(jnp.float32), axis=(1, 2, 3))
        log_probabilities = jax.nn.log_softmax(logits)
        losses = -jnp.take_along_axis(log_probabilities, labels[:, None], axis=-1)[:, 0]
        return {
            "loss": jnp.sum(losses * mask),
            "died": jnp.sum(zero_fraction * mask),
            **hit_counts(log_probabilities, labels, mask),
        }

    return eval_step
