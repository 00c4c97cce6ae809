"""TF-slim checkpoints → inception_jax: `from_slim` converts the authors' released `inception_v3`, `inception_v4`
and `inception_resnet_v2` checkpoints (and any checkpoint of slim's `nets/` definitions).

slim's variable scopes mostly read like the Flax module paths, but not always (`Conv2d_1a_1x1` for a 3×3 conv,
`Conv_1_0c_5x5`, `Repeat_1/block17_3`), so each network's scopes are listed below in the order the Flax network
runs its layers and paired with them one to one (see `weight_layers`). Per layer:

    conv + BN    <scope>/weights (HWIO), <scope>/BatchNorm/{beta, moving_mean, moving_variance} (+ gamma if any)
    residual     <scope>/weights, <scope>/biases
    classifier   <scope>/weights ((in, out); Inception-v3's are 1×1 convs, (1, 1, in, out)), <scope>/biases

The released checkpoints have 1001 classes, class 0 being "background"; its logit (and aux logit) is dropped
unless `keep_background=True`. The module keeps slim's training set-up: BatchNorm without γ, ε 1e-3, momentum
0.9997, dropout 0.2, TF average pools that exclude padding, and the aux head when the checkpoint has one.
"""
from __future__ import annotations

import os

import numpy as np

from inception_jax.artifacts import INCEPTION_INPUT, ModelSpec
from inception_jax.convert.mismatch import check_shapes
from inception_jax.convert.weight_layers import WeightLayer, to_variables, weight_layers
from inception_jax.models import create_model

# The variable scope of each network in slim's checkpoints.
_SCOPES = {"inception_v3": "InceptionV3", "inception_v4": "InceptionV4", "inception_resnet_v2": "InceptionResnetV2"}
# slim's variable names per layer kind and Flax field.
_SUFFIXES = {
    "conv_bn": {"kernel": "weights", "scale": "BatchNorm/gamma", "bias": "BatchNorm/beta",
                "mean": "BatchNorm/moving_mean", "var": "BatchNorm/moving_variance"},
    "conv": {"kernel": "weights", "bias": "biases"},
    "dense": {"kernel": "weights", "bias": "biases"},
}
# ImageNet with slim's extra "background" class 0.
_CLASSES_WITH_BACKGROUND = 1001


def _branches(*branches: tuple[str, ...]) -> tuple[str, ...]:
    """Scopes `Branch_i/<layer>` for the layers of each branch, branches in concatenation order."""
    return tuple(f"Branch_{i}/{layer}" for i, layers in enumerate(branches) for layer in layers)


# Inception-v3 (nets/inception_v3.py): its 35×35 and 8×8 blocks name their layers inconsistently.
_V3_STEM = ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "Conv2d_3b_1x1", "Conv2d_4a_3x3")
_V3_5B = _branches(("Conv2d_0a_1x1",), ("Conv2d_0a_1x1", "Conv2d_0b_5x5"),
                   ("Conv2d_0a_1x1", "Conv2d_0b_3x3", "Conv2d_0c_3x3"), ("Conv2d_0b_1x1",))
_V3_5C = _branches(("Conv2d_0a_1x1",), ("Conv2d_0b_1x1", "Conv_1_0c_5x5"),
                   ("Conv2d_0a_1x1", "Conv2d_0b_3x3", "Conv2d_0c_3x3"), ("Conv2d_0b_1x1",))
_V3_6A = _branches(("Conv2d_1a_1x1",), ("Conv2d_0a_1x1", "Conv2d_0b_3x3", "Conv2d_1a_1x1"))
_V3_6B = _branches(("Conv2d_0a_1x1",), ("Conv2d_0a_1x1", "Conv2d_0b_1x7", "Conv2d_0c_7x1"),
                   ("Conv2d_0a_1x1", "Conv2d_0b_7x1", "Conv2d_0c_1x7", "Conv2d_0d_7x1", "Conv2d_0e_1x7"),
                   ("Conv2d_0b_1x1",))
_V3_AUX = ("Conv2d_1b_1x1", "Conv2d_2a_5x5", "Conv2d_2b_1x1")
_V3_7A = _branches(("Conv2d_0a_1x1", "Conv2d_1a_3x3"),
                   ("Conv2d_0a_1x1", "Conv2d_0b_1x7", "Conv2d_0c_7x1", "Conv2d_1a_3x3"))
