"""torchvision ↔ inception_jax: `from_torchvision` loads a torchvision state_dict into the equivalent Flax network,
and `to_torchvision` writes Flax variables back as torchvision's state_dict.

Networks: alexnet, vgg11/13/16/19, googlenet, resnet18/34/50/101/152. Each network's torchvision layer names are
listed below in the order the Flax network runs its layers and paired with them one to one (see
`weight_layers`). Per layer:

    conv + bias   <name>.weight (OIHW → HWIO), <name>.bias
    conv + BN     <conv>.weight, <bn>.{weight, bias, running_mean, running_var} → conv/kernel, bn/{scale, bias},
                  batch_stats bn/{mean, var}; `num_batches_tracked` is optional and ignored
    linear        <name>.weight ((out, in) → (in, out)), <name>.bias. The first linear layer after a conv grid
                  (AlexNet's and VGG's fc6, GoogLeNet's side fc) also reorders its inputs from PyTorch's
                  channel-major flattening to the Flax network's (height, width, channel) order.

The returned module computes what torchvision's does, which is not always the paper's network:
  * alexnet: the one-tower variant (64/192/384/256/256 filters, no LRN, no groups; `alexnet.TORCHVISION_OPTIONS`).
  * googlenet: conv-BN-ReLU layers, 3×3 where the paper has 5×5, a 2×2 pool before 5a
    (`googlenet.TORCHVISION_OPTIONS`); dropout 0.2; the side classifiers when the state_dict has them.
  * resnet50/101/152: "v1.5", the stride on the bottleneck's 3×3 (`stride_on_3x3=True`).
BatchNorm momentum 0.9 is PyTorch's 0.1 (Flax keeps its momentum of the old average).

Inputs: NHWC, prepared as torchvision's weights expect (`TORCHVISION_INPUT`: shorter side 256, central 224²,
bilinear, ImageNet mean/std), which the returned spec records. The exception is GoogLeNet: torchvision's
pretrained googlenet has `transform_input=True`, which maps mean/std-normalized images to [-1, 1] before its first
layer; this module has no such step, so its spec asks for [-1, 1] images (mean = std = 0.5).
"""

from __future__ import annotations

import os
from typing import Mapping, NamedTuple

import numpy as np
from flax import traverse_util

from inception_jax.convert.mismatch import check_shapes
from inception_jax.convert.pytorch_layout import classifier_outputs, from_flax, numpy_state_dict, to_flax, torch_shape
from inception_jax.convert.weight_layers import WeightLayer, from_variables, to_variables, weight_layers
from inception_jax.models import alexnet, create_model, googlenet, vgg
from inception_jax.models.resnet import IMAGENET_DEPTHS
from inception_jax.spec import INCEPTION_MEAN, INCEPTION_STD, TORCHVISION_INPUT, InputSpec, ModelSpec


class TorchLayer(NamedTuple):
    """Where one Flax weight layer's arrays live in torchvision's state_dict."""

    name: str  # the conv or linear module
    bn: str | None = None  # the BatchNorm after the conv, for conv-BN layers
    grid: int = 0  # a linear layer fed by a flattened grid×grid feature map: its inputs are reordered


_BN_SUFFIXES = {"scale": "weight", "bias": "bias", "mean": "running_mean", "var": "running_var"}
_BATCH_COUNTER = "num_batches_tracked"


_CLASSIFIERS = {
    "alexnet": "classifier.6",
    "vgg11": "classifier.6",
    "vgg13": "classifier.6",
    "vgg16": "classifier.6",
    "vgg19": "classifier.6",
    "googlenet": "fc",
    **{f"resnet{depth}": "fc" for depth in IMAGENET_DEPTHS},
}
_VGG_CONFIGURATIONS = {"vgg11": "A", "vgg13": "B", "vgg16": "D", "vgg19": "E"}


