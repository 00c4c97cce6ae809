"""The Flax side of every conversion: a network's weight layers in the order it runs them, and their arrays.

Each converter lists the source format's layer names in the same order (branches in concatenation order, layers
in order within a branch) and pairs the two lists, so the mapping follows the structure, not name patterns.
The order is read off the network itself by tracing `init` shape-only and recording each layer as it is called.
"""

from __future__ import annotations

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from flax import traverse_util

from inception_jax.convert.mismatch import check_shapes
from inception_jax.models.layers import ConvBN

# Where each array of a layer lives in the variables, below the layer's module path.
SLOTS = {
    "conv_bn": {
        "kernel": ("params", "conv", "kernel"),
        "scale": ("params", "bn", "scale"),
        "bias": ("params", "bn", "bias"),
        "mean": ("batch_stats", "bn", "mean"),
        "var": ("batch_stats", "bn", "var"),
    },
    "conv": {"kernel": ("params", "kernel"), "bias": ("params", "bias")},
    "dense": {"kernel": ("params", "kernel"), "bias": ("params", "bias")},
}


@dataclasses.dataclass(frozen=True)
class WeightLayer:
    """One layer that owns weights.

    kind: "conv_bn" (conv without bias → BatchNorm), "conv" (1×1 with bias: the residual projections) or "dense".
    shapes: each array's shape in Flax layout (HWIO kernels, (in, out) dense kernels), by field name of `SLOTS`;
      "scale" only when the network's BatchNorm has γ.
    """

    path: tuple[str, ...]
    kind: str
    shapes: dict[str, tuple[int, ...]]

    @property
    def name(self) -> str:
        return "/".join(self.path)


def weight_layers(module: nn.Module) -> list[WeightLayer]:
    """The weight layers of `module`, in the order its forward pass (aux head included) calls them."""
    called: list[tuple[tuple[str, ...], str]] = []

    def record(next_fun, args, kwargs, context):
        layer = context.module
        if context.method_name == "__call__":
            if isinstance(layer, ConvBN):
                called.append((layer.path, "conv_bn"))
            elif isinstance(layer, (nn.Conv, nn.Dense)) and not isinstance(layer.parent, ConvBN):
                called.append((layer.path, "conv" if isinstance(layer, nn.Conv) else "dense"))
        return next_fun(*args, **kwargs)

    # Parameter shapes do not depend on the input size, so the smallest input the network accepts will do;
    # `init` runs the aux head too.
    images = jax.ShapeDtypeStruct((1, module.min_size, module.min_size, 3), jnp.float32)
    with nn.intercept_methods(record):
        variables = jax.eval_shape(lambda x: module.init(jax.random.key(0), x, train=False), images)
    leaves = traverse_util.flatten_dict(variables)
    return [
        WeightLayer(
            path,
            kind,
            {
                field: tuple(leaves[_key(path, slot)].shape)
                for field, slot in SLOTS[kind].items()
                if _key(path, slot) in leaves
            },
        )
        for path, kind in called
    ]


def _key(path: tuple[str, ...], slot: tuple[str, ...]) -> tuple[str, ...]:
    collection, *rest = slot
    return (collection, *path, *rest)


def to_variables(layers: list[WeightLayer], arrays: list[dict[str, np.ndarray]]) -> dict:
    """Nests each layer's arrays (Flax layout, by field) into `{"params": ..., "batch_stats": ...}` of jax arrays."""
    leaves = {
        _key(layer.path, SLOTS[layer.kind][field]): jnp.asarray(value, jnp.float32)
        for layer, fields in zip(layers, arrays, strict=True)
        for field, value in fields.items()
    }
    return traverse_util.unflatten_dict(leaves)


def from_variables(layers: list[WeightLayer], variables, what: str, hint: str = "") -> list[dict[str, np.ndarray]]:
    """Each layer's arrays (numpy, Flax layout, by field) out of `variables`, after checking every name and shape.

    Only the `params` and `batch_stats` collections are read. A mismatch raises `WeightMismatchError` naming the
    leaves; `what` and `hint` go into its message.
    """
    found = {
        "/".join(key): np.asarray(value)
        for key, value in traverse_util.flatten_dict(
            {c: variables[c] for c in ("params", "batch_stats") if c in variables}
        ).items()
    }
    expected = {
        "/".join(_key(layer.path, SLOTS[layer.kind][field])): shape
        for layer in layers
        for field, shape in layer.shapes.items()
    }
    check_shapes(what, expected, {name: value.shape for name, value in found.items()}, hint)
    return [
        {field: found["/".join(_key(layer.path, SLOTS[layer.kind][field]))] for field in layer.shapes}
        for layer in layers
    ]
