"""TF-slim checkpoints → inception_jax: `from_slim` converts the authors' released `inception_v3`, `inception_v4`
and `inception_resnet_v2` checkpoints, and those of slim's `inception_v2` (→ `bn_inception`) and `inception_v1`
(BN-GoogLeNet → `googlenet` with `googlenet.SLIM_OPTIONS`), or any checkpoint of these slim `nets/` definitions.

slim's variable scopes mostly read like the Flax module paths, but not always (`Conv2d_1a_1x1` for a 3×3 conv,
`Conv_1_0c_5x5`, `Repeat_1/block17_3`), so each network's scopes are listed below in the order the Flax network
runs its layers and paired with them one to one (see `weight_layers`). Per layer:

    conv + BN    <scope>/weights (HWIO), <scope>/BatchNorm/{beta, moving_mean, moving_variance} (+ gamma if any)
    residual     <scope>/weights, <scope>/biases
    classifier   <scope>/weights ((in, out); 1×1 convs (1, 1, in, out) except in v4 and IR-v2), <scope>/biases
    separable    Inception-v2's first conv: <scope>/depthwise_weights (7, 7, 3, 8) → the depthwise conv's
                 (7, 7, 1, 24); <scope>/pointwise_weights, <scope>/biases → the pointwise conv

The released checkpoints have 1001 classes, class 0 being "background"; its logit (and aux logit) is dropped
unless `keep_background=True`. The module keeps slim's training set-up: BatchNorm without γ, ε 1e-3, momentum
0.9997, dropout 0.2, TF average pools that exclude padding, and the aux head when the checkpoint has one.
"""

from __future__ import annotations

import os

import numpy as np

from inception_jax.convert.mismatch import check_shapes
from inception_jax.convert.weight_layers import WeightLayer, to_variables, weight_layers
from inception_jax.models import create_model, googlenet
from inception_jax.spec import INCEPTION_INPUT, ModelSpec