def _alexnet_layers() -> list[TorchLayer]:
    convs = [TorchLayer(f"features.{i}") for i in (0, 3, 6, 8, 10)]
    return [*convs, TorchLayer("classifier.1", grid=6), TorchLayer("classifier.4")]


def _vgg_layers(configuration: str) -> list[TorchLayer]:
    layers, index = [], 0
    for kernels in vgg.CONFIGURATIONS[configuration]:
        for _ in kernels:
            layers.append(TorchLayer(f"features.{index}"))
            index += 2  # Conv2d, ReLU
        index += 1  # MaxPool2d
    return [*layers, TorchLayer("classifier.0", grid=7), TorchLayer("classifier.3")]


def _googlenet_layers(aux_logits: bool) -> list[TorchLayer]:
    def conv_bn(name: str) -> TorchLayer:  # torchvision's BasicConv2d
        return TorchLayer(f"{name}.conv", f"{name}.bn")

    def inception(name: str) -> list[TorchLayer]:
        return [
            conv_bn(f"{name}.{branch}")
            for branch in ("branch1", "branch2.0", "branch2.1", "branch3.0", "branch3.1", "branch4.1")
        ]

    def side_classifier(name: str) -> list[TorchLayer]:
        if not aux_logits:
            return []
        return [conv_bn(f"{name}.conv"), TorchLayer(f"{name}.fc1", grid=4), TorchLayer(f"{name}.fc2")]

    return [
        conv_bn("conv1"),
        conv_bn("conv2"),
        conv_bn("conv3"),
        *inception("inception3a"),
        *inception("inception3b"),
        *inception("inception4a"),
        *side_classifier("aux1"),
        *inception("inception4b"),
        *inception("inception4c"),
        *inception("inception4d"),
        *side_classifier("aux2"),
        *inception("inception4e"),
        *inception("inception5a"),
        *inception("inception5b"),
    ]


def _resnet_layers(depth: int) -> list[TorchLayer]:
    block_counts, bottleneck = IMAGENET_DEPTHS[depth]
    layers = [TorchLayer("conv1", "bn1")]
    for stage, count in enumerate(block_counts, start=1):
        for index in range(count):
            block = f"layer{stage}.{index}"
            layers += [TorchLayer(f"{block}.conv{i}", f"{block}.bn{i}") for i in range(1, 4 if bottleneck else 3)]
            if index == 0 and (stage > 1 or bottleneck):  # the blocks that change the shape project
                layers.append(TorchLayer(f"{block}.downsample.0", f"{block}.downsample.1"))
    return layers


def torchvision_layers(model_name: str, num_classes: int, aux_logits: bool = False) -> list[TorchLayer]:
    """torchvision's layers of `model_name`, in the order the Flax network runs them."""
    _check_supported(model_name)
    if model_name == "alexnet":
        layers = _alexnet_layers()
    elif model_name in _VGG_CONFIGURATIONS:
        layers = _vgg_layers(_VGG_CONFIGURATIONS[model_name])
    elif model_name == "googlenet":
        layers = _googlenet_layers(aux_logits)
    else:
        layers = _resnet_layers(int(model_name.removeprefix("resnet")))
    return [*layers, TorchLayer(_CLASSIFIERS[model_name])] if num_classes else layers


def torchvision_options(model_name: str, num_classes: int, aux_logits: bool = False) -> dict:
    """The `create_model` options that make the network compute what torchvision's `model_name` does."""
    _check_supported(model_name)
    if model_name == "alexnet":
        return dict(alexnet.TORCHVISION_OPTIONS, num_classes=num_classes)
    if model_name == "googlenet":
        return dict(
            googlenet.TORCHVISION_OPTIONS,
            num_classes=num_classes,
            aux_head=aux_logits,
            bn_momentum=0.9,
            dropout_rate=0.2,
        )
    if model_name.startswith("resnet"):
        return dict(num_classes=num_classes, stride_on_3x3=True)
    return dict(num_classes=num_classes)


