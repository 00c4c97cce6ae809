"""Parameters, multiply-accumulates and endpoint shapes of a network, computed without compiling anything.

    python -m inception_jax.summary --model=inception_v4 [--image_size=299] [--model.bn_use_scale=true ...]
    python -m inception_jax.summary --model=all

MACs count every convolution and fully connected layer (what timm's and the paper's cost figures count);
BatchNorm, pooling and additions are left out. All functions run under `jax.eval_shape`.
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from inception_jax.endpoints import forward_with_endpoints
from inception_jax.models import create_model, list_models


def _images(model, image_size: int | None):
    size = image_size or model.default_size
    return jax.ShapeDtypeStruct((1, size, size, 3), jnp.float32)


def abstract_variables(model: nn.Module, image_size: int | None = None):
    """The model's variables as shapes and dtypes only."""
    return jax.eval_shape(lambda x: model.init(jax.random.key(0), x, train=False), _images(model, image_size))


def count_params(model: nn.Module, image_size: int | None = None) -> int:
    """Number of entries in the `params` collection (BatchNorm statistics are not parameters)."""
    return sum(math.prod(leaf.shape) for leaf in jax.tree.leaves(abstract_variables(model, image_size)["params"]))


def count_macs(model: nn.Module, image_size: int | None = None) -> int:
    """Multiply-accumulates of one image's forward pass through every Conv and Dense layer."""
    total = 0

    def count(next_fun, args, kwargs, context):
        nonlocal total
        out = next_fun(*args, **kwargs)
        layer = context.module
        if context.method_name == "__call__" and isinstance(layer, (nn.Conv, nn.Dense)):
            in_features = args[0].shape[-1]
            if isinstance(layer, nn.Conv):
                in_features = in_features // layer.feature_group_count * math.prod(layer.kernel_size)
            total += math.prod(out.shape[:-1]) * in_features * out.shape[-1]
        return out

    variables = abstract_variables(model, image_size)
    with nn.intercept_methods(count):
        jax.eval_shape(lambda v, x: model.apply(v, x, train=False), variables, _images(model, image_size))
    return total


def endpoint_shapes(model: nn.Module, image_size: int | None = None) -> dict[str, tuple[int, ...]]:
    """Each endpoint's shape for one image, in network order."""
    shapes = {}

    def record(v, x):  # read inside the trace: eval_shape's output would sort the names
        _, endpoints = forward_with_endpoints(model, v, x)
        shapes.update((name, tuple(value.shape[1:])) for name, value in endpoints.items())

    jax.eval_shape(record, abstract_variables(model, image_size), _images(model, image_size))
    return shapes


def summarize(model: nn.Module, image_size: int | None = None) -> str:
    """A printable report: parameter count, GMACs, then one line per endpoint."""
    size = image_size or model.default_size
    lines = [
        f"{type(model).__name__} at {size}×{size}",
        f"  parameters: {count_params(model, size):,}",
        f"  multiply-accumulates: {count_macs(model, size) / 1e9:.3f} G",
        "  endpoints:",
    ]
    lines += [f"    {name:<16} {'×'.join(map(str, shape))}" for name, shape in endpoint_shapes(model, size).items()]
    return "\n".join(lines)


def main(argv) -> None:
    from absl import app, flags  # noqa: PLC0415 (the command line only)

    from inception_jax import cli  # noqa: PLC0415

    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments {argv[1:]}; give the network as --model=NAME.")
    names = list_models() if flags.FLAGS.model == "all" else [flags.FLAGS.model]
    for name in names:
        print(summarize(create_model(name, **cli.model_options()), flags.FLAGS.image_size), flush=True)


if __name__ == "__main__":
    from absl import flags

    from inception_jax import cli

    cli.define_model_flags(default=None)
    flags.DEFINE_integer("image_size", None, "Input side (default: the network's own).")
    flags.mark_flag_as_required("model")
    cli.run(main)