# The variable scope of each network in slim's checkpoints.
_SCOPES = {
    "inception_v3": "InceptionV3",
    "inception_v4": "InceptionV4",
    "inception_resnet_v2": "InceptionResnetV2",
    "bn_inception": "InceptionV2",
    "googlenet": "InceptionV1",
}
# slim's variable names per layer kind and Flax field.
_SUFFIXES = {
    "conv_bn": {
        "kernel": "weights",
        "scale": "BatchNorm/gamma",
        "bias": "BatchNorm/beta",
        "mean": "BatchNorm/moving_mean",
        "var": "BatchNorm/moving_variance",
    },
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
_V3_5B = _branches(
    ("Conv2d_0a_1x1",),
    ("Conv2d_0a_1x1", "Conv2d_0b_5x5"),
    ("Conv2d_0a_1x1", "Conv2d_0b_3x3", "Conv2d_0c_3x3"),
    ("Conv2d_0b_1x1",),
)
_V3_5C = _branches(
    ("Conv2d_0a_1x1",),
    ("Conv2d_0b_1x1", "Conv_1_0c_5x5"),
    ("Conv2d_0a_1x1", "Conv2d_0b_3x3", "Conv2d_0c_3x3"),
    ("Conv2d_0b_1x1",),
)
_V3_6A = _branches(("Conv2d_1a_1x1",), ("Conv2d_0a_1x1", "Conv2d_0b_3x3", "Conv2d_1a_1x1"))
_V3_6B = _branches(
    ("Conv2d_0a_1x1",),
    ("Conv2d_0a_1x1", "Conv2d_0b_1x7", "Conv2d_0c_7x1"),
    ("Conv2d_0a_1x1", "Conv2d_0b_7x1", "Conv2d_0c_1x7", "Conv2d_0d_7x1", "Conv2d_0e_1x7"),
    ("Conv2d_0b_1x1",),
)
_V3_AUX = ("Conv2d_1b_1x1", "Conv2d_2a_5x5", "Conv2d_2b_1x1")
_V3_7A = _branches(
    ("Conv2d_0a_1x1", "Conv2d_1a_3x3"), ("Conv2d_0a_1x1", "Conv2d_0b_1x7", "Conv2d_0c_7x1", "Conv2d_1a_3x3")
)
_V3_7B = _branches(
    ("Conv2d_0a_1x1",),
    ("Conv2d_0a_1x1", "Conv2d_0b_1x3", "Conv2d_0b_3x1"),
    ("Conv2d_0a_1x1", "Conv2d_0b_3x3", "Conv2d_0c_1x3", "Conv2d_0d_3x1"),
    ("Conv2d_0b_1x1",),
)
_V3_7C = _branches(
    ("Conv2d_0a_1x1",),
    ("Conv2d_0a_1x1", "Conv2d_0b_1x3", "Conv2d_0c_3x1"),
    ("Conv2d_0a_1x1", "Conv2d_0b_3x3", "Conv2d_0c_1x3", "Conv2d_0d_3x1"),
    ("Conv2d_0b_1x1",),
)

# Inception-v4 (nets/inception_v4.py).
_V4_STEM = (
    "Conv2d_1a_3x3",
    "Conv2d_2a_3x3",
    "Conv2d_2b_3x3",
    *(f"Mixed_3a/{layer}" for layer in _branches((), ("Conv2d_0a_3x3",))),
    *(
        f"Mixed_4a/{layer}"
        for layer in _branches(
            ("Conv2d_0a_1x1", "Conv2d_1a_3x3"), ("Conv2d_0a_1x1", "Conv2d_0b_1x7", "Conv2d_0c_7x1", "Conv2d_1a_3x3")
        )
    ),
    *(f"Mixed_5a/{layer}" for layer in _branches(("Conv2d_1a_3x3",))),
)
_V4_A = _branches(
    ("Conv2d_0a_1x1",),
    ("Conv2d_0a_1x1", "Conv2d_0b_3x3"),
    ("Conv2d_0a_1x1", "Conv2d_0b_3x3", "Conv2d_0c_3x3"),
    ("Conv2d_0b_1x1",),
)
_V4_REDUCTION_A = _branches(("Conv2d_1a_3x3",), ("Conv2d_0a_1x1", "Conv2d_0b_3x3", "Conv2d_1a_3x3"))
_V4_B = _branches(
    ("Conv2d_0a_1x1",),
    ("Conv2d_0a_1x1", "Conv2d_0b_1x7", "Conv2d_0c_7x1"),
    ("Conv2d_0a_1x1", "Conv2d_0b_7x1", "Conv2d_0c_1x7", "Conv2d_0d_7x1", "Conv2d_0e_1x7"),
    ("Conv2d_0b_1x1",),
)
_V4_AUX = ("Conv2d_1b_1x1", "Conv2d_2a", "Aux_logits")
_V4_REDUCTION_B = _branches(
    ("Conv2d_0a_1x1", "Conv2d_1a_3x3"), ("Conv2d_0a_1x1", "Conv2d_0b_1x7", "Conv2d_0c_7x1", "Conv2d_1a_3x3")
)
_V4_C = _branches(
    ("Conv2d_0a_1x1",),
    ("Conv2d_0a_1x1", "Conv2d_0b_1x3", "Conv2d_0c_3x1"),
    ("Conv2d_0a_1x1", "Conv2d_0b_3x1", "Conv2d_0c_1x3", "Conv2d_0d_1x3", "Conv2d_0e_3x1"),
    ("Conv2d_0b_1x1",),
)

# Inception-ResNet-v2 (nets/inception_resnet_v2.py): `slim.repeat` puts the residual blocks under
# Repeat/block35_<1..10>, Repeat_1/block17_<1..20> and Repeat_2/block8_<1..9>; the last one is Block8.
_IRV2_5B = _branches(
    ("Conv2d_1x1",),
    ("Conv2d_0a_1x1", "Conv2d_0b_5x5"),
    ("Conv2d_0a_1x1", "Conv2d_0b_3x3", "Conv2d_0c_3x3"),
    ("Conv2d_0b_1x1",),
)
_IRV2_BLOCK35 = (
    *_branches(
        ("Conv2d_1x1",), ("Conv2d_0a_1x1", "Conv2d_0b_3x3"), ("Conv2d_0a_1x1", "Conv2d_0b_3x3", "Conv2d_0c_3x3")
    ),
    "Conv2d_1x1",
)
_IRV2_6A = _branches(("Conv2d_1a_3x3",), ("Conv2d_0a_1x1", "Conv2d_0b_3x3", "Conv2d_1a_3x3"))
_IRV2_BLOCK17 = (*_branches(("Conv2d_1x1",), ("Conv2d_0a_1x1", "Conv2d_0b_1x7", "Conv2d_0c_7x1")), "Conv2d_1x1")
_IRV2_AUX = ("Conv2d_1b_1x1", "Conv2d_2a_5x5", "Logits")
_IRV2_7A = _branches(
    ("Conv2d_0a_1x1", "Conv2d_1a_3x3"),
    ("Conv2d_0a_1x1", "Conv2d_1a_3x3"),
    ("Conv2d_0a_1x1", "Conv2d_0b_3x3", "Conv2d_1a_3x3"),
)
_IRV2_BLOCK8 = (*_branches(("Conv2d_1x1",), ("Conv2d_0a_1x1", "Conv2d_0b_1x3", "Conv2d_0c_3x1")), "Conv2d_1x1")

# Inception-v2 (nets/inception_v2.py), BN-Inception. Its first conv is a separable one (two Flax layers, whose
# variables `_SEPARABLE` names) or, in checkpoints built with `use_separable_conv=False`, a plain conv + BN.
_V2_STEM = ("Conv2d_2b_1x1", "Conv2d_2c_3x3")
_V2_MODULE = _branches(
    ("Conv2d_0a_1x1",),
    ("Conv2d_0a_1x1", "Conv2d_0b_3x3"),
    ("Conv2d_0a_1x1", "Conv2d_0b_3x3", "Conv2d_0c_3x3"),
    ("Conv2d_0b_1x1",),
)
_V2_REDUCTION = _branches(("Conv2d_0a_1x1", "Conv2d_1a_3x3"), ("Conv2d_0a_1x1", "Conv2d_0b_3x3", "Conv2d_1a_3x3"))
_DEPTHWISE, _POINTWISE = "Conv2d_1a_7x7/depthwise", "Conv2d_1a_7x7/pointwise"
_SEPARABLE = {
    _DEPTHWISE: {"kernel": "Conv2d_1a_7x7/depthwise_weights"},
    _POINTWISE: {"kernel": "Conv2d_1a_7x7/pointwise_weights", "bias": "Conv2d_1a_7x7/biases"},
}

# Inception-v1 (nets/inception_v1.py), BN-GoogLeNet; Mixed_5b names its third branch's 3×3 `Conv2d_0a_3x3`.
_V1_STEM = ("Conv2d_1a_7x7", "Conv2d_2b_1x1", "Conv2d_2c_3x3")
_V1_MODULE = _branches(
    ("Conv2d_0a_1x1",), ("Conv2d_0a_1x1", "Conv2d_0b_3x3"), ("Conv2d_0a_1x1", "Conv2d_0b_3x3"), ("Conv2d_0b_1x1",)
)
_V1_5B = _branches(
    ("Conv2d_0a_1x1",), ("Conv2d_0a_1x1", "Conv2d_0b_3x3"), ("Conv2d_0a_1x1", "Conv2d_0a_3x3"), ("Conv2d_0b_1x1",)
)


def _in(block: str, layers: tuple[str, ...]) -> list[str]:
    return [f"{block}/{layer}" for layer in layers]


# Each network's scopes up to the classifier, for the Flax network `module`.
def _v3_scopes(module) -> list[str]:
    scopes = [
        *_V3_STEM,
        *_in("Mixed_5b", _V3_5B),
        *_in("Mixed_5c", _V3_5C),
        *_in("Mixed_5d", _V3_5B),
        *_in("Mixed_6a", _V3_6A),
    ]
    for letter in "bcde":
        scopes += _in(f"Mixed_6{letter}", _V3_6B)
    if module.aux_head:
        scopes += _in("AuxLogits", _V3_AUX)
    return [*scopes, *_in("Mixed_7a", _V3_7A), *_in("Mixed_7b", _V3_7B), *_in("Mixed_7c", _V3_7C)]


def _v4_scopes(module) -> list[str]:
    scopes = list(_V4_STEM)
    for letter in "bcde":
        scopes += _in(f"Mixed_5{letter}", _V4_A)
    scopes += _in("Mixed_6a", _V4_REDUCTION_A)
    for letter in "bcdefgh":
        scopes += _in(f"Mixed_6{letter}", _V4_B)
    if module.aux_head:
        scopes += _in("AuxLogits", _V4_AUX)
    scopes += _in("Mixed_7a", _V4_REDUCTION_B)
    for letter in "bcd":
        scopes += _in(f"Mixed_7{letter}", _V4_C)
    return scopes


def _irv2_scopes(module) -> list[str]:
    scopes = [*_V3_STEM, *_in("Mixed_5b", _IRV2_5B)]
    for i in range(1, 11):
        scopes += _in(f"Repeat/block35_{i}", _IRV2_BLOCK35)
    scopes += _in("Mixed_6a", _IRV2_6A)
    for i in range(1, 21):
        scopes += _in(f"Repeat_1/block17_{i}", _IRV2_BLOCK17)
    if module.aux_head:
        scopes += _in("AuxLogits", _IRV2_AUX)
    scopes += _in("Mixed_7a", _IRV2_7A)
    for i in range(1, 10):
        scopes += _in(f"Repeat_2/block8_{i}", _IRV2_BLOCK8)
    return [*scopes, *_in("Block8", _IRV2_BLOCK8), "Conv2d_7b_1x1"]


def _v2_scopes(module) -> list[str]:
    stem = [_DEPTHWISE, _POINTWISE] if module.separable_stem else ["Conv2d_1a_7x7"]
    scopes = [*stem, *_V2_STEM]
    for block in (
        "Mixed_3b",
        "Mixed_3c",
        "Mixed_4a",
        "Mixed_4b",
        "Mixed_4c",
        "Mixed_4d",
        "Mixed_4e",
        "Mixed_5a",
        "Mixed_5b",
        "Mixed_5c",
    ):
        scopes += _in(block, _V2_REDUCTION if block in ("Mixed_4a", "Mixed_5a") else _V2_MODULE)
    return scopes


def _v1_scopes(module) -> list[str]:
    scopes = list(_V1_STEM)
    for block in (
        "Mixed_3b",
        "Mixed_3c",
        "Mixed_4b",
        "Mixed_4c",
        "Mixed_4d",
        "Mixed_4e",
        "Mixed_4f",
        "Mixed_5b",
        "Mixed_5c",
    ):
        scopes += _in(block, _V1_5B if block == "Mixed_5b" else _V1_MODULE)
    return scopes


_LAYER_SCOPES = {
    "inception_v3": _v3_scopes,
    "inception_v4": _v4_scopes,
    "inception_resnet_v2": _irv2_scopes,
    "bn_inception": _v2_scopes,
    "googlenet": _v1_scopes,
}
_CLASSIFIERS = {
    "inception_v3": "Logits/Conv2d_1c_1x1",
    "inception_v4": "Logits/Logits",
    "inception_resnet_v2": "Logits/Logits",
    "bn_inception": "Logits/Conv2d_1c_1x1",
    "googlenet": "Logits/Conv2d_0c_1x1",
}
# The classifiers that are 1×1 convs in slim (all but v4's and IR-v2's).
_CONV_CLASSIFIERS = {"Logits/Conv2d_1c_1x1", "AuxLogits/Conv2d_2b_1x1", "Logits/Conv2d_0c_1x1"}


def slim_layer_scopes(model_name: str, module) -> list[str]:
    """slim's variable scopes of the layers of `module` (a `model_name` network), with the network scope, in the
    order Flax runs them."""
    _check_supported(model_name)
    scopes = _LAYER_SCOPES[model_name](module) + ([_CLASSIFIERS[model_name]] if module.num_classes else [])
    return [f"{_SCOPES[model_name]}/{scope}" for scope in scopes]


def _options(model_name: str, stored: dict[str, tuple]) -> dict:
    """The `create_model` options a network's checkpoint implies, besides the class count and aux head."""
    if model_name == "bn_inception":
        return {"separable_stem": f"InceptionV2/{_SEPARABLE[_DEPTHWISE]['kernel']}" in stored}
    if model_name == "googlenet":
        return dict(googlenet.SLIM_OPTIONS)
    return {}


def _check_supported(model_name: str) -> None:
    if model_name not in _SCOPES:
        raise ValueError(f"slim has no checkpoints of {model_name!r} here; supported: {', '.join(_SCOPES)}.")


def from_slim(model_name: str, checkpoint_path: str | os.PathLike, keep_background: bool = False, input_overrides=None):
    """Builds the Flax network for a TF-slim checkpoint and converts its weights.

    Args:
      model_name: "inception_v3", "inception_v4", "inception_resnet_v2", "bn_inception" (slim's `inception_v2`)
        or "googlenet" (slim's `inception_v1`, BN-GoogLeNet).
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
        import tensorflow as tf  # noqa: PLC0415  (TensorFlow only when converting slim checkpoints)
    except ImportError as error:
        raise ImportError("Reading TF-slim checkpoints needs TensorFlow: pip install tensorflow-cpu") from error

    _check_supported(model_name)
    path = os.fspath(checkpoint_path)
    try:
        reader = tf.train.load_checkpoint(path)
    except (tf.errors.OpError, ValueError) as error:
        raise ValueError(f"Cannot read the slim checkpoint {path}: {error.args[0] if error.args else error}") from None
    scope = _SCOPES[model_name]
    everything = reader.get_variable_to_shape_map()
    stored = {name: tuple(shape) for name, shape in everything.items() if name.startswith(f"{scope}/")}

    logits = f"{scope}/{_CLASSIFIERS[model_name]}"
    classes = stored.get(f"{logits}/biases", stored.get(f"{logits}/weights", (0,)))[-1]
    background = int(classes == _CLASSES_WITH_BACKGROUND and not keep_background)
    aux_head = any(name.startswith(f"{scope}/AuxLogits/") for name in stored)
    options = dict(
        _options(model_name, stored),
        num_classes=classes - background,
        aux_head=aux_head,
        bn_use_scale=any(name.endswith("/BatchNorm/gamma") for name in stored),
    )
    module = create_model(model_name, **options)
    layers = weight_layers(module)
    scopes = slim_layer_scopes(model_name, module)
    if len(layers) != len(scopes):
        raise RuntimeError(
            f"The Flax network runs {len(layers)} weight layers but the slim table lists "
            f"{len(scopes)}; inception_jax.convert.slim is out of date with the model code."
        )

    per_layer = [_stored_shapes(layer, layer_scope, background) for layer, layer_scope in zip(layers, scopes)]
    expected = {name: shape for layer_shapes in per_layer for name, shape in layer_shapes.items()}
    # Optimizer slots and moving averages are named after the variable they belong to.
    weights = {name: shape for name, shape in stored.items() if name.rsplit("/", 1)[0] not in expected}
    top_scopes = sorted({name.split("/", 1)[0] for name in everything if "/" in name})
    check_shapes(
        f"slim checkpoint {path} read as {model_name}",
        expected,
        weights,
        f"Pass a checkpoint of slim's {model_name}, whose variables are under {scope}/ "
        f"(this one has scopes: {', '.join(top_scopes) or 'none'}).",
    )
    try:  # every array read before any variable is built: a damaged file converts nothing
        arrays = [
            {
                field: _to_flax(layer, field, reader.get_tensor(name), background)
                for field, name in zip(layer.shapes, layer_shapes)
            }
            for layer, layer_shapes in zip(layers, per_layer)
        ]
    except (tf.errors.OpError, IndexError, ValueError) as error:  # a truncated data file: "Read less bytes ..."
        raise ValueError(
            f"Cannot read the slim checkpoint {path}: it is damaged ({error}). Nothing was converted."
        ) from None
    input_spec = INCEPTION_INPUT.replace(image_size=module.default_size, **(input_overrides or {}))
    return module, to_variables(layers, arrays), ModelSpec.of_module(model_name, module, input_spec)


def _stored_shapes(layer: WeightLayer, scope: str, background: int) -> dict[str, tuple[int, ...]]:
    """The checkpoint's variable names and shapes for one layer, in the order of the layer's Flax fields."""
    network, below = scope.split("/", 1)
    shapes = {}
    for field, shape in layer.shapes.items():
        name = f"{scope}/{_SUFFIXES[layer.kind][field]}"
        if layer.kind == "dense":
            shape = (*shape[:-1], shape[-1] + background)
            if field == "kernel" and below in _CONV_CLASSIFIERS:
                shape = (1, 1, *shape)
        elif below in _SEPARABLE:
            name = f"{network}/{_SEPARABLE[below][field]}"
            if below == _DEPTHWISE:  # (h, w, 1, 3·multiplier) → (h, w, 3, multiplier): one filter bank per RGB
                shape = (*shape[:2], 3, shape[3] // 3)
        shapes[name] = shape
    return shapes


def _to_flax(layer: WeightLayer, field: str, array: np.ndarray, background: int) -> np.ndarray:
    if layer.kind == "dense":
        return array.reshape(-1, array.shape[-1])[..., background:] if array.ndim > 1 else array[background:]
    # A depthwise kernel's outputs are ordered (input channel, multiplier), as a grouped conv's are.
    return array.reshape(layer.shapes[field])