def torchvision_shapes(model_name: str, num_classes: int = 1000, aux_logits: bool = False) -> dict[str, tuple]:
    """The state_dict keys `from_torchvision` expects for `model_name`, with their shapes (batch counters aside)."""
    return _expected_shapes(_build(model_name, num_classes, aux_logits)[1])


def torchvision_input(model_name: str) -> InputSpec:
    """How torchvision's weights for `model_name` expect their images (GoogLeNet's transform_input included)."""
    if model_name == "googlenet":
        return TORCHVISION_INPUT.replace(mean=INCEPTION_MEAN, std=INCEPTION_STD)
    return TORCHVISION_INPUT


def from_torchvision(
    model_name: str, state_dict: Mapping[str, np.ndarray] | str | os.PathLike, input_overrides: Mapping | None = None
):
    """Builds the Flax network equivalent to torchvision's `model_name` and converts its weights.

    Args:
      model_name: "alexnet", "vgg11", "vgg13", "vgg16", "vgg19", "googlenet" or "resnet18" … "resnet152".
      state_dict: torchvision's keys mapped to arrays (numpy, or CPU torch tensors), or a path to a
        `.safetensors`, `.pth` or `.bin` file. The class count comes from the classifier (no classifier keys:
        `num_classes=0`); a googlenet state_dict with `aux1.*`/`aux2.*` keys turns the side classifiers on.
      input_overrides: InputSpec fields that replace torchvision's (e.g. `{"interpolation": "bicubic"}`).

    Returns:
      `(module, variables, spec)`; `module.apply(variables, images)` gives torchvision's eval-mode logits for
      NHWC images prepared as `spec.input` says.

    Raises:
      WeightMismatchError: keys missing, unexpected or of the wrong shape (all are counted, some named).
    """
    _check_supported(model_name)
    state_dict = numpy_state_dict(state_dict)
    num_classes = classifier_outputs(state_dict, _CLASSIFIERS[model_name])
    aux_logits = model_name == "googlenet" and any(key.startswith(("aux1.", "aux2.")) for key in state_dict)
    module, pairs = _build(model_name, num_classes, aux_logits)

    found = {key: value.shape for key, value in state_dict.items() if not key.endswith(f".{_BATCH_COUNTER}")}
    check_shapes(
        f"torchvision state_dict given for {model_name}",
        _expected_shapes(pairs),
        found,
        _network_hint(model_name, found),
    )
    arrays = [
        {
            field: _to_flax_layout(state_dict[key], torch_layer.grid if field == "kernel" else 0)
            for field, key in _keys(layer, torch_layer).items()
        }
        for layer, torch_layer in pairs
    ]
    spec = ModelSpec.of_module(model_name, module, torchvision_input(model_name).replace(**(input_overrides or {})))
    return module, to_variables([layer for layer, _ in pairs], arrays), spec


def to_torchvision(model_name: str, variables, num_batches_tracked: int | None = 0) -> dict[str, np.ndarray]:
    """torchvision's state_dict (numpy arrays) for Flax `variables` of the network `from_torchvision` builds,
    e.g. after fine-tuning in JAX: `torchvision.models.<model_name>().load_state_dict` takes it (as tensors).

    `num_batches_tracked` is written for every BatchNorm (int64), or left out when None;
    `to_torchvision(name, from_torchvision(name, sd)[1], n)` gives back `sd` exactly when its counters are `n`.
    The class count and GoogLeNet's side classifiers are read from `variables`.

    Raises:
      WeightMismatchError: `variables` do not fit torchvision's network (the leaves are named).
    """
    _check_supported(model_name)
    leaves = traverse_util.flatten_dict(variables["params"])
    num_classes = leaves[("Logits", "kernel")].shape[-1] if ("Logits", "kernel") in leaves else 0
    aux_logits = model_name == "googlenet" and any(key[0].startswith("AuxLogits") for key in leaves)
    _, pairs = _build(model_name, num_classes, aux_logits)
    arrays = from_variables([layer for layer, _ in pairs], variables, f"variables given for torchvision's {model_name}")
    state_dict = {}
    for (layer, torch_layer), fields in zip(pairs, arrays):
        for field, key in _keys(layer, torch_layer).items():
            state_dict[key] = _from_flax_layout(fields[field], torch_layer.grid if field == "kernel" else 0)
        if layer.kind == "conv_bn" and num_batches_tracked is not None:
            state_dict[f"{torch_layer.bn}.{_BATCH_COUNTER}"] = np.array(num_batches_tracked, np.int64)
    return state_dict


