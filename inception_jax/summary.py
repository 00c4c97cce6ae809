"""Parameters, multiply-accumulates and endpoint shapes of a network, computed without compiling anything.

    python -m inception_jax.summary inception_v4 [--image-size 299] [--set bn_use_scale=true ...]

MACs count every convolution and fully connected layer (what timm's and the paper's cost figures count);
BatchNorm, pooling and additions are left out. All functions run under `jax.eval_shape`.
"""
from __future__ import annotations

import argparse
import ast
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
    lines = [f"{type(model).__name__} at {size}×{size}",
             f"  parameters: {count_params(model, size):,}",
             f"  multiply-accumulates: {count_macs(model, size) / 1e9:.3f} G",
             "  endpoints:"]
    lines += [f"    {name:<16} {'×'.join(map(str, shape))}" for name, shape in endpoint_shapes(model, size).items()]
    return "\n".join(lines)


def _parse_override(text: str):
    key, _, value = text.partition("=")
    lowered = value.lower()
    if lowered in ("true", "false"):
        return key, lowered == "true"
    try:
        return key, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return key, value


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", choices=list_models() + ["all"], help="network name, or 'all'")
    parser.add_argument("--image-size", type=int, default=None, help="input side (default: the network's own)")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="override a create_model option, e.g. --set bn_use_scale=true")
    args = parser.parse_args(argv)
    overrides = dict(_parse_override(item) for item in args.set)
    for name in list_models() if args.model == "all" else [args.model]:
        print(summarize(create_model(name, **overrides), args.image_size), flush=True)


if __name__ == "__main__":
    main()
