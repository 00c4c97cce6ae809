"""timm ↔ inception_jax: `from_timm` loads a timm state_dict into a Flax network, `to_timm` writes one back.

timm's `inception_v3`, `inception_v4` and `inception_resnet_v2` run the same layers as the networks here. Below,
each network's timm layer names are listed in the order the Flax network runs its layers and paired with them
one to one (see `weight_layers`). Per layer:

    conv + BN   <name>.conv.weight (OIHW → HWIO), <name>.bn.{weight, bias, running_mean, running_var}
                → conv/kernel, bn/{scale, bias}, batch_stats bn/{mean, var}
    residual    <name>.weight (OIHW → HWIO), <name>.bias
    linear      <name>.weight ((out, in) → (in, out)), <name>.bias

The module is built to reproduce timm: BatchNorm with γ and ε 1e-3, v3's average pools counting the padding,
no dropout (timm's default `drop_rate=0`), and BatchNorm momentum 0.9, which is PyTorch's 0.1 (PyTorch weights
the new batch by its momentum, Flax keeps its momentum of the old average), so training continues as timm would.
Flax keeps no BatchNorm batch counter: `num_batches_tracked` is optional on the way in and written with the
value given to `to_timm` on the way out (timm never reads it, as its BatchNorm momentum is set).
"""

from __future__ import annotations

import os
from typing import Mapping

import numpy as np
from flax import traverse_util

from inception_jax.convert.mismatch import WeightMismatchError, check_shapes
from inception_jax.convert.pytorch_layout import classifier_outputs, from_flax, numpy_state_dict, to_flax, torch_shape
from inception_jax.convert.weight_layers import WeightLayer, from_variables, to_variables, weight_layers
from inception_jax.models import create_model
from inception_jax.spec import IMAGENET_MEAN, IMAGENET_STD, InputSpec, ModelSpec

# timm's key suffixes per layer kind and Flax field.
_SUFFIXES = {
    "conv_bn": {
        "kernel": "conv.weight",
        "scale": "bn.weight",
        "bias": "bn.bias",
        "mean": "bn.running_mean",
        "var": "bn.running_var",
    },
    "conv": {"kernel": "weight", "bias": "bias"},
    "dense": {"kernel": "weight", "bias": "bias"},
}
_BATCH_COUNTER = "bn.num_batches_tracked"

# The classifier's name in each network.
_CLASSIFIERS = {"inception_v3": "fc", "inception_v4": "last_linear", "inception_resnet_v2": "classif"}
TIMM_ARCHITECTURES = tuple(_CLASSIFIERS)

# Each timm weight's evaluation input, as its `pretrained_cfg` gives it (timm 1.0.31): the shorter side resized
# to ⌊299 / crop_pct⌋ with PIL, then the central 299² (timm's crop_mode "center").
_TIMM_INPUT = InputSpec(image_size=299, crop_fraction=0.875, crop_mode="resize_shorter", interpolation="bicubic")
PRETRAINED_INPUTS = {
    "inception_v3.tv_in1k": _TIMM_INPUT,
    "inception_v3.tf_in1k": _TIMM_INPUT,
    "inception_v3.tf_adv_in1k": _TIMM_INPUT,
    "inception_v3.gluon_in1k": _TIMM_INPUT.replace(mean=IMAGENET_MEAN, std=IMAGENET_STD),
    "inception_v4.tf_in1k": _TIMM_INPUT,
    "inception_resnet_v2.tf_in1k": _TIMM_INPUT.replace(crop_fraction=0.8975),
    "inception_resnet_v2.tf_ens_adv_in1k": _TIMM_INPUT.replace(crop_fraction=0.8975),
}
# The tag timm loads for a bare architecture name.
DEFAULT_TAGS = {"inception_v3": "tv_in1k", "inception_v4": "tf_in1k", "inception_resnet_v2": "tf_in1k"}


def pretrained_input(weight_name: str) -> InputSpec:
    """The input spec of a timm weight, `architecture.tag` (a bare architecture means timm's default tag)."""
    architecture, _, tag = weight_name.partition(".")
    _check_supported(architecture)
    name = f"{architecture}.{tag or DEFAULT_TAGS[architecture]}"
    if name not in PRETRAINED_INPUTS:
        raise ValueError(
            f"Unknown timm weight {name!r}; known: {', '.join(PRETRAINED_INPUTS)}. Pass the input "
            f"contract yourself with input_overrides (see InputSpec)."
        )
    return PRETRAINED_INPUTS[name]


