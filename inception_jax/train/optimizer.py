"""The paper's optimisation recipe, built from optax pieces.

RMSProp with TF1 semantics (decay 0.9, momentum 0.9, ε = 1.0 inside the square root, accumulator starting at 1,
learning rate applied before the momentum trace), L2 weight decay on conv/dense kernels only, optional
global-norm clipping, and a learning rate of `base · batch/reference` decayed ×0.94 every 2 epochs (staircase)
after an optional linear warmup. The parameter EMA uses TF's `ExponentialMovingAverage(decay, num_updates)`
schedule so that short runs are not dominated by the initial weights.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax


def learning_rate_schedule(schedule_config, global_batch_size: int, steps_per_epoch: int) -> optax.Schedule:
    """`base_learning_rate · global_batch/reference_batch_size · decay_rate^⌊epoch/epochs_per_decay⌋`, with warmup.

    With `boundaries_epochs` set, the exponent counts the boundaries passed instead.
    """
    peak = schedule_config.base_learning_rate * global_batch_size / schedule_config.reference_batch_size
    if schedule_config.get("boundaries_epochs"):
        decay = optax.piecewise_constant_schedule(
            peak,
            {round(epoch * steps_per_epoch): schedule_config.decay_rate for epoch in schedule_config.boundaries_epochs},
        )
    else:
        decay = optax.exponential_decay(
            peak,
            transition_steps=max(1, round(schedule_config.epochs_per_decay * steps_per_epoch)),
            decay_rate=schedule_config.decay_rate,
            staircase=True,
        )
    warmup_steps = round(schedule_config.warmup_epochs * steps_per_epoch)
    if not warmup_steps:
        return decay
    # Multiplying keeps the decay boundaries on whole epochs; `join_schedules` would shift them by the warmup.
    warmup = optax.linear_schedule(0.0, 1.0, warmup_steps)
    return lambda step: warmup(step) * decay(step)


def kernel_mask(params):
    """True for conv and dense kernels: the only leaves that get weight decay.

    Works on any tree of parameters named by path: Linen's dicts, and NNX's `State` (flax.nnx.bridge users).
    """

    def is_kernel(path, _) -> bool:
        names = [key.key for key in path if isinstance(key, jax.tree_util.DictKey)]
        return bool(names) and names[-1] == "kernel"

    return jax.tree_util.tree_map_with_path(is_kernel, params)


OPTIMIZERS = ("rmsprop", "sgd")


def make_optimizer(optimizer_config, schedule: optax.Schedule) -> optax.GradientTransformation:
    """clip (optional) → + weight_decay·kernel → RMSProp (TF1) or SGD, with momentum, all from optax."""
    cfg = optimizer_config
    name = cfg.get("name", "rmsprop")
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer.name={name!r} is not one of {OPTIMIZERS}; set --config.optimizer.name.")
    parts = []
    if cfg.grad_clip_norm:
        parts.append(optax.clip_by_global_norm(cfg.grad_clip_norm))
    if cfg.weight_decay:
        parts.append(optax.add_decayed_weights(cfg.weight_decay, mask=kernel_mask))
    if name == "sgd":
        # PyTorch/Caffe momentum (v ← g + μv, θ ← θ − lr·v), as the lineage papers' recipes were run.
        parts.append(optax.sgd(schedule, momentum=cfg.momentum or None, nesterov=cfg.get("nesterov", False)))
    else:
        parts.append(
            optax.rmsprop(
                schedule,
                decay=cfg.rms_decay,
                eps=cfg.epsilon,
                initial_scale=1.0,
                eps_in_sqrt=True,
                momentum=cfg.momentum or None,
            )
        )
    return optax.chain(*parts)


def ema_decay(decay: float, step) -> jax.Array:
    """TF's `ExponentialMovingAverage(decay, num_updates=step)`: min(decay, (1 + step) / (10 + step))."""
    step = jnp.asarray(step, jnp.float32)
    return jnp.minimum(decay, (1.0 + step) / (10.0 + step))


def update_ema(ema_tree, new_tree, decay: float, step):
    """One EMA step of a whole tree (parameters or BatchNorm statistics) with optax's Polyak update."""
    return optax.incremental_update(new_tree, ema_tree, 1.0 - ema_decay(decay, step))