def _build(model_name: str, num_classes: int, aux_logits: bool):
    """The Flax network matching torchvision's, and its weight layers paired with torchvision's."""
    module = create_model(model_name, **torchvision_options(model_name, num_classes, aux_logits))
    layers, torch_layers = weight_layers(module), torchvision_layers(model_name, num_classes, aux_logits)
    if len(layers) != len(torch_layers):
        raise RuntimeError(
            f"The Flax network runs {len(layers)} weight layers but the torchvision table lists "
            f"{len(torch_layers)}; inception_jax.convert.torchvision is out of date with the models."
        )
    return module, list(zip(layers, torch_layers))


def _expected_shapes(pairs: list[tuple[WeightLayer, TorchLayer]]) -> dict[str, tuple]:
    return {
        key: torch_shape(layer.shapes[field])
        for layer, torch_layer in pairs
        for field, key in _keys(layer, torch_layer).items()
    }


def _check_supported(model_name: str) -> None:
    if model_name not in _CLASSIFIERS:
        raise ValueError(
            f"torchvision has no counterpart of {model_name!r} here; supported: {', '.join(_CLASSIFIERS)}."
        )


def _keys(layer: WeightLayer, torch_layer: TorchLayer) -> dict[str, str]:
    """torchvision's key for each of the layer's Flax fields."""
    if layer.kind == "conv_bn":
        return {
            field: f"{torch_layer.name}.weight" if field == "kernel" else f"{torch_layer.bn}.{_BN_SUFFIXES[field]}"
            for field in layer.shapes
        }
    return {field: f"{torch_layer.name}.{'weight' if field == 'kernel' else 'bias'}" for field in layer.shapes}


def _to_flax_layout(array: np.ndarray, grid: int) -> np.ndarray:
    if grid:  # (out, C·g·g) flattened channel-major → (g·g·C, out) flattened as the NHWC map is
        out_features = array.shape[0]
        return array.reshape(out_features, -1, grid, grid).transpose(2, 3, 1, 0).reshape(-1, out_features)
    return to_flax(array)


def _from_flax_layout(array: np.ndarray, grid: int) -> np.ndarray:
    if grid:  # inverse of `_to_flax_layout`
        out_features = array.shape[-1]
        return np.ascontiguousarray(
            array.reshape(grid, grid, -1, out_features).transpose(3, 2, 0, 1).reshape(out_features, -1)
        )
    return from_flax(array)


def _network_hint(model_name: str, found: Mapping[str, tuple]) -> str:
    """Names the supported network whose layer names the found keys fit best, when it is not `model_name`."""
    modules = {key.rsplit(".", 1)[0] for key in found}

    def overlap(name: str) -> int:
        names = {n for layer in torchvision_layers(name, 1, aux_logits=True) for n in (layer.name, layer.bn) if n}
        return len(modules & names) - len(modules ^ names)

    best = max(_CLASSIFIERS, key=overlap)
    if overlap(best) > overlap(model_name):
        return f"These keys look like torchvision's {best}: call from_torchvision({best!r}, ...)."
    return f"Pass the state_dict of torchvision's {model_name} (torchvision.models.{model_name}().state_dict())."