def _seq(branch: str, count: int) -> tuple[str, ...]:
    """The layers of an `nn.Sequential` branch: branch.0, branch.1, ..."""
    return tuple(f"{branch}.{i}" for i in range(count))


# Inception-v3 (torchvision's attribute names), block by block.
_V3_STEM = ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "Conv2d_3b_1x1", "Conv2d_4a_3x3")
_V3_A = ("branch1x1", "branch5x5_1", "branch5x5_2", "branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3", "branch_pool")
_V3_B = ("branch3x3", "branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3")
_V3_C = (
    "branch1x1",
    "branch7x7_1",
    "branch7x7_2",
    "branch7x7_3",
    "branch7x7dbl_1",
    "branch7x7dbl_2",
    "branch7x7dbl_3",
    "branch7x7dbl_4",
    "branch7x7dbl_5",
    "branch_pool",
)
_V3_AUX = ("conv0", "conv1", "fc")
_V3_D = ("branch3x3_1", "branch3x3_2", "branch7x7x3_1", "branch7x7x3_2", "branch7x7x3_3", "branch7x7x3_4")
_V3_E = (
    "branch1x1",
    "branch3x3_1",
    "branch3x3_2a",
    "branch3x3_2b",
    "branch3x3dbl_1",
    "branch3x3dbl_2",
    "branch3x3dbl_3a",
    "branch3x3dbl_3b",
    "branch_pool",
)

# Inception-v4: `features.<i>` holds the stem (0–5) and the blocks (6–21). The stem starts with three bare
# conv layers (named by their index alone), then Mixed3a's conv, Mixed4a's two branches and Mixed5a's conv.
_V4_STEM = (("",), ("",), ("",), ("conv",), (*_seq("branch0", 2), *_seq("branch1", 4)), ("conv",))
_V4_A = ("branch0", *_seq("branch1", 2), *_seq("branch2", 3), "branch3.1")
_V4_REDUCTION_A = ("branch0", *_seq("branch1", 3))
_V4_B = ("branch0", *_seq("branch1", 3), *_seq("branch2", 5), "branch3.1")
_V4_REDUCTION_B = (*_seq("branch0", 2), *_seq("branch1", 4))
_V4_C = (
    "branch0",
    "branch1_0",
    "branch1_1a",
    "branch1_1b",
    "branch2_0",
    "branch2_1",
    "branch2_2",
    "branch2_3a",
    "branch2_3b",
    "branch3.1",
)

# Inception-ResNet-v2.
_IRV2_STEM = ("conv2d_1a", "conv2d_2a", "conv2d_2b", "conv2d_3b", "conv2d_4a")
_IRV2_MIXED_5B = ("branch0", *_seq("branch1", 2), *_seq("branch2", 3), "branch3.1")
_IRV2_BLOCK35 = ("branch0", *_seq("branch1", 2), *_seq("branch2", 3), "conv2d")
_IRV2_MIXED_6A = ("branch0", *_seq("branch1", 3))
_IRV2_BLOCK17 = ("branch0", *_seq("branch1", 3), "conv2d")
_IRV2_MIXED_7A = (*_seq("branch0", 2), *_seq("branch1", 2), *_seq("branch2", 3))
_IRV2_BLOCK8 = ("branch0", *_seq("branch1", 3), "conv2d")


def _in(block: str, layers: tuple[str, ...]) -> list[str]:
    return [f"{block}.{layer}" if layer else block for layer in layers]


def _v3_names(aux_head: bool) -> list[str]:
    names = list(_V3_STEM)
    for letter in "bcd":
        names += _in(f"Mixed_5{letter}", _V3_A)
    names += _in("Mixed_6a", _V3_B)
    for letter in "bcde":
        names += _in(f"Mixed_6{letter}", _V3_C)
    if aux_head:
        names += _in("AuxLogits", _V3_AUX)
    names += _in("Mixed_7a", _V3_D)
    for letter in "bc":
        names += _in(f"Mixed_7{letter}", _V3_E)
    return names