_V3_7B = _branches(("Conv2d_0a_1x1",), ("Conv2d_0a_1x1", "Conv2d_0b_1x3", "Conv2d_0b_3x1"),
                   ("Conv2d_0a_1x1", "Conv2d_0b_3x3", "Conv2d_0c_1x3", "Conv2d_0d_3x1"), ("Conv2d_0b_1x1",))
_V3_7C = _branches(("Conv2d_0a_1x1",), ("Conv2d_0a_1x1", "Conv2d_0b_1x3", "Conv2d_0c_3x1"),
                   ("Conv2d_0a_1x1", "Conv2d_0b_3x3", "Conv2d_0c_1x3", "Conv2d_0d_3x1"), ("Conv2d_0b_1x1",))

# Inception-v4 (nets/inception_v4.py).
_V4_STEM = ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3",
            *(f"Mixed_3a/{layer}" for layer in _branches((), ("Conv2d_0a_3x3",))),
            *(f"Mixed_4a/{layer}" for layer in _branches(("Conv2d_0a_1x1", "Conv2d_1a_3x3"),
                                                         ("Conv2d_0a_1x1", "Conv2d_0b_1x7", "Conv2d_0c_7x1",
                                                          "Conv2d_1a_3x3"))),
            *(f"Mixed_5a/{layer}" for layer in _branches(("Conv2d_1a_3x3",))))
_V4_A = _branches(("Conv2d_0a_1x1",), ("Conv2d_0a_1x1", "Conv2d_0b_3x3"),
                  ("Conv2d_0a_1x1", "Conv2d_0b_3x3", "Conv2d_0c_3x3"), ("Conv2d_0b_1x1",))
_V4_REDUCTION_A = _branches(("Conv2d_1a_3x3",), ("Conv2d_0a_1x1", "Conv2d_0b_3x3", "Conv2d_1a_3x3"))
_V4_B = _branches(("Conv2d_0a_1x1",), ("Conv2d_0a_1x1", "Conv2d_0b_1x7", "Conv2d_0c_7x1"),
                  ("Conv2d_0a_1x1", "Conv2d_0b_7x1", "Conv2d_0c_1x7", "Conv2d_0d_7x1", "Conv2d_0e_1x7"),
                  ("Conv2d_0b_1x1",))
_V4_AUX = ("Conv2d_1b_1x1", "Conv2d_2a", "Aux_logits")
_V4_REDUCTION_B = _branches(("Conv2d_0a_1x1", "Conv2d_1a_3x3"),
                            ("Conv2d_0a_1x1", "Conv2d_0b_1x7", "Conv2d_0c_7x1", "Conv2d_1a_3x3"))
_V4_C = _branches(("Conv2d_0a_1x1",), ("Conv2d_0a_1x1", "Conv2d_0b_1x3", "Conv2d_0c_3x1"),
                  ("Conv2d_0a_1x1", "Conv2d_0b_3x1", "Conv2d_0c_1x3", "Conv2d_0d_1x3", "Conv2d_0e_3x1"),
                  ("Conv2d_0b_1x1",))

# Inception-ResNet-v2 (nets/inception_resnet_v2.py): `slim.repeat` puts the residual blocks under
# Repeat/block35_<1..10>, Repeat_1/block17_<1..20> and Repeat_2/block8_<1..9>; the last one is Block8.
_IRV2_5B = _branches(("Conv2d_1x1",), ("Conv2d_0a_1x1", "Conv2d_0b_5x5"),
                     ("Conv2d_0a_1x1", "Conv2d_0b_3x3", "Conv2d_0c_3x3"), ("Conv2d_0b_1x1",))
_IRV2_BLOCK35 = (*_branches(("Conv2d_1x1",), ("Conv2d_0a_1x1", "Conv2d_0b_3x3"),
                            ("Conv2d_0a_1x1", "Conv2d_0b_3x3", "Conv2d_0c_3x3")), "Conv2d_1x1")
_IRV2_6A = _branches(("Conv2d_1a_3x3",), ("Conv2d_0a_1x1", "Conv2d_0b_3x3", "Conv2d_1a_3x3"))
_IRV2_BLOCK17 = (*_branches(("Conv2d_1x1",), ("Conv2d_0a_1x1", "Conv2d_0b_1x7", "Conv2d_0c_7x1")), "Conv2d_1x1")
_IRV2_AUX = ("Conv2d_1b_1x1", "Conv2d_2a_5x5", "Logits")
_IRV2_7A = _branches(("Conv2d_0a_1x1", "Conv2d_1a_3x3"), ("Conv2d_0a_1x1", "Conv2d_1a_3x3"),
                     ("Conv2d_0a_1x1", "Conv2d_0b_3x3", "Conv2d_1a_3x3"))
