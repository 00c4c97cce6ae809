"""How far float32 gradients at initialisation are from float64 ones, and which layers make the difference.

    python experiments/float32_gradients/run.py            # writes results.json beside this file

For each variant the same weights and batch are differentiated twice, in float32 and in float64, and each
parameter's gradient error is |g32 - g64| / |g64| (Frobenius norms). Variants switch one suspect at a time:
BatchNorm's one-pass variance E[x²] - E[x]² (flax's default `use_fast_variance=True`, the `bn_fast_variance`
option) against the two-pass E[(x - E[x])²], BatchNorm's batch statistics altogether (its running averages
instead), and max pooling's tie-breaking (average pools instead).
"""

from __future__ import annotations

import contextlib
import json
import os

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from inception_jax.models import create_model, layers

OPTIONS = {"num_classes": 10, "width_multiplier": 0.25, "block_counts": (2, 2, 2), "dropout_rate": 0.0}
BATCH, SIZE = 16, 75


@contextlib.contextmanager
def patched(module, name, value):
    original = getattr(module, name)
    setattr(module, name, value)
    try:
        yield
    finally:
        setattr(module, name, original)


def average_pool(x, window, strides, padding="VALID"):
    return nn.avg_pool(x, window, strides, padding=padding)


# name: (network options, context, batch statistics)
VARIANTS = {
    "one-pass BatchNorm variance (flax's default)": ({"bn_fast_variance": True}, contextlib.nullcontext, True),
    "two-pass BatchNorm variance (this library's default)": ({}, contextlib.nullcontext, True),
    "BatchNorm on running averages (eval mode)": ({"bn_fast_variance": True}, contextlib.nullcontext, False),
    "one-pass variance, average pools for max pools": (
        {"bn_fast_variance": True},
        lambda: patched(layers, "max_pool", average_pool),
        True,
    ),
}


def gradients(dtype, variables, images, labels, batch_statistics: bool, options: dict):
    model = create_model("inception_resnet_v2", dtype=dtype, param_dtype=dtype, **OPTIONS, **options)
    variables = jax.tree.map(lambda x: jnp.asarray(x, dtype), variables)

    def loss(params):
        inputs = {"params": params, "batch_stats": variables["batch_stats"]}
        if batch_statistics:
            logits, _ = model.apply(inputs, images.astype(dtype), train=True, mutable=["batch_stats"])
        else:
            logits = model.apply(inputs, images.astype(dtype), train=False)
        return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()

    return jax.device_get(jax.jit(jax.grad(loss))(variables["params"]))


def errors(g32, g64) -> dict[str, float]:
    flat32 = {jax.tree_util.keystr(k): v for k, v in jax.tree_util.tree_flatten_with_path(g32)[0]}
    flat64 = {jax.tree_util.keystr(k): v for k, v in jax.tree_util.tree_flatten_with_path(g64)[0]}
    return {
        name: float(np.linalg.norm(flat32[name].astype(np.float64) - flat64[name]) / np.linalg.norm(flat64[name]))
        for name in flat64
        if np.linalg.norm(flat64[name]) > 0
    }


def main() -> None:
    with jax.enable_x64(True):
        rng = np.random.default_rng(0)
        images = jnp.asarray(rng.uniform(-1, 1, (BATCH, SIZE, SIZE, 3)))
        labels = jnp.asarray(rng.integers(0, 10, BATCH))
        model = create_model("inception_resnet_v2", **OPTIONS)
        variables = jax.device_get(model.init(jax.random.key(0), images[:1].astype(jnp.float32), train=False))
        results = {}
        for name, (options, context, batch_statistics) in VARIANTS.items():
            with context():
                g32 = gradients(jnp.float32, variables, images, labels, batch_statistics, options)
                g64 = gradients(jnp.float64, variables, images, labels, batch_statistics, options)
            per_leaf = errors(g32, g64)
            values = np.array(list(per_leaf.values()))
            worst = sorted(per_leaf, key=per_leaf.get)[-3:]
            results[name] = {
                "median": float(np.median(values)),
                "p90": float(np.quantile(values, 0.9)),
                "max": float(values.max()),
                "worst_leaves": {leaf: per_leaf[leaf] for leaf in worst},
            }
            print(
                f"{name:55s} median {np.median(values):.2e}  p90 {np.quantile(values, 0.9):.2e}  max {values.max():.2e}"
            )
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "results.json"), "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