def _v4_names(aux_head: bool) -> list[str]:
    blocks = [*_V4_STEM, *[_V4_A] * 4, _V4_REDUCTION_A, *[_V4_B] * 7, _V4_REDUCTION_B, *[_V4_C] * 3]
    return [name for i, layers in enumerate(blocks) for name in _in(f"features.{i}", layers)]


def _irv2_names(aux_head: bool) -> list[str]:
    names = [*_IRV2_STEM, *_in("mixed_5b", _IRV2_MIXED_5B)]
    for i in range(10):
        names += _in(f"repeat.{i}", _IRV2_BLOCK35)
    names += _in("mixed_6a", _IRV2_MIXED_6A)
    for i in range(20):
        names += _in(f"repeat_1.{i}", _IRV2_BLOCK17)
    names += _in("mixed_7a", _IRV2_MIXED_7A)
    for i in range(9):
        names += _in(f"repeat_2.{i}", _IRV2_BLOCK8)
    return [*names, *_in("block8", _IRV2_BLOCK8), "conv2d_7b"]


# Layer names up to the classifier; only timm's Inception-v3 has an aux head.
_LAYER_NAMES = {"inception_v3": _v3_names, "inception_v4": _v4_names, "inception_resnet_v2": _irv2_names}


def timm_layer_names(model_name: str, aux_head: bool, num_classes: int) -> list[str]:
    """timm's layer names for `model_name`, in the order the Flax network runs the layers."""
    _check_supported(model_name)
    names = _LAYER_NAMES[model_name](aux_head)
    return names + [_CLASSIFIERS[model_name]] if num_classes else names


def timm_classifier(model_name: str) -> str:
    """The name of timm's classifier layer in `model_name` (its `pretrained_cfg["classifier"]`)."""
    _check_supported(model_name)
    return _CLASSIFIERS[model_name]


def timm_options(model_name: str, num_classes: int, aux_head: bool) -> dict:
    """The `create_model` options that make the network compute what timm's does."""
    return dict(
        num_classes=num_classes,
        aux_head=aux_head,
        bn_use_scale=True,
        bn_epsilon=1e-3,
        bn_momentum=0.9,
        dropout_rate=0.0,
        avg_pool_count_include_pad=model_name == "inception_v3",
    )


def from_timm(
    model_name: str, state_dict: Mapping[str, np.ndarray] | str | os.PathLike, input_overrides: Mapping | None = None
):
    """Builds the Flax network equivalent to timm's `model_name` and converts its weights.

    Args:
      model_name: "inception_v3", "inception_v4" or "inception_resnet_v2", optionally with timm's weight tag
        ("inception_resnet_v2.tf_in1k"), which picks the input spec (see `PRETRAINED_INPUTS`).
      state_dict: timm's keys mapped to arrays (numpy, or CPU torch tensors), or a path to a `.safetensors`,
        `.pth` or `.bin` file. The class count comes from the classifier (no classifier keys: `num_classes=0`);
        an Inception-v3 state_dict with `AuxLogits.*` keys turns the aux head on.
      input_overrides: InputSpec fields that replace the weight's own (e.g. `{"crop_fraction": 1.0}`).

    Returns:
      `(module, variables, spec)`; `module.apply(variables, images)` gives timm's logits for NHWC images
      prepared as `spec.input` says.

    Raises:
      WeightMismatchError: keys missing, unexpected or of the wrong shape (all are counted, some named).
    """
    input_spec = pretrained_input(model_name).replace(**(input_overrides or {}))
    model_name = model_name.partition(".")[0]
    state_dict = numpy_state_dict(state_dict)
    num_classes = classifier_outputs(state_dict, _CLASSIFIERS[model_name])
    aux_head = model_name == "inception_v3" and any(key.startswith("AuxLogits.") for key in state_dict)
    module = create_model(model_name, **timm_options(model_name, num_classes, aux_head))
    pairs = _paired(weight_layers(module), timm_layer_names(model_name, aux_head, num_classes))

    expected = {
        key: torch_shape(layer.shapes[field]) for layer, name in pairs for field, key in _keys(layer, name).items()
    }
    counters = {f"{name}.{_BATCH_COUNTER}" for layer, name in pairs if layer.kind == "conv_bn"}
    found = {key: value.shape for key, value in state_dict.items() if key not in counters}
    check_shapes(f"timm state_dict given for {model_name}", expected, found, _network_hint(model_name, found))
    arrays = [{field: to_flax(state_dict[key]) for field, key in _keys(layer, name).items()} for layer, name in pairs]
    return (
        module,
        to_variables([layer for layer, _ in pairs], arrays),
        ModelSpec.of_module(model_name, module, input_spec),
    )