_IRV2_BLOCK8 = (*_branches(("Conv2d_1x1",), ("Conv2d_0a_1x1", "Conv2d_0b_1x3", "Conv2d_0c_3x1")), "Conv2d_1x1")


def _in(block: str, layers: tuple[str, ...]) -> list[str]:
    return [f"{block}/{layer}" for layer in layers]


def _v3_scopes(aux_head: bool) -> list[str]:  # up to the classifier, like the two below
    scopes = [*_V3_STEM, *_in("Mixed_5b", _V3_5B), *_in("Mixed_5c", _V3_5C), *_in("Mixed_5d", _V3_5B),
              *_in("Mixed_6a", _V3_6A)]
    for letter in "bcde":
        scopes += _in(f"Mixed_6{letter}", _V3_6B)
    if aux_head:
        scopes += _in("AuxLogits", _V3_AUX)
    return [*scopes, *_in("Mixed_7a", _V3_7A), *_in("Mixed_7b", _V3_7B), *_in("Mixed_7c", _V3_7C)]


def _v4_scopes(aux_head: bool) -> list[str]:
    scopes = list(_V4_STEM)
    for letter in "bcde":
        scopes += _in(f"Mixed_5{letter}", _V4_A)
    scopes += _in("Mixed_6a", _V4_REDUCTION_A)
    for letter in "bcdefgh":
        scopes += _in(f"Mixed_6{letter}", _V4_B)
    if aux_head:
        scopes += _in("AuxLogits", _V4_AUX)
    scopes += _in("Mixed_7a", _V4_REDUCTION_B)
    for letter in "bcd":
        scopes += _in(f"Mixed_7{letter}", _V4_C)
    return scopes


def _irv2_scopes(aux_head: bool) -> list[str]:
    scopes = [*_V3_STEM, *_in("Mixed_5b", _IRV2_5B)]
    for i in range(1, 11):
        scopes += _in(f"Repeat/block35_{i}", _IRV2_BLOCK35)
    scopes += _in("Mixed_6a", _IRV2_6A)
    for i in range(1, 21):
        scopes += _in(f"Repeat_1/block17_{i}", _IRV2_BLOCK17)
    if aux_head:
        scopes += _in("AuxLogits", _IRV2_AUX)
    scopes += _in("Mixed_7a", _IRV2_7A)
    for i in range(1, 10):
        scopes += _in(f"Repeat_2/block8_{i}", _IRV2_BLOCK8)
    return [*scopes, *_in("Block8", _IRV2_BLOCK8), "Conv2d_7b_1x1"]


_LAYER_SCOPES = {"inception_v3": _v3_scopes, "inception_v4": _v4_scopes, "inception_resnet_v2": _irv2_scopes}
_CLASSIFIERS = {"inception_v3": "Logits/Conv2d_1c_1x1", "inception_v4": "Logits/Logits",
                "inception_resnet_v2": "Logits/Logits"}
# Inception-v3's classifiers are 1×1 convs in slim.
_CONV_CLASSIFIERS = {"Logits/Conv2d_1c_1x1", "AuxLogits/Conv2d_2b_1x1"}


def slim_layer_scopes(model_name: str, aux_head: bool, num_classes: int) -> list[str]:
    """slim's variable scopes of `model_name`'s layers (with the network scope), in the order Flax runs them."""
    _check_supported(model_name)
    scopes = _LAYER_SCOPES[model_name](aux_head) + ([_CLASSIFIERS[model_name]] if num_classes else [])
    return [f"{_SCOPES[model_name]}/{scope}" for scope in scopes]


def _check_supported(model_name: str) -> None:
    if model_name not in _SCOPES:
        raise ValueError(f"slim has no checkpoints of {model_name!r} here; supported: {', '.join(_SCOPES)}.")