def to_timm(model_name: str, variables, num_batches_tracked: int | None = 0) -> dict[str, np.ndarray]:
    """timm's state_dict (numpy arrays) for Flax `variables` of `model_name`, e.g. after fine-tuning in JAX.

    `variables` may come from any converter: without BatchNorm γ (Keras, slim) γ is written as 1.
    `num_batches_tracked` is written for every BatchNorm (int64), or left out when None;
    `to_timm(name, from_timm(name, sd)[1], n)` gives back `sd` exactly when all its counters are `n`.

    Raises:
      WeightMismatchError: `variables` do not fit the network (the leaves are named), or hold an aux head that
        timm's network lacks.
    """
    _check_supported(model_name)
    leaves = traverse_util.flatten_dict(variables["params"])
    num_classes = leaves[("Logits", "kernel")].shape[-1] if ("Logits", "kernel") in leaves else 0
    aux_head = any(key[0] == "AuxLogits" for key in leaves)
    if aux_head and model_name != "inception_v3":
        raise WeightMismatchError(
            f"timm's {model_name} has no aux head, but the variables hold one "
            "(params/AuxLogits). Drop it first: del variables['params']['AuxLogits']."
        )
    options = dict(
        timm_options(model_name, num_classes, aux_head), bn_use_scale=any(key[-2:] == ("bn", "scale") for key in leaves)
    )
    layers = weight_layers(create_model(model_name, **options))
    arrays = from_variables(layers, variables, f"variables given for timm's {model_name}")

    state_dict = {}
    for (layer, name), fields in zip(_paired(layers, timm_layer_names(model_name, aux_head, num_classes)), arrays):
        if layer.kind == "conv_bn" and "scale" not in fields:
            fields = {**fields, "scale": np.ones_like(fields["bias"])}
        for field, suffix in _SUFFIXES[layer.kind].items():
            state_dict[f"{name}.{suffix}"] = from_flax(fields[field])
        if layer.kind == "conv_bn" and num_batches_tracked is not None:
            state_dict[f"{name}.{_BATCH_COUNTER}"] = np.array(num_batches_tracked, np.int64)
    return state_dict


def _check_supported(model_name: str) -> None:
    if model_name not in _CLASSIFIERS:
        raise ValueError(f"timm has no counterpart of {model_name!r} here; supported: {', '.join(_CLASSIFIERS)}.")


def _paired(layers: list[WeightLayer], names: list[str]) -> list[tuple[WeightLayer, str]]:
    if len(layers) != len(names):
        raise RuntimeError(
            f"The Flax network runs {len(layers)} weight layers but the timm table lists "
            f"{len(names)}; inception_jax.convert.timm is out of date with the model code."
        )
    return list(zip(layers, names))


def _keys(layer: WeightLayer, name: str) -> dict[str, str]:
    """timm's key for each of the layer's Flax fields."""
    return {field: f"{name}.{_SUFFIXES[layer.kind][field]}" for field in layer.shapes}


def _network_hint(model_name: str, found: Mapping[str, tuple]) -> str:
    """Names the supported network whose layer names the found keys fit best, when it is not `model_name`."""
    layers = {key.rsplit(".", 2)[0] if ".conv." in key or ".bn." in key else key.rsplit(".", 1)[0] for key in found}
    overlap = {name: len(layers & set(timm_layer_names(name, aux_head=True, num_classes=1))) for name in _CLASSIFIERS}
    best = max(overlap, key=overlap.get)
    if overlap[best] > overlap[model_name]:
        return f"These keys look like timm's {best}: call from_timm({best!r}, ...)."
    return f"Pass the state_dict of timm's {model_name} (timm.create_model({model_name!r}).state_dict())."