def from_slim(model_name: str, checkpoint_path: str | os.PathLike, keep_background: bool = False,
              input_overrides=None):
    """Builds the Flax network for a TF-slim checkpoint and converts its weights.

    Args:
      model_name: "inception_v3", "inception_v4" or "inception_resnet_v2".
      checkpoint_path: the checkpoint prefix (`.../inception_v4.ckpt`) or its directory.
      keep_background: keep the 1001st class (slim's class 0, "background") of ImageNet checkpoints. By default
        it is dropped, leaving the 1000 ImageNet classes in their usual order. Other class counts are kept as is.
      input_overrides: InputSpec fields that replace slim's evaluation input (`INCEPTION_INPUT`: central 87.5%,
        bilinear, [-1, 1]; slim's own image size is 224 for the networks before Inception-v3).

    The aux head is converted when the checkpoint has one. Variables outside the network's scope (`global_step`)
    and those named after a network variable plus a suffix (optimizer slots such as `.../weights/RMSProp`, moving
    averages `.../ExponentialMovingAverage`) are not weights and are skipped.

    Returns:
      `(module, variables, spec)`; `module.apply(variables, images)` gives the checkpoint's logits.

    Raises:
      WeightMismatchError: variables missing, unexpected or of the wrong shape (all are counted, some named).
    """
    try:
        import tensorflow as tf
    except ImportError as error:
        raise ImportError("Reading TF-slim checkpoints needs TensorFlow: pip install tensorflow-cpu") from error

    _check_supported(model_name)
    path = os.fspath(checkpoint_path)
    reader = tf.train.load_checkpoint(path)
    scope = _SCOPES[model_name]
    everything = reader.get_variable_to_shape_map()
    stored = {name: tuple(shape) for name, shape in everything.items() if name.startswith(f"{scope}/")}

    logits = f"{scope}/{_CLASSIFIERS[model_name]}"
    classes = stored.get(f"{logits}/biases", stored.get(f"{logits}/weights", (0,)))[-1]
    background = int(classes == _CLASSES_WITH_BACKGROUND and not keep_background)
    aux_head = any(name.startswith(f"{scope}/AuxLogits/") for name in stored)
    module = create_model(model_name, num_classes=classes - background, aux_head=aux_head,
                          bn_use_scale=any(name.endswith("/BatchNorm/gamma") for name in stored))
    layers = weight_layers(module)
    scopes = slim_layer_scopes(model_name, aux_head, classes)
    if len(layers) != len(scopes):
        raise RuntimeError(f"The Flax network runs {len(layers)} weight layers but the slim table lists "
                           f"{len(scopes)}; inception_jax.convert.slim is out of date with the model code.")

    per_layer = [_stored_shapes(layer, layer_scope, background) for layer, layer_scope in zip(layers, scopes)]
    expected = {name: shape for layer_shapes in per_layer for name, shape in layer_shapes.items()}
    # Optimizer slots and moving averages are named after the variable they belong to.
    weights = {name: shape for name, shape in stored.items() if name.rsplit("/", 1)[0] not in expected}
    top_scopes = sorted({name.split("/", 1)[0] for name in everything if "/" in name})
    check_shapes(f"slim checkpoint {path} read as {model_name}", expected, weights,
                 f"Pass a checkpoint of slim's {model_name}, whose variables are under {scope}/ "
                 f"(this one has scopes: {', '.join(top_scopes) or 'none'}).")
    arrays = [{field: _to_flax(layer, reader.get_tensor(name), background)
               for field, name in zip(layer.shapes, layer_shapes)} for layer, layer_shapes in zip(layers, per_layer)]
    input_spec = INCEPTION_INPUT.replace(image_size=module.default_size, **(input_overrides or {}))
    return module, to_variables(layers, arrays), ModelSpec.of_module(model_name, module, input_spec)


def _stored_shapes(layer: WeightLayer, scope: str, background: int) -> dict[str, tuple[int, ...]]:
    """The checkpoint's variable names and shapes for one layer, in the order of the layer's Flax fields."""
    shapes = {}
    for field, shape in layer.shapes.items():
        if layer.kind == "dense":
            shape = (*shape[:-1], shape[-1] + background)
            if field == "kernel" and scope.split("/", 1)[1] in _CONV_CLASSIFIERS:
                shape = (1, 1, *shape)
        shapes[f"{scope}/{_SUFFIXES[layer.kind][field]}"] = shape
    return shapes


def _to_flax(layer: WeightLayer, array: np.ndarray, background: int) -> np.ndarray:
    if layer.kind == "dense":
        return array.reshape(-1, array.shape[-1])[..., background:] if array.ndim > 1 else array[background:]
    return array
